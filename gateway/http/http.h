/* http.h -- answering HTTP requests: JSON bodies, error objects, and tickets for answers
 * that arrive after an asynchronous step.
 *
 * Every answer goes through here so that each is counted (route, status, latency), carries
 * Content-Length (h2o 2.2.5 would otherwise drop HTTP/1.1 keep-alive) and, for errors, is
 * the JSON object {"error": ..., "detail": ...}. Loop-thread only.
 */
#ifndef TG_HTTP_H
#define TG_HTTP_H

#include "base/metrics.h"

#include <h2o.h>
#include <stddef.h>
#include <sys/time.h>

struct tg_loop;
struct tg_http_link;

/* A request waiting for an asynchronous answer. Embed it in the operation's own struct; the
 * ticket notices when the client goes away (req becomes NULL) so the answer is dropped
 * instead of touching freed memory. */
struct tg_http_ticket {
    h2o_req_t *req; /* NULL once the request is gone */
    struct tg_http_link *link;
    struct tg_loop *loop;
    enum tg_route route;
    struct timeval begin;
    int counted; /* in-flight accounting done */
    int gone;    /* set (atomically) when the client went away; other threads may poll it */
};

/* 1 once the ticket's client went away (connection closed, HTTP/2 stream reset). Any thread. */
int tg_http_ticket_gone(const struct tg_http_ticket *t);

/* Starts an answer-later request: counts it in flight until tg_http_ticket_reply. */
void tg_http_ticket_init(struct tg_http_ticket *t, h2o_req_t *req, enum tg_route route);
/* Sends the answer when the client is still there, then detaches the ticket from the
 * request; call exactly once. body is copied. The caller still owns (and frees) the
 * struct embedding the ticket. */
void tg_http_ticket_reply(struct tg_http_ticket *t, int status, const char *body, size_t len);
void tg_http_ticket_error(struct tg_http_ticket *t, int status, const char *error,
                          const char *detail);
/* The same with another content type (e.g. text/plain, application/x-ndjson). */
void tg_http_ticket_reply_typed(struct tg_http_ticket *t, int status, const char *content_type,
                                const char *body, size_t len);

/* An answer: status, content type and body (copied when sent). */
struct tg_http_answer {
    int status;
    const char *content_type;
    const char *body;
    size_t len;
};

/* Immediate answers (no asynchronous step), counted in the route's metrics. */
void tg_http_reply(h2o_req_t *req, enum tg_route route, const struct tg_http_answer *a);
void tg_http_error(h2o_req_t *req, enum tg_route route, int status, const char *error,
                   const char *detail);
/* Adds Retry-After: seconds to the answer about to be sent (503, 429). */
void tg_http_retry_after(h2o_req_t *req, int seconds);

/* Request header by lower-case name; {NULL, 0} when absent. */
h2o_iovec_t tg_http_header(h2o_req_t *req, const char *lcname);
/* 1 when the request method equals m. */
int tg_http_method_is(h2o_req_t *req, const char *m);
/* The peer's address as text into out ("-" when unknown). */
void tg_http_peer(h2o_req_t *req, char *out, size_t outlen);

#endif
