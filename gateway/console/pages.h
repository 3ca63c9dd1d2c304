/* pages.h -- GET /ui/ and /ui/assets/NAME: the console's pages, served from memory.
 *
 * The pages are a small single-page app (console/index.html, app.js, app.css) that calls
 * the /api/v1 routes and /ui/session with the session cookie; this module only serves the
 * files, with the security headers every /ui/ answer carries. Loop threads.
 */
#ifndef TG_CONSOLE_PAGES_H
#define TG_CONSOLE_PAGES_H

#include "http/server.h"

#include <h2o.h>

/* The Content-Security-Policy of every /ui/ answer: scripts and styles from this origin only
 * (no inline ones), no plugins, no framing, no <base>. */
#define TG_CONSOLE_CSP                                                                             \
    "default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "           \
    "base-uri 'none'"

/* Registers /ui/ (the app) and /ui/assets/ (its files). h2o takes the first registered path
 * that matches, so register the other /ui/... routes (sign-in, session) BEFORE this one. */
void tg_console_pages_register(struct tg_server *s);

/* Adds the console's security headers (CSP, X-Content-Type-Options, Referrer-Policy,
 * X-Frame-Options) to the answer about to be sent; for every /ui/ route. Loop thread. */
void tg_console_security_headers(h2o_req_t *req);

#endif
