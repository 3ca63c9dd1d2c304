/* redisconn.h -- blocking I/O to Redis: Sentinel lookup, connections, scripts.
 *
 * Worker threads, the API pool, the Sentinel resolver thread and the CLI use it. Event loops
 * never include it (scripts/style.sh checks): they use redis_loop.h, which reuses the parsing
 * in redisaddr.h and asks Sentinel through sentinel.h on a helper thread.
 */
#ifndef TG_REDISCONN_H
#define TG_REDISCONN_H

#include "base/redisaddr.h"

#include <hiredis.h>
#include <stddef.h>
#include <stdint.h>

/* For Sentinel addresses, asks the sentinels in turn for the current primary and stores it in
 * a->primary; for the others does nothing. Blocks up to timeout_ms per sentinel. 0 or -1. */
int tg_redis_addr_resolve(struct tg_redis_addr *a, uint64_t timeout_ms, char *err, size_t errlen);

/* A blocking connection with AUTH and SELECT done and timeout_ms as its command timeout.
 * Returns NULL with the reason in err. Caller frees with redisFree. */
redisContext *tg_redis_connect(struct tg_redis_addr *a, uint64_t timeout_ms, char *err,
                               size_t errlen);

/* The same from a URL: parse, resolve through Sentinel, connect. NULL with the reason in err. */
redisContext *tg_redis_connect_url(const char *url, uint64_t timeout_ms, char *err, size_t errlen);

/* Sends AUTH and SELECT as the address requires, on a blocking context. 0 or -1 with err. */
int tg_redis_handshake(redisContext *c, const struct tg_redis_addr *a, char *err, size_t errlen);

/* A Lua script call for blocking connections: nkeys keys followed by args (argv/argvlen hold
 * keys then args, argc of them in all, at most 64). */
struct tg_redis_script_call {
    const char *source; /* the Lua source */
    int nkeys;
    int argc;
    const char **argv;
    const size_t *argvlen;
};

/* Runs the script with EVALSHA, falling back to EVAL when the server has not seen it yet (a
 * fresh or failed-over primary), so nothing needs preloading. Returns the reply (caller frees
 * with freeReplyObject; may be an error reply), or NULL when the connection failed (c->err
 * says why; the context must then be dropped). */
redisReply *tg_redis_eval(redisContext *c, const struct tg_redis_script_call *call);

#endif
