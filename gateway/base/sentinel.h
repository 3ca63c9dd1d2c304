/* sentinel.h -- asks Sentinel for the current primary on a helper thread, so that an event
 * loop never waits for a sentinel.
 *
 * The loop starts a question, watches the descriptor tg_sentinel_ask_fd gives it (readable,
 * end of file, once the answer is in) and then collects the answer; or it abandons the
 * question, and the helper thread cleans up when its blocking calls return. Nothing here
 * blocks the caller: the blocking side runs in the thread (redisconn.h).
 */
#ifndef TG_SENTINEL_H
#define TG_SENTINEL_H

#include "base/redisaddr.h"

#include <stddef.h>
#include <stdint.h>

struct tg_sentinel_ask;

/* Starts asking the sentinels of url (a redis-sentinel:// URL as in redisaddr.h; the thread
 * parses its own copy) in turn, waiting up to timeout_ms for each. Returns NULL with the
 * reason in err when the URL is not a Sentinel URL or no thread could be started. */
struct tg_sentinel_ask *tg_sentinel_ask_start(const char *url, uint64_t timeout_ms, char *err,
                                              size_t errlen);

/* The read end of a pipe that reaches end of file when the answer is in. The caller owns it
 * from now on (closes it, e.g. through h2o_socket_close), also after abandoning. */
int tg_sentinel_ask_fd(const struct tg_sentinel_ask *q);

/* Once the descriptor reached end of file: 0 with the primary in *out (out->host is the
 * caller's to free), or -1 with the reason in err. Frees q either way. */
int tg_sentinel_ask_finish(struct tg_sentinel_ask *q, struct tg_redis_host *out, char *err,
                           size_t errlen);

/* Gives up on q without waiting; the thread frees it when its blocking calls return. */
void tg_sentinel_ask_abandon(struct tg_sentinel_ask *q);

#endif
