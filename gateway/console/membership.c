/* membership.c -- GitLab group membership for group approvers (membership.h). */
#include "console/membership.h"
#include "base/crypto.h"
#include "base/util.h"
#include "base/httpclient.h"
#include "console/gitlab_client.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int tg_membership_parse_user(const char *body, size_t len, const char *username, long long *id)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    int rc = json_is_array(j) ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < json_array_size(j); i++) {
        json_t *u = json_array_get(j, i);
        const char *name = json_string_value(json_object_get(u, "username"));
        json_t *uid = json_object_get(u, "id");
        const char *state = json_string_value(json_object_get(u, "state"));
        if (name && strcasecmp(name, username) == 0 && json_is_integer(uid)) {
            *id = json_integer_value(uid);
            rc = state && strcmp(state, "active") == 0 ? 1 : 2; /* blocked, deactivated, ... */
        }
    }
    json_decref(j);
    return rc;
}

static char *private_token(const struct tg_config *cfg)
{
    const struct tg_secret *t = &cfg->gitlab.api_token;
    return tg_xasprintf("PRIVATE-TOKEN: %.*s", (int)t->len, t->value ? t->value : "");
}

/* One GET with the api_token: the status (0: no answer) and the body in a. */
static long get(const struct tg_config *cfg, const char *url, struct tg_gitlab_answer *a, char *err,
                size_t errlen)
{
    char *auth = private_token(cfg);
    tg_buf_init(&a->body);
    struct tg_gitlab_call call = {.url = url, .header = auth};
    long status = tg_gitlab_exchange(cfg, &call, a, err, errlen);
    explicit_bzero(auth, strlen(auth));
    free(auth);
    if (status && status != 200 && status != 404)
        snprintf(err, errlen, "GitLab answered HTTP %ld", status);
    return status;
}

static int user_id(const struct tg_config *cfg, const char *username, long long *id, char *err,
                   size_t errlen)
{
    struct tg_gitlab_answer a = {0};
    char *u = tg_httpc_escape(username);
    char *url = tg_xasprintf("%s/api/v4/users?username=%s", cfg->gitlab.url, u);
    long status = get(cfg, url, &a, err, errlen);
    int rc = status == 200 ? tg_membership_parse_user(a.body.data ? a.body.data : "", a.body.len,
                                                      username, id)
                           : -1;
    if (status == 200 && rc < 0)
        snprintf(err, errlen, "GitLab's user list was not a JSON array");
    free(u);
    free(url);
    tg_buf_dispose(&a.body);
    return rc;
}

static int member_level(const struct tg_membership_query *q, long long id, int *level, char *err,
                        size_t errlen)
{
    const struct tg_config *cfg = q->cfg;
    struct tg_gitlab_answer a = {0};
    char *g = tg_httpc_escape(q->group);
    char *url = tg_xasprintf("%s/api/v4/groups/%s/members/all/%lld", cfg->gitlab.url, g, id);
    long status = get(cfg, url, &a, err, errlen);
    json_t *j =
        status == 200 ? json_loadb(a.body.data ? a.body.data : "", a.body.len, 0, NULL) : NULL;
    json_t *l = json_object_get(j, "access_level");
    const char *ms = json_string_value(json_object_get(j, "membership_state"));
    const char *us = json_string_value(json_object_get(j, "state"));
    int rc = status == 404 || json_is_integer(l) ? 0 : -1;
    *level = json_is_integer(l) ? (int)json_integer_value(l) : 0;
    /* An invitation or access request not yet approved, or a member whose account is not
     * active, gives no access (doc/api/members.md: membership_state, state). */
    if (rc == 0 && status == 200 &&
        ((ms && strcmp(ms, "active") != 0) || !us || strcmp(us, "active") != 0))
        *level = ms && strcmp(ms, "active") != 0 ? TG_MEMBER_AWAITING : TG_MEMBER_INACTIVE;
    if (status == 200 && !json_is_integer(l))
        snprintf(err, errlen, "GitLab's member answer held no access_level");
    json_decref(j);
    free(g);
    free(url);
    tg_buf_dispose(&a.body);
    return rc;
}

static void cache_key(const struct tg_config *cfg, const char *group, const char *username,
                      char *out, size_t outlen)
{
    char hex[TG_SHA256_HEX_LEN + 1];
    char *both = tg_xasprintf("%s\n%s", group, username);
    tg_sha256_hex(both, strlen(both), hex);
    snprintf(out, outlen, "%sconsole:member:%s", cfg->redis.prefix, hex);
    free(both);
}

static int cached(redisContext *rc, const char *key, int *level)
{
    redisReply *r = rc ? redisCommand(rc, "GET %s", key) : NULL;
    long long v;
    int hit = r && r->type == REDIS_REPLY_STRING &&
              tg_parse_int(r->str, TG_MEMBER_AWAITING, 100, &v) == 0;
    if (hit)
        *level = (int)v;
    freeReplyObject(r);
    return hit;
}

int tg_membership_cached(const struct tg_membership_query *q, int *level)
{
    char key[256];
    cache_key(q->cfg, q->group, q->username, key, sizeof key);
    return cached(q->rc, key, level);
}

int tg_membership_level(const struct tg_membership_query *q, int *level, char *err, size_t errlen)
{
    const struct tg_config *cfg = q->cfg;
    redisContext *rc = q->rc;
    char key[256];
    long long id = 0;
    cache_key(cfg, q->group, q->username, key, sizeof key);
    if (cached(rc, key, level))
        return 0;
    if (cfg->gitlab.url == NULL) {
        snprintf(err, errlen, "gitlab.url is not configured");
        return -1;
    }
    int found = user_id(cfg, q->username, &id, err, errlen);
    if (found < 0 || (found == 1 && member_level(q, id, level, err, errlen)))
        return -1;
    if (found == 0)
        *level = 0;
    else if (found == 2)
        *level = TG_MEMBER_INACTIVE;
    if (rc && cfg->console.membership_cache_ms)
        freeReplyObject(redisCommand(rc, "SET %s %d PX %llu", key, *level,
                                     (unsigned long long)cfg->console.membership_cache_ms));
    return 0;
}
