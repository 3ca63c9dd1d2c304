/* sentinel.c -- Sentinel questions on a helper thread (one detached thread per question).
 *
 * The asking thread (an event loop) and the helper share one struct, each holding a
 * reference; whoever drops the last one frees it. The helper writes the answer, drops its
 * reference and only then closes the pipe's write end: the reader sees end of file after the
 * answer is complete, and closing (unlike writing) is harmless when the reader is gone.
 */
#include "base/sentinel.h"
#include "base/redisconn.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct tg_sentinel_ask {
    atomic_int refs; /* the asker's and the helper's */
    struct tg_redis_addr addr;
    uint64_t timeout_ms;
    int rfd, wfd;
    int rc;
    char err[256];
};

static void drop(struct tg_sentinel_ask *q)
{
    if (atomic_fetch_sub_explicit(&q->refs, 1, memory_order_acq_rel) != 1)
        return;
    tg_redis_addr_dispose(&q->addr);
    free(q);
}

static void *ask_main(void *arg)
{
    struct tg_sentinel_ask *q = arg;
    q->rc = tg_redis_addr_resolve(&q->addr, q->timeout_ms, q->err, sizeof q->err);
    int wfd = q->wfd;
    drop(q);
    close(wfd);
    return NULL;
}

static int spawn(struct tg_sentinel_ask *q)
{
    pthread_attr_t attr;
    pthread_t tid;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&tid, &attr, ask_main, q);
    pthread_attr_destroy(&attr);
    return rc == 0 ? 0 : -1;
}

struct tg_sentinel_ask *tg_sentinel_ask_start(const char *url, uint64_t timeout_ms, char *err,
                                              size_t errlen)
{
    struct tg_sentinel_ask *q = tg_xcalloc(1, sizeof *q);
    int fds[2];
    if (tg_redis_addr_parse(url, &q->addr, err, errlen) || q->addr.nsentinels == 0) {
        if (q->addr.nsentinels == 0)
            snprintf(err, errlen, "not a redis-sentinel:// URL");
        tg_redis_addr_dispose(&q->addr);
        free(q);
        return NULL;
    }
    if (pipe2(fds, O_CLOEXEC)) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        tg_redis_addr_dispose(&q->addr);
        free(q);
        return NULL;
    }
    q->rfd = fds[0];
    q->wfd = fds[1];
    q->timeout_ms = timeout_ms;
    atomic_init(&q->refs, 2);
    if (spawn(q)) {
        snprintf(err, errlen, "cannot start the Sentinel thread");
        close(fds[0]);
        close(fds[1]);
        tg_redis_addr_dispose(&q->addr);
        free(q);
        return NULL;
    }
    return q;
}

int tg_sentinel_ask_fd(const struct tg_sentinel_ask *q)
{
    return q->rfd;
}

int tg_sentinel_ask_finish(struct tg_sentinel_ask *q, struct tg_redis_host *out, char *err,
                           size_t errlen)
{
    /* pairs with the helper's release in drop(): its answer is visible from here on */
    (void)atomic_load_explicit(&q->refs, memory_order_acquire);
    int rc = q->rc;
    if (rc == 0) {
        out->host = q->addr.primary.host;
        out->port = q->addr.primary.port;
        q->addr.primary.host = NULL;
    } else {
        snprintf(err, errlen, "%s", q->err);
    }
    drop(q);
    return rc;
}

void tg_sentinel_ask_abandon(struct tg_sentinel_ask *q)
{
    drop(q);
}
