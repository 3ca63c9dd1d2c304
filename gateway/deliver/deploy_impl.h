/* deploy_impl.h -- what deploy.c and deploy_approval.c share: the keys of the state machine and
 * the script runner. Private to the deploy module.
 */
#ifndef TG_DEPLOY_IMPL_H
#define TG_DEPLOY_IMPL_H

#include <hiredis.h>
#include <stddef.h>

/* finished and closed records stay 90 days: long enough for any retry of a pipeline */
#define TG_DEPLOY_FINAL_TTL_S "7776000"

/* The fixed keys the scripts name (128 bytes hold any prefix Tollgate accepts). */
struct tg_deploy_keys {
    char inflight[128], retry[128], reconcile[128], pending[128], notify[128];
    char outbox[128], outbox_data[128];
    char latest[128], live[128]; /* the environment indexes (tg_deploy_index_read) */
};
void tg_deploy_keys_of(struct tg_deploy_keys *k, const char *prefix);

/* Runs lua with argv[0 .. nkeys-1] as KEYS and the rest as ARGV (at most 64, NUL-terminated
 * strings). The reply, or NULL; an error reply is logged and given as NULL. */
redisReply *tg_deploy_eval(redisContext *c, const char *lua, int nkeys, const char *const *argv,
                           int argc);
/* Element i of an array reply when it is a string, else NULL. */
const char *tg_deploy_word(const redisReply *r, size_t i);

#endif
