/* redis_loop.h -- one asynchronous Redis connection driven by an h2o event loop.
 *
 * hiredis 0.14 has neither command timeouts nor reconnection; this module adds both: a
 * command unanswered after timeout_ms fails (callback with NULL) and drops the connection,
 * which is re-established in the background with capped exponential backoff, re-resolved
 * through Sentinel when configured (on a helper thread: the loop never waits for a sentinel), and
 * only declared ready once AUTH, SELECT and every script load have succeeded. Commands issued while
 * not ready fail at once (-1), so a caller can answer 503 instead of queueing behind a dead
 * connection. One instance per loop thread; never shared between threads.
 */
#ifndef TG_REDIS_LOOP_H
#define TG_REDIS_LOOP_H

#include <h2o.h>
#include <hiredis.h>
#include <stddef.h>
#include <stdint.h>

struct tg_redis_loop;

/* Called exactly once per command: reply is the server's answer (possibly an error reply),
 * or NULL when the command failed (timeout, disconnect, shutdown). reply is borrowed and
 * valid only during the call. */
typedef void (*tg_redis_loop_cb)(redisReply *reply, void *data);

/* Starts connecting at once. url as in redisaddr.h; scripts are Lua sources loaded with
 * SCRIPT LOAD on every connection (borrowed; must outlive the loop object). Never fails
 * for an unreachable server: it keeps retrying. Returns NULL only for a bad URL. */
struct tg_redis_loop *tg_redis_loop_new(h2o_loop_t *loop, const char *url, uint64_t timeout_ms,
                                        const char *const *scripts, size_t nscripts);
/* Fails every pending command (callbacks with NULL) and closes the connection. NULL is a no-op. */
void tg_redis_loop_free(struct tg_redis_loop *r);

/* 1 when connected and every script is loaded. */
int tg_redis_loop_ready(const struct tg_redis_loop *r);

/* A command and who hears its answer: argv/argvlen as redisAsyncCommandArgv (borrowed, only
 * for the call), cb called with data exactly once when the command was sent. */
struct tg_redis_loop_call {
    int argc;
    const char **argv;
    const size_t *argvlen;
    tg_redis_loop_cb cb;
    void *data;
};

/* Sends a command. Returns 0 when sent (cb will be called later), -1 when not ready (cb is
 * not called). */
int tg_redis_loop_command(struct tg_redis_loop *r, const struct tg_redis_loop_call *call);
/* EVALSHA of script number index (as given to new) with nkeys keys followed by args:
 * call->argv holds the keys then the args (at most 64), without "EVALSHA sha nkeys". Same
 * contract as above. */
int tg_redis_loop_evalsha(struct tg_redis_loop *r, size_t index, int nkeys,
                          const struct tg_redis_loop_call *call);

#endif
