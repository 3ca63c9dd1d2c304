/* oauth.c -- sign-in with GitLab: PKCE, the authorize URL, code exchange and userinfo
 * (oauth.h). API pool threads for the exchanges; the rest is pure.
 *
 * GitLab's contract (doc/integration/oauth_provider.md, doc/api/oauth2.md "Authorization code
 * with PKCE", doc/integration/openid_connect_provider.md): POST /oauth/token with client_id,
 * client_secret, code, grant_type=authorization_code, redirect_uri and code_verifier answers
 * {"access_token", "token_type", ...}; GET /oauth/userinfo with "Authorization: Bearer"
 * answers the claims sub, name, nickname, preferred_username, groups, ...
 */
#include "console/oauth.h"
#include "base/httpclient.h"
#include "console/gitlab_client.h"
#include "base/buf.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/util.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>

#define TG_MODULE "oauth"

int tg_oauth_random(unsigned char *out, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = getrandom(out + got, n - got, 0);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

size_t tg_oauth_base64url(const unsigned char *p, size_t n, char *out)
{
    size_t len = tg_base64_encode(p, n, out);
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
    for (size_t i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    return len;
}

int tg_oauth_token(char out[TG_CONSOLE_TOKEN_LEN + 1])
{
    unsigned char b[32];
    char tmp[48];
    if (tg_oauth_random(b, sizeof b))
        return -1;
    tg_oauth_base64url(b, sizeof b, tmp);
    memcpy(out, tmp, TG_CONSOLE_TOKEN_LEN + 1);
    explicit_bzero(b, sizeof b);
    explicit_bzero(tmp, sizeof tmp);
    return 0;
}

void tg_oauth_challenge(const char *verifier, char out[TG_CONSOLE_TOKEN_LEN + 1])
{
    unsigned char d[TG_SHA256_LEN];
    char tmp[48];
    tg_sha256(verifier, strlen(verifier), d);
    tg_oauth_base64url(d, sizeof d, tmp);
    memcpy(out, tmp, TG_CONSOLE_TOKEN_LEN + 1);
}

static char *redirect_uri(const struct tg_config *cfg)
{
    return tg_xasprintf("%s/ui/callback", cfg->console.public_url);
}

char *tg_oauth_authorize_url(const struct tg_config *cfg, const char *state, const char *challenge)
{
    char *client = tg_xstrndup(cfg->console.client_id.value ? cfg->console.client_id.value : "",
                               cfg->console.client_id.len);
    char *id = tg_httpc_escape(client), *uri = redirect_uri(cfg), *ru = tg_httpc_escape(uri);
    char *url = tg_xasprintf("%s/oauth/authorize?response_type=code&client_id=%s&redirect_uri=%s"
                             "&scope=openid%%20profile&state=%s&code_challenge=%s"
                             "&code_challenge_method=S256",
                             cfg->gitlab.url, id, ru, state, challenge);
    free(client), free(id), free(uri), free(ru);
    return url;
}

void tg_oauth_user_dispose(struct tg_oauth_user *u)
{
    free(u->username);
    free(u->name);
    for (char **g = u->groups; g && *g; g++)
        free(*g);
    free(u->groups);
    memset(u, 0, sizeof *u);
}

int tg_oauth_parse_userinfo(const char *body, size_t len, struct tg_oauth_user *u, char *err,
                            size_t errlen)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *nick = json_string_value(json_object_get(j, "nickname"));
    const char *pref = json_string_value(json_object_get(j, "preferred_username"));
    const char *name = json_string_value(json_object_get(j, "name"));
    json_t *groups = json_object_get(j, "groups");
    const char *user = nick && *nick ? nick : pref;
    memset(u, 0, sizeof *u);
    if (!json_is_object(j) || user == NULL || *user == '\0') {
        snprintf(err, errlen, "GitLab's userinfo named no user (nickname, preferred_username)");
        json_decref(j);
        return -1;
    }
    const char *sub = json_string_value(json_object_get(j, "sub"));
    long long id = 0;
    u->user_id = sub && tg_parse_int(sub, 1, LLONG_MAX, &id) == 0 ? id : 0;
    u->username = tg_xstrdup(user);
    u->name = tg_xstrdup(name ? name : user);
    u->groups = tg_xcalloc(json_array_size(groups) + 1, sizeof *u->groups);
    size_t k = 0;
    for (size_t i = 0; i < json_array_size(groups); i++)
        if (json_is_string(json_array_get(groups, i)))
            u->groups[k++] = tg_xstrdup(json_string_value(json_array_get(groups, i)));
    json_decref(j);
    return 0;
}

int tg_oauth_group_allowed(char *const *groups, char *const *allow)
{
    for (; groups && *groups; groups++)
        for (char *const *a = allow; a && *a; a++)
            if (strcasecmp(*groups, *a) == 0)
                return 1;
    return 0;
}

/* ---- the two exchanges ---- */

/* GitLab's OAuth error name ({"error": "invalid_grant", ...}), a fixed vocabulary. */
static void oauth_error(const struct tg_gitlab_answer *a, long status, const char *what, char *err,
                        size_t errlen)
{
    json_t *j = json_loadb(a->body.data ? a->body.data : "", a->body.len, 0, NULL);
    const char *e = json_string_value(json_object_get(j, "error"));
    int plain = e && strspn(e, "abcdefghijklmnopqrstuvwxyz_") == strlen(e) && strlen(e) < 40;
    snprintf(err, errlen, "GitLab refused the %s: HTTP %ld%s%s", what, status, plain ? " " : "",
             plain ? e : "");
    json_decref(j);
}

static char *token_form(const struct tg_config *cfg, const char *code, const char *verifier)
{
    const struct tg_console_config *cc = &cfg->console;
    char *id = tg_xstrndup(cc->client_id.value, cc->client_id.len);
    char *secret = tg_xstrndup(cc->client_secret.value, cc->client_secret.len);
    char *uri = redirect_uri(cfg);
    char *e[] = {tg_httpc_escape(id), tg_httpc_escape(secret), tg_httpc_escape(code),
                 tg_httpc_escape(uri), tg_httpc_escape(verifier)};
    char *form = tg_xasprintf("grant_type=authorization_code&client_id=%s&client_secret=%s"
                              "&code=%s&redirect_uri=%s&code_verifier=%s",
                              e[0], e[1], e[2], e[3], e[4]);
    explicit_bzero(secret, strlen(secret));
    explicit_bzero(e[1], strlen(e[1]));
    for (size_t i = 0; i < TG_ARRAY_SIZE(e); i++)
        free(e[i]);
    free(id);
    free(secret);
    free(uri);
    return form;
}

/* The access token from /oauth/token into a heap string, or NULL with err. */
static char *access_token(const struct tg_config *cfg, const char *code, const char *verifier,
                          char *err, size_t errlen)
{
    struct tg_gitlab_answer a = {0};
    char *form = token_form(cfg, code, verifier);
    char *url = tg_xasprintf("%s/oauth/token", cfg->gitlab.url);
    char *token = NULL;
    tg_buf_init(&a.body);
    struct tg_gitlab_call call = {.url = url, .form = form};
    long status = tg_gitlab_exchange(cfg, &call, &a, err, errlen);
    explicit_bzero(form, strlen(form));
    free(form);
    free(url);
    json_t *j = status == 200 ? json_loadb(a.body.data, a.body.len, 0, NULL) : NULL;
    const char *t = json_string_value(json_object_get(j, "access_token"));
    if (t && *t)
        token = tg_xstrdup(t);
    else if (status == 200)
        snprintf(err, errlen, "GitLab's token answer held no access_token");
    else if (status)
        oauth_error(&a, status, "code exchange", err, errlen);
    json_decref(j);
    if (a.body.data)
        explicit_bzero(a.body.data, a.body.len);
    tg_buf_dispose(&a.body);
    return token;
}

int tg_oauth_sign_in(const struct tg_config *cfg, const struct tg_oauth_grant *g,
                     struct tg_oauth_user *u, char *err, size_t errlen)
{
    struct tg_gitlab_answer a = {0};
    memset(u, 0, sizeof *u);
    char *token = access_token(cfg, g->code, g->verifier, err, errlen);
    if (token == NULL)
        return -1;
    char *url = tg_xasprintf("%s/oauth/userinfo", cfg->gitlab.url);
    tg_buf_init(&a.body);
    char *auth = tg_xasprintf("Authorization: Bearer %s", token);
    struct tg_gitlab_call call = {.url = url, .header = auth};
    long status = tg_gitlab_exchange(cfg, &call, &a, err, errlen);
    explicit_bzero(auth, strlen(auth));
    free(auth);
    int rc = -1;
    if (status == 200 && !a.over)
        rc = tg_oauth_parse_userinfo(a.body.data ? a.body.data : "", a.body.len, u, err, errlen);
    else if (status)
        oauth_error(&a, status, "userinfo request", err, errlen);
    explicit_bzero(token, strlen(token));
    free(token);
    free(url);
    tg_buf_dispose(&a.body);
    return rc;
}
