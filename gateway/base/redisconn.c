/* redisconn.c -- blocking I/O to Redis: Sentinel lookup, connections, scripts.
 *
 * Worker threads, the API pool, the Sentinel resolver thread and the CLI run this; event
 * loops never do (scripts/style.sh refuses its header under gateway/http/).
 */
#include "base/redisconn.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct timeval tv_of(uint64_t ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    return tv;
}

static int ask_sentinel(const struct tg_redis_host *s, const char *name, uint64_t timeout_ms,
                        struct tg_redis_host *out)
{
    redisContext *c = redisConnectWithTimeout(s->host, s->port, tv_of(timeout_ms));
    int rc = -1;
    if (c == NULL || c->err)
        goto done;
    redisSetTimeout(c, tv_of(timeout_ms));
    redisReply *r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", name);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        long long port;
        if (tg_parse_int(r->element[1]->str, 1, 65535, &port) == 0) {
            free(out->host);
            out->host = tg_xstrdup(r->element[0]->str);
            out->port = (int)port;
            rc = 0;
        }
    }
    freeReplyObject(r);
done:
    if (c)
        redisFree(c);
    return rc;
}

int tg_redis_addr_resolve(struct tg_redis_addr *a, uint64_t timeout_ms, char *err, size_t errlen)
{
    if (a->nsentinels == 0)
        return 0;
    for (size_t i = 0; i < a->nsentinels; i++)
        if (ask_sentinel(&a->sentinels[i], a->master_name, timeout_ms, &a->primary) == 0)
            return 0;
    snprintf(err, errlen, "no sentinel knows a primary named %s", a->master_name);
    return -1;
}

int tg_redis_handshake(redisContext *c, const struct tg_redis_addr *a, char *err, size_t errlen)
{
    redisReply *r = NULL;
    if (a->password) {
        r = a->user ? redisCommand(c, "AUTH %s %s", a->user, a->password)
                    : redisCommand(c, "AUTH %s", a->password);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "Redis AUTH failed");
            freeReplyObject(r);
            return -1;
        }
        freeReplyObject(r);
    }
    if (a->db) {
        r = redisCommand(c, "SELECT %d", a->db);
        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "Redis SELECT %d failed", a->db);
            freeReplyObject(r);
            return -1;
        }
        freeReplyObject(r);
    }
    return 0;
}

redisContext *tg_redis_connect(struct tg_redis_addr *a, uint64_t timeout_ms, char *err,
                               size_t errlen)
{
    if (tg_redis_addr_resolve(a, timeout_ms, err, errlen))
        return NULL;
    redisContext *c =
        a->unix_path ? redisConnectUnixWithTimeout(a->unix_path, tv_of(timeout_ms))
                     : redisConnectWithTimeout(a->primary.host, a->primary.port, tv_of(timeout_ms));
    if (c == NULL || c->err) {
        snprintf(err, errlen, "cannot connect to Redis: %s", c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv_of(timeout_ms));
    if (tg_redis_handshake(c, a, err, errlen)) {
        redisFree(c);
        return NULL;
    }
    return c;
}

redisContext *tg_redis_connect_url(const char *url, uint64_t timeout_ms, char *err, size_t errlen)
{
    struct tg_redis_addr addr;
    if (tg_redis_addr_parse(url, &addr, err, errlen))
        return NULL;
    redisContext *c = tg_redis_connect(&addr, timeout_ms, err, errlen);
    tg_redis_addr_dispose(&addr);
    return c;
}

/* verb body nkeys keys... args...: verb is EVALSHA (body the SHA) or EVAL (body the source). */
static redisReply *run(redisContext *c, const char *verb, const char *body,
                       const struct tg_redis_script_call *call)
{
    enum { MAX_ARGS = 64 };
    const char *av[MAX_ARGS + 3];
    size_t al[MAX_ARGS + 3];
    char nk[16];
    if (call->argc > MAX_ARGS)
        return NULL;
    snprintf(nk, sizeof nk, "%d", call->nkeys);
    const char *head[3] = {verb, body, nk};
    for (int i = 0; i < 3; i++) {
        av[i] = head[i];
        al[i] = strlen(head[i]);
    }
    for (int i = 0; i < call->argc; i++) {
        av[3 + i] = call->argv[i];
        al[3 + i] = call->argvlen[i];
    }
    return redisCommandArgv(c, call->argc + 3, av, al);
}

redisReply *tg_redis_eval(redisContext *c, const struct tg_redis_script_call *call)
{
    char sha[41]; /* computed per call: microseconds, and no shared cache between threads */
    tg_redis_script_sha(call->source, sha);
    redisReply *r = run(c, "EVALSHA", sha, call);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        r = run(c, "EVAL", call->source, call);
    }
    return r;
}
