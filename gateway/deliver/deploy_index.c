/* deploy_index.c -- the environment indexes read back (deploy.h): per (project id,
 * environment) the newest decided and the newest triggered deployment, kept by deploy.c's
 * decide and finish scripts, and the deployments waiting for approval grouped the same way.
 * API pool threads.
 */
#include "base/util.h"
#include "deliver/deploy.h"
#include "deliver/deploy_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One index value "<pipeline> <deployment key>" under field "<project id> <environment>". */
static int entry_of(const char *field, const char *value, struct tg_deploy_index_entry *e)
{
    char *end;
    const char *sp = strchr(field, ' ');
    e->project_id = strtoll(field, &end, 10);
    e->pipeline = strtoll(value, NULL, 10);
    const char *key = strchr(value, ' ');
    if (sp == NULL || end != sp || key == NULL)
        return -1;
    e->environment = tg_xstrdup(sp + 1);
    e->key = tg_xstrdup(key + 1);
    return 0;
}

int tg_deploy_index_read(redisContext *c, const char *prefix, int live,
                         struct tg_deploy_index_entry **out)
{
    struct tg_deploy_keys k;
    tg_deploy_keys_of(&k, prefix);
    redisReply *r = redisCommand(c, "HGETALL %s", live ? k.live : k.latest);
    *out = NULL;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    int n = 0;
    *out = tg_xcalloc(r->elements / 2 + 1, sizeof **out);
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (tg_deploy_word(r, i) && tg_deploy_word(r, i + 1) &&
            entry_of(tg_deploy_word(r, i), tg_deploy_word(r, i + 1), &(*out)[n]) == 0)
            n++;
    freeReplyObject(r);
    return n;
}

int tg_deploy_pending_all(redisContext *c, const char *prefix, struct tg_deploy_index_entry **out)
{
    struct tg_deploy_keys k;
    size_t plen = strlen(prefix) + strlen("deploy:");
    tg_deploy_keys_of(&k, prefix);
    redisReply *r = redisCommand(c, "ZRANGE %s 0 -1 WITHSCORES", k.pending);
    *out = NULL;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    int n = 0;
    *out = tg_xcalloc(r->elements / 2 + 1, sizeof **out);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *key = tg_deploy_word(r, i);
        struct tg_deploy_index_entry *e = &(*out)[n];
        int at = 0;
        if (key == NULL || strlen(key) <= plen ||
            sscanf(key + plen, "%lld:%lld:%n", &e->project_id, &e->pipeline, &at) != 2 || !at)
            continue;
        e->environment = tg_xstrdup(key + plen + at);
        e->key = tg_xstrdup(key);
        e->expires_at =
            strtoll(tg_deploy_word(r, i + 1) ? tg_deploy_word(r, i + 1) : "0", NULL, 10);
        n++;
    }
    freeReplyObject(r);
    return n;
}

void tg_deploy_index_dispose(struct tg_deploy_index_entry *e, int n)
{
    for (int i = 0; e && i < n; i++) {
        free(e[i].environment);
        free(e[i].key);
    }
    free(e);
}
