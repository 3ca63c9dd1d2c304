/* console.h -- the console's sign-in routes (GitLab OAuth 2.0 code flow with PKCE):
 *
 *   GET  /ui/login[?next=/ui/...]  302 to {gitlab.url}/oauth/authorize (state + S256 challenge)
 *   GET  /ui/callback?code=&state= the state used once, the code exchanged, userinfo read; a
 *                                  member of console.allow_groups gets a session cookie and a
 *                                  302 to next (else /ui/); anyone else a 403 page saying why
 *   GET  /ui/session               200 {username, name, groups, csrf_token, expires_at}; 401
 *   POST /ui/logout                X-CSRF-Token; ends the session, clears the cookie
 *
 * Registered before the pages' /ui/ prefix (h2o takes the first match). API pool threads.
 */
#ifndef TG_CONSOLE_H
#define TG_CONSOLE_H

#include "api/api.h"
#include "http/server.h"

/* Registers the four routes on the pool (answering 404 while console: is not configured). */
void tg_console_register(struct tg_server *s, struct tg_api_pool *p);

#endif
