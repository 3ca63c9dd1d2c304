/* session.c -- sign-in states and sessions in Redis (session.h). API pool threads. */
#include "console/session.h"
#include "base/crypto.h"
#include "base/util.h"
#include "base/yamlfile.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void key_of(char *out, size_t outlen, const char *prefix, const char *what,
                   const char *value)
{
    char hex[TG_SHA256_HEX_LEN + 1];
    tg_sha256_hex(value, strlen(value), hex);
    snprintf(out, outlen, "%sconsole:%s:%s", prefix, what, hex);
}

/* SET key value EX ttl [NX]: 0 when set. */
static int set_ex(redisContext *rc, const char *key, const char *value, long long ttl_s, int nx)
{
    redisReply *r = nx ? redisCommand(rc, "SET %s %s EX %lld NX", key, value, ttl_s)
                       : redisCommand(rc, "SET %s %s EX %lld", key, value, ttl_s);
    int ok = r && r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* INCR key (EXPIRE 120 when new): the count, -1 when Redis failed. */
static long long incr(redisContext *rc, const char *key)
{
    redisReply *r = redisCommand(rc, "INCR %s", key);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    if (n == 1)
        freeReplyObject(redisCommand(rc, "EXPIRE %s 120", key));
    return n;
}

/* Counts a sign-in started this minute from client: 0 within the caps, -2 over one, -1 Redis
 * failed. Only a sign-in within its address's cap counts toward the global one, so one address
 * can never use more than TG_CONSOLE_LOGINS_PER_ADDRESS of the global safety net. */
static int count_login(redisContext *rc, const char *prefix, const char *client)
{
    char key[128], who[TG_SHA256_HEX_LEN + 1];
    unsigned long long minute = (unsigned long long)(tg_now_ms() / 60000);
    tg_sha256_hex(client, strlen(client), who);
    snprintf(key, sizeof key, "%sconsole:logins:%llu:%s", prefix, minute, who);
    long long n = incr(rc, key);
    if (n < 0 || n > TG_CONSOLE_LOGINS_PER_ADDRESS)
        return n < 0 ? -1 : -2;
    snprintf(key, sizeof key, "%sconsole:logins:%llu", prefix, minute);
    n = incr(rc, key);
    return n < 0 ? -1 : n > TG_CONSOLE_LOGINS_PER_MINUTE ? -2 : 0;
}

int tg_console_state_put(redisContext *rc, const char *prefix, const char *state,
                         const struct tg_console_signin *si)
{
    char key[256];
    int counted = count_login(rc, prefix, si->client);
    if (counted)
        return counted;
    key_of(key, sizeof key, prefix, "state", state);
    json_t *j = json_pack("{s:s, s:s, s:s, s:I}", "verifier", si->verifier, "browser", si->browser,
                          "next", si->next, "created", (json_int_t)tg_now_ms());
    char *s = json_dumps(j, JSON_COMPACT);
    int rc_ = s ? set_ex(rc, key, s, TG_CONSOLE_STATE_TTL_S, 1) : -1;
    free(s);
    json_decref(j);
    return rc_;
}

int tg_console_state_take(redisContext *rc, const char *prefix, const char *state,
                          struct tg_console_signin *out)
{
    char key[256];
    key_of(key, sizeof key, prefix, "state", state);
    redisReply *r = redisCommand(rc, "GETDEL %s", key);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return -1;
    }
    json_t *j = r->type == REDIS_REPLY_STRING ? json_loadb(r->str, r->len, 0, NULL) : NULL;
    const char *v = json_string_value(json_object_get(j, "verifier"));
    const char *b = json_string_value(json_object_get(j, "browser"));
    const char *n = json_string_value(json_object_get(j, "next"));
    int found = v && strlen(v) == TG_CONSOLE_TOKEN_LEN && b && strlen(b) == TG_SHA256_HEX_LEN;
    if (found) {
        memcpy(out->verifier, v, TG_CONSOLE_TOKEN_LEN + 1);
        memcpy(out->browser, b, TG_SHA256_HEX_LEN + 1);
        snprintf(out->next, sizeof out->next, "%s", n && tg_console_next_ok(n) ? n : "/ui/");
    }
    json_decref(j);
    freeReplyObject(r);
    return found;
}

static json_t *record_json(const struct tg_console_session *s)
{
    json_t *groups = json_array();
    for (char **g = s->groups; g && *g; g++)
        json_array_append_new(groups, json_string(*g));
    return json_pack("{s:s, s:I, s:s, s:o, s:s, s:I, s:I}", "username", s->token.identity,
                     "user_id", (json_int_t)s->user_id, "name", s->name, "groups", groups,
                     "csrf_token", s->csrf, "created", (json_int_t)s->created_ms, "expires",
                     (json_int_t)s->expires_ms);
}

static char **strv_copy(char *const *v)
{
    size_t n = tg_strv_len(v);
    char **out = tg_xcalloc(n + 1, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = tg_xstrdup(v[i]);
    return out;
}

int tg_console_session_open(redisContext *rc, const struct tg_config *cfg,
                            const struct tg_oauth_user *u, char id[TG_CONSOLE_TOKEN_LEN + 1],
                            struct tg_console_session *out)
{
    char key[256];
    memset(out, 0, sizeof *out);
    if (tg_oauth_token(id) || tg_oauth_token(out->csrf))
        return -1;
    out->token.identity = tg_xstrdup(u->username);
    out->user_id = u->user_id;
    out->token.scopes = TG_SCOPE_READ | TG_SCOPE_APPROVE;
    out->name = tg_xstrdup(u->name ? u->name : u->username);
    out->groups = strv_copy(u->groups);
    out->created_ms = tg_now_ms();
    out->expires_ms = out->created_ms + cfg->console.session_ttl_ms;
    json_t *j = record_json(out);
    char *s = json_dumps(j, JSON_COMPACT);
    tg_console_session_key(cfg->redis.prefix, id, key, sizeof key);
    long long ttl_s = (long long)((cfg->console.session_ttl_ms + 999) / 1000);
    int rc_ = s ? set_ex(rc, key, s, ttl_s, 0) : -1;
    free(s);
    json_decref(j);
    return rc_;
}

int tg_console_session_close(redisContext *rc, const char *prefix, const char *id)
{
    char key[256];
    tg_console_session_key(prefix, id, key, sizeof key);
    redisReply *r = redisCommand(rc, "DEL %s", key);
    int ok = r && r->type == REDIS_REPLY_INTEGER;
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* 1 when next is a path under /ui/ that stays there: no dot segment ("." or ".."), no empty
 * segment ("//"), no backslash, no percent-encoding at all (an encoded dot or slash could
 * become one after decoding), no control or space character. */
int tg_console_next_ok(const char *next)
{
    size_t n = strlen(next);
    if (n > TG_CONSOLE_NEXT_MAX || strncmp(next, "/ui/", 4) != 0 || strstr(next, "//") ||
        strpbrk(next, "\\%"))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)next[i] < 0x21 || (unsigned char)next[i] == 0x7f)
            return 0;
    for (const char *seg = next; seg; seg = strchr(seg + 1, '/')) {
        size_t len = strcspn(seg + 1, "/?#");
        if ((len == 1 && seg[1] == '.') || (len == 2 && seg[1] == '.' && seg[2] == '.'))
            return 0;
    }
    return 1;
}
