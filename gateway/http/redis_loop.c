/* redis_loop.c -- one asynchronous Redis connection driven by an h2o event loop.
 *
 * States:  DOWN --tick, backoff elapsed--> [RESOLVING --primary known-->] CONNECTING
 * --connected--> LOADING --all handshake replies OK--> READY.  Any failure (no sentinel
 * answers, connect error or timeout, error reply, command timeout, peer close) goes back to
 * DOWN and fails every pending command.
 *
 * RESOLVING (Sentinel URLs only): the sentinels are asked on a helper thread (sentinel.h);
 * the loop watches a pipe that reaches end of file when the answer is in, and goes on serving
 * meanwhile (commands fail at once, as in every state but READY). Each sentinel gets at most
 * min(timeout, 500 ms), so a question ends within that times the number of sentinels.
 *
 * The hiredis adapter: hiredis owns its fd; h2o gets a dup() of it with DONT_READ so h2o
 * only reports readiness and hiredis does the reading. Write interest is a one-shot
 * notification in h2o, so want_write/write_armed remember whether hiredis still wants it.
 */
#include "http/redis_loop.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/redisaddr.h"
#include "base/sentinel.h"
#include "base/util.h"

#include <async.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TG_MODULE      "redis"
#define SENTINEL_MS    500 /* the most one sentinel may take to answer */
#define TICK_MS        100
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

enum state { DOWN, RESOLVING, CONNECTING, LOADING, READY };

struct script {
    const char *source;
    char sha[41];
};

struct tg_redis_loop {
    h2o_loop_t *loop;
    char *url; /* for the Sentinel helper, which parses its own copy */
    struct tg_redis_addr addr;
    struct tg_sentinel_ask *ask; /* while RESOLVING */
    h2o_socket_t *ask_sock;      /* the question's pipe, watched for end of file */
    uint64_t timeout_ms;
    struct script *scripts;
    size_t nscripts;
    redisAsyncContext *ac;
    enum state state;
    size_t handshake_left; /* replies still expected before READY */
    uint64_t deadline;     /* for CONNECTING/LOADING, or the next attempt when DOWN */
    uint64_t backoff_ms;
    int ever_ready;
    h2o_timeout_t tick_class;
    h2o_timeout_entry_t tick;
    h2o_timeout_t cmd_class; /* one entry per pending command */
};

struct pending {
    h2o_timeout_entry_t timeout;
    struct tg_redis_loop *r;
    tg_redis_loop_cb cb;
    void *data;
};

struct adapter {
    h2o_socket_t *sock;
    redisAsyncContext *ac;
    int want_write;
    int write_armed;
};

static void conn_start(struct tg_redis_loop *r);
static void conn_fail(struct tg_redis_loop *r, const char *why);

/* ---- hiredis adapter for h2o's evloop ---- */

static void on_sock_read(h2o_socket_t *sock, const char *err)
{
    struct adapter *a = sock->data;
    (void)err;
    redisAsyncHandleRead(a->ac);
}

static void on_sock_write(h2o_socket_t *sock, const char *err)
{
    struct adapter *a = sock->data;
    (void)err;
    a->write_armed = 0;
    if (a->want_write) {
        a->want_write = 0;
        redisAsyncHandleWrite(a->ac);
    }
}

static void ad_add_read(void *p)
{
    struct adapter *a = p;
    h2o_socket_read_start(a->sock, on_sock_read);
}

static void ad_del_read(void *p)
{
    struct adapter *a = p;
    h2o_socket_read_stop(a->sock);
}

static void ad_add_write(void *p)
{
    struct adapter *a = p;
    a->want_write = 1;
    if (!a->write_armed) {
        a->write_armed = 1;
        h2o_socket_notify_write(a->sock, on_sock_write);
    }
}

static void ad_del_write(void *p)
{
    struct adapter *a = p;
    a->want_write = 0;
}

static void ad_cleanup(void *p)
{
    struct adapter *a = p;
    h2o_socket_close(a->sock);
    free(a);
}

static int adapter_attach(h2o_loop_t *loop, redisAsyncContext *ac)
{
    int fd = dup(ac->c.fd);
    if (fd < 0)
        return -1;
    struct adapter *a = tg_xcalloc(1, sizeof *a);
    a->ac = ac;
    a->sock = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    a->sock->data = a;
    ac->ev.data = a;
    ac->ev.addRead = ad_add_read;
    ac->ev.delRead = ad_del_read;
    ac->ev.addWrite = ad_add_write;
    ac->ev.delWrite = ad_del_write;
    ac->ev.cleanup = ad_cleanup;
    return 0;
}

/* ---- commands ---- */

static void on_cmd_timeout(h2o_timeout_entry_t *entry)
{
    struct pending *p = H2O_STRUCT_FROM_MEMBER(struct pending, timeout, entry);
    tg_metrics_inc(TG_M_REDIS_TIMEOUTS);
    /* Replies are in order: if this one is late, everything behind it is too. */
    conn_fail(p->r, "command timed out");
}

static void on_reply(redisAsyncContext *ac, void *reply_, void *privdata)
{
    struct pending *p = privdata;
    redisReply *reply = reply_;
    (void)ac;
    h2o_timeout_unlink(&p->timeout);
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
        tg_metrics_inc(TG_M_REDIS_ERRORS);
    p->cb(reply, p->data);
    /* An error reply here means READONLY, OOM, NOSCRIPT or similar: the connection is not
     * usable as it is, so start over (the reconnect re-resolves the primary and reloads). */
    if (reply && reply->type == REDIS_REPLY_ERROR && p->r->state == READY) {
        TG_LOG(TG_LOG_WARN, "error_reply", "%.200s", reply->str);
        conn_fail(p->r, "error reply");
    }
    free(p);
}

static int send_argv(struct tg_redis_loop *r, const struct tg_redis_loop_call *call)
{
    struct pending *p = tg_xcalloc(1, sizeof *p);
    p->r = r;
    p->cb = call->cb;
    p->data = call->data;
    p->timeout.cb = on_cmd_timeout;
    if (redisAsyncCommandArgv(r->ac, on_reply, p, call->argc, call->argv, call->argvlen) !=
        REDIS_OK) {
        free(p);
        return -1;
    }
    h2o_timeout_link(r->loop, &r->cmd_class, &p->timeout);
    return 0;
}

int tg_redis_loop_command(struct tg_redis_loop *r, const struct tg_redis_loop_call *call)
{
    if (r->state != READY)
        return -1;
    return send_argv(r, call);
}

int tg_redis_loop_evalsha(struct tg_redis_loop *r, size_t index, int nkeys,
                          const struct tg_redis_loop_call *call)
{
    enum { MAX_ARGS = 64 };
    const char *av[MAX_ARGS + 3];
    size_t al[MAX_ARGS + 3];
    char nk[16];
    if (r->state != READY || index >= r->nscripts || call->argc > MAX_ARGS)
        return -1;
    snprintf(nk, sizeof nk, "%d", nkeys);
    const char *head[3] = {"EVALSHA", r->scripts[index].sha, nk};
    for (int i = 0; i < 3; i++) {
        av[i] = head[i];
        al[i] = strlen(head[i]);
    }
    memcpy(av + 3, call->argv, (size_t)call->argc * sizeof *call->argv);
    memcpy(al + 3, call->argvlen, (size_t)call->argc * sizeof *call->argvlen);
    struct tg_redis_loop_call full = {call->argc + 3, av, al, call->cb, call->data};
    return send_argv(r, &full);
}

/* ---- connection life cycle ---- */

static void schedule_retry(struct tg_redis_loop *r)
{
    r->state = DOWN;
    r->deadline = tg_mono_ms() + r->backoff_ms;
    r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
}

static void conn_fail(struct tg_redis_loop *r, const char *why)
{
    redisAsyncContext *ac = r->ac;
    if (ac == NULL)
        return;
    TG_LOG(TG_LOG_WARN, "connection_lost", "%s; reconnecting", why);
    r->ac = NULL;
    schedule_retry(r);
    redisAsyncFree(ac); /* fails every pending command with a NULL reply */
}

static void become_ready(struct tg_redis_loop *r)
{
    r->state = READY;
    r->backoff_ms = BACKOFF_MIN_MS;
    if (r->ever_ready)
        tg_metrics_inc(TG_M_REDIS_RECONNECTS);
    r->ever_ready = 1;
    TG_LOG(TG_LOG_INFO, "ready", "connected and %zu script(s) loaded", r->nscripts);
}

static void on_handshake_reply(redisReply *reply, void *data)
{
    struct tg_redis_loop *r = data;
    if (r->state != LOADING)
        return;
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        TG_LOG(TG_LOG_ERROR, "handshake_failed", "%.200s", reply ? reply->str : "no reply");
        conn_fail(r, "handshake failed");
        return;
    }
    if (--r->handshake_left == 0)
        become_ready(r);
}

static int send_handshake_cmd(struct tg_redis_loop *r, int argc, const char **argv,
                              const size_t *argvlen)
{
    struct tg_redis_loop_call call = {argc, argv, argvlen, on_handshake_reply, r};
    return send_argv(r, &call);
}

static void send_handshake(struct tg_redis_loop *r)
{
    char db[16];
    r->state = LOADING;
    r->handshake_left = 0;
    if (r->addr.password) {
        const char *av[] = {"AUTH", r->addr.user ? r->addr.user : r->addr.password,
                            r->addr.password};
        size_t al[] = {4, strlen(av[1]), strlen(av[2])};
        if (send_handshake_cmd(r, r->addr.user ? 3 : 2, av, al) == 0)
            r->handshake_left++;
    }
    if (r->addr.db) {
        snprintf(db, sizeof db, "%d", r->addr.db);
        const char *av[] = {"SELECT", db};
        size_t al[] = {6, strlen(db)};
        if (send_handshake_cmd(r, 2, av, al) == 0)
            r->handshake_left++;
    }
    for (size_t i = 0; i < r->nscripts; i++) {
        const char *av[] = {"SCRIPT", "LOAD", r->scripts[i].source};
        size_t al[] = {6, 4, strlen(r->scripts[i].source)};
        if (send_handshake_cmd(r, 3, av, al) == 0)
            r->handshake_left++;
    }
    if (r->handshake_left == 0)
        become_ready(r);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct tg_redis_loop *r = ac->data;
    if (r == NULL || r->ac != ac)
        return;
    if (status != REDIS_OK) {
        TG_LOG(TG_LOG_WARN, "connect_failed", "%s", ac->errstr);
        r->ac = NULL; /* hiredis frees a context whose connect failed */
        schedule_retry(r);
        return;
    }
    send_handshake(r);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct tg_redis_loop *r = ac->data;
    (void)status;
    if (r == NULL || r->ac != ac)
        return; /* we dropped it ourselves; conn_fail already rescheduled */
    TG_LOG(TG_LOG_WARN, "connection_lost", "%s; reconnecting",
           ac->err ? ac->errstr : "closed by server");
    r->ac = NULL;
    schedule_retry(r);
}

/* Connects to r->addr's primary (known: a plain URL, or Sentinel has answered). */
static void conn_connect(struct tg_redis_loop *r)
{
    redisAsyncContext *ac = r->addr.unix_path
                                ? redisAsyncConnectUnix(r->addr.unix_path)
                                : redisAsyncConnect(r->addr.primary.host, r->addr.primary.port);
    if (ac == NULL || ac->err || adapter_attach(r->loop, ac)) {
        TG_LOG(TG_LOG_WARN, "connect_failed", "%s", ac ? ac->errstr : "out of memory");
        if (ac)
            redisAsyncFree(ac);
        schedule_retry(r);
        return;
    }
    ac->data = r;
    r->ac = ac;
    r->state = CONNECTING;
    r->deadline = tg_mono_ms() + r->timeout_ms;
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

static void ask_close(struct tg_redis_loop *r)
{
    h2o_socket_read_stop(r->ask_sock);
    h2o_socket_close(r->ask_sock); /* closes the pipe's read end */
    r->ask_sock = NULL;
    r->ask = NULL;
}

/* The question's pipe reached end of file: the sentinels' answer is in. */
static void on_ask_done(h2o_socket_t *sock, const char *unused)
{
    struct tg_redis_loop *r = sock->data;
    struct tg_sentinel_ask *q = r->ask;
    struct tg_redis_host primary = {0};
    char err[256];
    (void)unused;
    ask_close(r);
    if (tg_sentinel_ask_finish(q, &primary, err, sizeof err)) {
        TG_LOG(TG_LOG_WARN, "sentinel_failed", "%s", err);
        schedule_retry(r);
        return;
    }
    free(r->addr.primary.host);
    r->addr.primary = primary;
    conn_connect(r);
}

/* Asks the sentinels on a helper thread; the loop waits in RESOLVING, serving meanwhile. */
static void conn_resolve(struct tg_redis_loop *r)
{
    char err[256];
    uint64_t per_sentinel = r->timeout_ms < SENTINEL_MS ? r->timeout_ms : SENTINEL_MS;
    r->ask = tg_sentinel_ask_start(r->url, per_sentinel, err, sizeof err);
    if (r->ask == NULL) {
        TG_LOG(TG_LOG_WARN, "sentinel_failed", "%s", err);
        schedule_retry(r);
        return;
    }
    r->state = RESOLVING;
    /* DONT_READ: h2o only reports readiness (end of file); nothing is ever written */
    r->ask_sock =
        h2o_evloop_socket_create(r->loop, tg_sentinel_ask_fd(r->ask), H2O_SOCKET_FLAG_DONT_READ);
    r->ask_sock->data = r;
    h2o_socket_read_start(r->ask_sock, on_ask_done);
}

static void conn_start(struct tg_redis_loop *r)
{
    if (r->addr.nsentinels > 0)
        conn_resolve(r);
    else
        conn_connect(r);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    struct tg_redis_loop *r = H2O_STRUCT_FROM_MEMBER(struct tg_redis_loop, tick, entry);
    uint64_t now = tg_mono_ms();
    if (r->state == DOWN && now >= r->deadline)
        conn_start(r);
    else if ((r->state == CONNECTING || r->state == LOADING) && now >= r->deadline)
        conn_fail(r, "connect timed out");
    h2o_timeout_link(r->loop, &r->tick_class, &r->tick);
}

/* ---- public ---- */

struct tg_redis_loop *tg_redis_loop_new(h2o_loop_t *loop, const char *url, uint64_t timeout_ms,
                                        const char *const *scripts, size_t nscripts)
{
    char err[256];
    struct tg_redis_loop *r = tg_xcalloc(1, sizeof *r);
    if (tg_redis_addr_parse(url, &r->addr, err, sizeof err)) {
        TG_LOG(TG_LOG_ERROR, "bad_url", "%s", err);
        free(r);
        return NULL;
    }
    r->loop = loop;
    r->url = tg_xstrdup(url);
    r->timeout_ms = timeout_ms;
    r->backoff_ms = BACKOFF_MIN_MS;
    r->nscripts = nscripts;
    r->scripts = tg_xcalloc(nscripts ? nscripts : 1, sizeof *r->scripts);
    for (size_t i = 0; i < nscripts; i++) {
        r->scripts[i].source = scripts[i];
        tg_redis_script_sha(scripts[i], r->scripts[i].sha);
    }
    h2o_timeout_init(loop, &r->cmd_class, timeout_ms);
    h2o_timeout_init(loop, &r->tick_class, TICK_MS);
    r->tick.cb = on_tick;
    h2o_timeout_link(loop, &r->tick_class, &r->tick);
    conn_start(r);
    return r;
}

void tg_redis_loop_free(struct tg_redis_loop *r)
{
    if (r == NULL)
        return;
    h2o_timeout_unlink(&r->tick);
    if (r->ask) {
        struct tg_sentinel_ask *q = r->ask;
        ask_close(r);
        tg_sentinel_ask_abandon(q); /* its thread frees it once the sentinels answer */
    }
    if (r->ac) {
        redisAsyncContext *ac = r->ac;
        r->ac = NULL;
        ac->data = NULL;
        redisAsyncFree(ac);
    }
    h2o_timeout_dispose(r->loop, &r->tick_class);
    h2o_timeout_dispose(r->loop, &r->cmd_class);
    tg_redis_addr_dispose(&r->addr);
    free(r->url);
    free(r->scripts);
    free(r);
}

int tg_redis_loop_ready(const struct tg_redis_loop *r)
{
    return r && r->state == READY;
}
