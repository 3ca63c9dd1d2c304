/* oauth.h -- GitLab as OAuth 2.0 / OpenID Connect provider: PKCE (RFC 7636), the authorize
 * URL, the code exchange at /oauth/token and the claims of /oauth/userinfo.
 *
 * The exchanges are blocking libcurl calls made on API pool threads, never on a loop. No
 * secret (client_secret, code, verifier, access token) is ever logged or put into err.
 */
#ifndef TG_OAUTH_H
#define TG_OAUTH_H

#include "base/config.h"
#include "console/console_auth.h"

#include <stddef.h>

/* n random bytes from the kernel (getrandom); 0, or -1 when it cannot give them. */
int tg_oauth_random(unsigned char *out, size_t n);
/* A fresh token: 32 random bytes in base64url without padding (43 chars + NUL). 0 or -1. */
int tg_oauth_token(char out[TG_CONSOLE_TOKEN_LEN + 1]);
/* base64url without padding (RFC 4648 section 5) of n bytes into out (4 * ceil(n / 3) + 1). */
size_t tg_oauth_base64url(const unsigned char *p, size_t n, char *out);
/* The S256 code_challenge of verifier: BASE64URL(SHA256(ASCII(verifier))) (RFC 7636 4.2). */
void tg_oauth_challenge(const char *verifier, char out[TG_CONSOLE_TOKEN_LEN + 1]);

/* {gitlab.url}/oauth/authorize?response_type=code&client_id=..&redirect_uri=
 * {public_url}/ui/callback&scope=openid%20profile&state=..&code_challenge=..
 * &code_challenge_method=S256; caller frees. */
char *tg_oauth_authorize_url(const struct tg_config *cfg, const char *state, const char *challenge);

/* Who signed in, from /oauth/userinfo. */
struct tg_oauth_user {
    char *username;    /* nickname, else preferred_username */
    long long user_id; /* the sub claim: GitLab's user id, as a decimal string; 0 when not one */
    char *name;
    char **groups; /* NULL-terminated full paths (the "groups" claim) */
};
void tg_oauth_user_dispose(struct tg_oauth_user *u);

/* An authorization code grant (RFC 6749 4.1, with PKCE: RFC 7636): the code GitLab sent to
 * the redirect URI and the sign-in's code_verifier. Borrowed. */
struct tg_oauth_grant {
    const char *code;
    const char *verifier;
};

/* Exchanges g at /oauth/token, then reads /oauth/userinfo with the access token. Returns 0
 * with u filled, or -1 with a reason fit for the person signing in in err (GitLab's answer
 * status and error name, never a secret). */
int tg_oauth_sign_in(const struct tg_config *cfg, const struct tg_oauth_grant *g,
                     struct tg_oauth_user *u, char *err, size_t errlen);

/* Parses a userinfo answer into u: 0, or -1 with err (not JSON, no username). */
int tg_oauth_parse_userinfo(const char *body, size_t len, struct tg_oauth_user *u, char *err,
                            size_t errlen);

/* 1 when one of groups is in allow (exact full paths, case-insensitive as GitLab paths are). */
int tg_oauth_group_allowed(char *const *groups, char *const *allow);

#endif
