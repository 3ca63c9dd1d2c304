/* console_auth.c -- cookie, session record and CSRF checks (console_auth.h). Any thread. */
#include "console/console_auth.h"
#include "base/crypto.h"
#include "base/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COOKIE      "tollgate_session"
#define HOST_COOKIE "__Host-tollgate_session"
#define LOGIN       "tollgate_login"
#define HOST_LOGIN  "__Host-tollgate_login"

static int https(const struct tg_config *cfg)
{
    const char *u = cfg->console.public_url;
    return u && strncmp(u, "https://", 8) == 0;
}

const char *tg_console_cookie_name(const struct tg_config *cfg)
{
    return https(cfg) ? HOST_COOKIE : COOKIE;
}

const char *tg_console_login_cookie_name(const struct tg_config *cfg)
{
    return https(cfg) ? HOST_LOGIN : LOGIN;
}

static int base64url_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

int tg_console_cookie(const char *header, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = header; p && *p;) {
        p += strspn(p, " \t");
        size_t n = strcspn(p, ";");
        if (n > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *v = p + nl + 1;
            size_t vl = n - nl - 1;
            while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                vl--;
            if (vl == 0 || vl >= outlen)
                return -1;
            for (size_t i = 0; i < vl; i++)
                if (!base64url_char((unsigned char)v[i]))
                    return -1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return 0;
        }
        p += n + (p[n] == ';');
    }
    return -1;
}

void tg_console_session_key(const char *prefix, const char *id, char *out, size_t outlen)
{
    char hex[TG_SHA256_HEX_LEN + 1];
    tg_sha256_hex(id, strlen(id), hex);
    snprintf(out, outlen, "%sconsole:session:%s", prefix, hex);
}

static char **strv_of(json_t *a)
{
    char **v = tg_xcalloc(json_array_size(a) + 1, sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < json_array_size(a); i++)
        if (json_is_string(json_array_get(a, i)))
            v[k++] = tg_xstrdup(json_string_value(json_array_get(a, i)));
    return v;
}

int tg_console_session_parse(const char *json, size_t len, uint64_t now_ms,
                             struct tg_console_session *out)
{
    json_t *j = json_loadb(json, len, 0, NULL);
    const char *user = json_string_value(json_object_get(j, "username"));
    const char *csrf = json_string_value(json_object_get(j, "csrf_token"));
    json_t *expires = json_object_get(j, "expires"), *groups = json_object_get(j, "groups");
    memset(out, 0, sizeof *out);
    int ok = user && *user && csrf && strlen(csrf) == TG_CONSOLE_TOKEN_LEN &&
             json_is_integer(expires) && (uint64_t)json_integer_value(expires) > now_ms &&
             (groups == NULL || json_is_array(groups));
    if (ok) {
        out->token.identity = tg_xstrdup(user);
        json_t *uid = json_object_get(j, "user_id");
        out->user_id = json_is_integer(uid) ? json_integer_value(uid) : 0;
        out->token.scopes = TG_SCOPE_READ | TG_SCOPE_APPROVE;
        const char *name = json_string_value(json_object_get(j, "name"));
        out->name = tg_xstrdup(name ? name : user);
        out->groups = strv_of(groups);
        memcpy(out->csrf, csrf, TG_CONSOLE_TOKEN_LEN + 1);
        out->created_ms = (uint64_t)json_integer_value(json_object_get(j, "created"));
        out->expires_ms = (uint64_t)json_integer_value(expires);
    }
    json_decref(j);
    return ok ? 0 : -1;
}

void tg_console_session_dispose(struct tg_console_session *s)
{
    free(s->token.identity);
    free(s->name);
    for (char **g = s->groups; g && *g; g++)
        free(*g);
    free(s->groups);
    memset(s, 0, sizeof *s);
}

void tg_console_session_free(struct tg_console_session *s)
{
    if (s == NULL)
        return;
    tg_console_session_dispose(s);
    free(s);
}

int tg_console_csrf_ok(const struct tg_console_session *s, const char *header)
{
    if (header == NULL || s->csrf[0] == '\0')
        return 0;
    return tg_ct_equal(header, strlen(header), s->csrf, strlen(s->csrf));
}

int tg_console_method_safe(const char *method)
{
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0 ||
           strcmp(method, "OPTIONS") == 0;
}
