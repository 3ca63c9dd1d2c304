/* console_auth.h -- what the event loop checks of a console request: the session cookie, the
 * session record read from Redis, and the CSRF header of a state-changing request.
 *
 * The browser holds only an opaque random id; Redis holds the record under the id's SHA-256
 * (the id itself is never a key, a log field or an audit value). Everything here is pure
 * parsing and comparing, so it runs on the loops (api.c) as well as on pool threads.
 */
#ifndef TG_CONSOLE_AUTH_H
#define TG_CONSOLE_AUTH_H

#include "base/config.h"

#include <stddef.h>
#include <stdint.h>

/* A session id, CSRF token, OAuth state or PKCE verifier: 32 random bytes in base64url. */
#define TG_CONSOLE_TOKEN_LEN 43

/* A signed-in person, as the session record holds them. */
struct tg_console_session {
    struct tg_api_token token; /* identity = username, scopes read + approve */
    long long user_id;         /* GitLab's user id (the OIDC sub claim); 0 unknown */
    char *name;
    char **groups; /* NULL-terminated */
    char csrf[TG_CONSOLE_TOKEN_LEN + 1];
    uint64_t created_ms, expires_ms;
};

/* The cookie's name: "__Host-tollgate_session" when the console's public_url is https (the
 * cookie is then Secure), else "tollgate_session". */
const char *tg_console_cookie_name(const struct tg_config *cfg);

/* The login cookie that binds a sign-in to the browser that started it: the same prefix and
 * flags, "tollgate_login" (or "__Host-tollgate_login"). */
const char *tg_console_login_cookie_name(const struct tg_config *cfg);

/* The value of cookie name in a Cookie header (RFC 6265 section 5.4: "a=b; c=d") into out.
 * Returns 0, or -1 when absent, empty, longer than outlen - 1, or holding a byte outside the
 * base64url alphabet (the only values Tollgate issues). */
int tg_console_cookie(const char *header, const char *name, char *out, size_t outlen);

/* The Redis key of session id: <prefix>console:session:<hex SHA-256 of id>. */
void tg_console_session_key(const char *prefix, const char *id, char *out, size_t outlen);

/* Parses a stored session record (JSON: username, name, groups, csrf_token, created,
 * expires in ms). Returns 0 when it is well formed and now_ms is before expires, -1
 * otherwise (out is left empty). Release with tg_console_session_free. */
int tg_console_session_parse(const char *json, size_t len, uint64_t now_ms,
                             struct tg_console_session *out);
void tg_console_session_dispose(struct tg_console_session *s);
/* Heap copies for a request: tg_console_session_free(NULL) does nothing. */
void tg_console_session_free(struct tg_console_session *s);

/* 1 when header (X-CSRF-Token, may be NULL) equals the session's token, compared in constant
 * time; else 0. */
int tg_console_csrf_ok(const struct tg_console_session *s, const char *header);

/* 1 for methods that change nothing (GET, HEAD, OPTIONS): no CSRF token needed. */
int tg_console_method_safe(const char *method);

#endif
