/* session.h -- the console's records in Redis, owned here: sign-in states and sessions.
 *
 *   <prefix>console:state:<sha256 hex of state>     JSON {verifier, browser, next, created}
 *       SET NX EX 600 at /ui/login; GETDEL at /ui/callback: a state is used once
 *   <prefix>console:logins:<unix minute>:<sha256 hex of client address>  INCR at /ui/login,
 *       EXPIRE 120: sign-ins one client address started this minute (at most
 *       TG_CONSOLE_LOGINS_PER_ADDRESS, so strangers cannot fill Redis with states)
 *   <prefix>console:logins:<unix minute>            INCR at /ui/login for a sign-in within its
 *       address's cap, EXPIRE 120: the global safety net (TG_CONSOLE_LOGINS_PER_MINUTE), which
 *       one address cannot use up
 *   <prefix>console:session:<sha256 hex of id>      JSON {username, name, groups, csrf_token,
 *       created, expires} SET EX session_ttl at sign-in; DEL at sign-out; read on the loops
 *       (console_auth.h, api.c)
 *
 * Key names carry hashes only: the state, the id and the CSRF token never appear in a key, a
 * log line or an audit record. Blocking calls: API pool threads.
 */
#ifndef TG_CONSOLE_SESSION_H
#define TG_CONSOLE_SESSION_H

#include "base/config.h"
#include "base/crypto.h"
#include "console/console_auth.h"
#include "console/oauth.h"

#include <hiredis.h>

#define TG_CONSOLE_STATE_TTL_S        600
#define TG_CONSOLE_NEXT_MAX           512
#define TG_CONSOLE_LOGINS_PER_MINUTE  10000
#define TG_CONSOLE_LOGINS_PER_ADDRESS 30

/* One sign-in in progress, as /ui/login leaves it for /ui/callback. */
struct tg_console_signin {
    char verifier[TG_CONSOLE_TOKEN_LEN + 1]; /* the PKCE code_verifier */
    char browser[TG_SHA256_HEX_LEN + 1];     /* SHA-256 hex of the login cookie's value: the
                                                browser that started it (RFC 6749 10.12) */
    char next[TG_CONSOLE_NEXT_MAX + 1];      /* a console path (tg_console_next_ok) */
    char client[64]; /* the client address (forwarded as the server computes it): counted, not
                        stored */
};

/* Remembers the sign-in of state. Returns 0, -1 when Redis failed, -2 when s->client started
 * TG_CONSOLE_LOGINS_PER_ADDRESS sign-ins this minute already, or all clients together
 * TG_CONSOLE_LOGINS_PER_MINUTE (all replicas). */
int tg_console_state_put(redisContext *rc, const char *prefix, const char *state,
                         const struct tg_console_signin *s);
/* Takes (and deletes) the sign-in of state into out. Returns 1, 0 when there is none (unknown,
 * used, expired), -1 when Redis failed. */
int tg_console_state_take(redisContext *rc, const char *prefix, const char *state,
                          struct tg_console_signin *out);

/* Opens a session for u, expiring after console.session_ttl: its id into id (the cookie's
 * value) and the record into out. Returns 0, or -1 (Redis, or no randomness). */
int tg_console_session_open(redisContext *rc, const struct tg_config *cfg,
                            const struct tg_oauth_user *u, char id[TG_CONSOLE_TOKEN_LEN + 1],
                            struct tg_console_session *out);
/* Ends session id. Returns 0 (also when it was gone already), -1 when Redis failed. */
int tg_console_session_close(redisContext *rc, const char *prefix, const char *id);

/* 1 when next is a same-origin console path Tollgate may send a signed-in browser to:
 * starts with "/ui/", no "//", no backslash, no control byte, at most TG_CONSOLE_NEXT_MAX. */
int tg_console_next_ok(const char *next);

#endif
