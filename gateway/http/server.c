/* server.c -- the HTTP front: h2o listeners, event-loop threads, routes, graceful stop.
 *
 * Start-up: the main thread builds one h2o_globalconf_t (routes, limits) and the TLS
 * contexts; each loop thread opens its own SO_REUSEPORT sockets, so a thread that cannot
 * bind fails loudly at start. Stop: the main thread posts a message to every loop, which
 * closes its listeners, asks h2o to wind down connections, waits until its in-flight
 * requests are answered (bounded by a deadline) and exits.
 */
#include "http/server.h"
#include "http/http.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/netaddr.h"
#include "http/peers.h"
#include "http/redis_loop.h"
#include "base/util.h"

#include <errno.h>
#include <h2o/http2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TG_MODULE "server"
#define DRAIN_MS  2000 /* after the last answer, let writes flush and clients close */
/* Requests a connection may make before it sent an authenticated one: enough for a probe or
 * a scrape, far too few for a flood (a stranger's HTTP/2 rapid reset sent 140,000 streams a
 * second over four connections). Past it the connection is cut. */
#define UNAUTHENTICATED_MAX_REQUESTS 32
/* h2o buffers a request's whole body before our handler sees it, so strangers' unfinished
 * bodies are held in memory. Their total, per process, is bounded by this (at least one
 * largest body, limits.max_body + BODY_MARGIN, per loop): past it the connections holding
 * the most are cut. */
#define STRANGER_BYTES (16u * 1048576u)
/* Over limits.max_body, h2o itself refuses (HTTP/2: a stream reset, not a JSON 413); up to
 * max_body + BODY_MARGIN our handler answers a JSON 413. */
#define BODY_MARGIN 65536u

struct route {
    h2o_handler_t super; /* first: h2o hands us this pointer */
    tg_route_fn fn;
    void *data;
    char *path;
    int prefix;
};

struct tg_loop {
    h2o_context_t ctx; /* first: req->conn->ctx points here */
    struct tg_server *server;
    h2o_accept_ctx_t accept_tls; /* per TLS listener config is shared, ssl_ctx differs */
    h2o_socket_t **listeners;
    size_t nlisteners;
    struct tg_redis_loop *redis;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t control;
    h2o_multithread_receiver_t tasks;
    pthread_t tid;
    int inflight;
    int connections;
    int stopping;
    uint64_t stop_deadline;
    atomic_int redis_ready;
    int start_failed;
    uint64_t seen_413;
    h2o_timeout_t unauthenticated; /* limits.unauthenticated_idle */
    h2o_linklist_t strangers;      /* struct conn, unauthenticated and not a trusted proxy */
    size_t stranger_bytes;         /* this loop's share of STRANGER_BYTES */
};

/* One accepted connection, from accept to close (the socket's on_close). */
struct conn {
    struct tg_loop *loop;
    h2o_socket_t *sock;
    h2o_timeout_entry_t idle; /* linked until the first authenticated request */
    h2o_linklist_t stranger;  /* in loop->strangers until authenticated or cut */
    int authenticated;
    int requests; /* while not authenticated */
    int cut;      /* shut down: over its budget or idle too long */
    int holds_peer_slot;
    int proxy; /* from trusted_proxies: many clients, see admit */
    char peer[48];
};

struct tg_server {
    h2o_globalconf_t globalconf;
    h2o_hostconf_t *host;
    const struct tg_config *cfg;
    SSL_CTX **ssl; /* one per listen entry, NULL for cleartext */
    const char *const *scripts;
    size_t nscripts;
    struct tg_loop *loops;
    size_t nloops;
    size_t max_conns_per_loop;
    struct tg_peers *peers;
    pthread_barrier_t started;
};

struct listener_data {
    struct tg_loop *loop;
    h2o_accept_ctx_t accept;
};

/* ---- routes ---- */

static struct conn *conn_of(h2o_req_t *req);

/* Counts a request of a connection that has not authenticated; 1 when it is over
 * UNAUTHENTICATED_MAX_REQUESTS. The first one over gets its 429 and is the connection's last
 * (HTTP/1.1: h2o closes after answering); any request after it (HTTP/2 streams, pipelining)
 * cuts the connection at once: shutdown() makes h2o see the end of the stream and close it
 * through its own path, dropping whatever the client still sends. */
static int over_budget(h2o_req_t *req)
{
    struct conn *c = conn_of(req);
    if (c == NULL || c->proxy || c->authenticated || ++c->requests <= UNAUTHENTICATED_MAX_REQUESTS)
        return 0;
    if (!c->cut) {
        c->cut = 1;
        tg_metrics_inc(TG_M_CONN_CUT);
        req->http1_is_persistent = 0;
    } else {
        shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
    }
    return 1;
}

static int on_route(h2o_handler_t *self, h2o_req_t *req)
{
    struct route *r = (struct route *)self;
    size_t n = req->path_normalized.len;
    if (over_budget(req)) {
        tg_http_error(req, TG_ROUTE_OTHER, 429, "too_many_requests",
                      "authenticate, or open a new connection");
        return 0;
    }
    if (!r->prefix &&
        (n != strlen(r->path) || memcmp(req->path_normalized.base, r->path, n) != 0)) {
        tg_http_error(req, TG_ROUTE_OTHER, 404, "not_found", "no such route");
        return 0;
    }
    return r->fn(r->data, req);
}

static int on_not_found(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    if (over_budget(req)) {
        tg_http_error(req, TG_ROUTE_OTHER, 429, "too_many_requests",
                      "authenticate, or open a new connection");
        return 0;
    }
    tg_http_error(req, TG_ROUTE_OTHER, 404, "not_found", "no such route");
    return 0;
}

void tg_server_route(struct tg_server *s, const char *path, tg_route_fn fn, void *data)
{
    size_t len = strlen(path);
    h2o_pathconf_t *pc = h2o_config_register_path(s->host, path, 0);
    struct route *r = (struct route *)h2o_create_handler(pc, sizeof *r);
    r->super.on_req = on_route;
    r->fn = fn;
    r->data = data;
    r->path = tg_xstrdup(path);
    r->prefix = len > 0 && path[len - 1] == '/';
}

/* ---- listeners ---- */

static int open_listener(const struct tg_listen *l)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICHOST},
                    *ai;
    int one = 1, fd = -1;
    if (getaddrinfo(l->host, l->port, &hints, &ai) != 0) {
        TG_LOG(TG_LOG_ERROR, "bad_address", "cannot resolve %s", l->address);
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 1024)) {
        TG_LOG_ERRNO(TG_LOG_ERROR, "listen_failed", "cannot listen on %s", l->address);
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static void on_conn_close(void *data)
{
    struct conn *c = data;
    c->loop->connections--;
    tg_metrics_add(TG_M_HTTP_CONNECTIONS, -1);
    if (h2o_timeout_is_linked(&c->idle))
        h2o_timeout_unlink(&c->idle);
    if (h2o_linklist_is_linked(&c->stranger))
        h2o_linklist_unlink(&c->stranger);
    if (c->holds_peer_slot)
        tg_peers_release(c->loop->server->peers, c->peer);
    free(c);
}

/* No authenticated request in time: a stranger holding a slot. shutdown() makes h2o see the
 * end of the stream and close the connection through its own path (and so on_conn_close). */
static void on_unauthenticated_idle(h2o_timeout_entry_t *entry)
{
    struct conn *c = H2O_STRUCT_FROM_MEMBER(struct conn, idle, entry);
    tg_metrics_inc(TG_M_CONN_IDLE_CLOSED);
    c->cut = 1;
    if (h2o_linklist_is_linked(&c->stranger))
        h2o_linklist_unlink(&c->stranger);
    shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
}

/* What a connection holds unanswered: h2o 2.2.5 keeps an HTTP/1.1 request's body in the
 * socket's input buffer until it is complete. */
static size_t pending(const struct conn *c)
{
    return c->sock->input ? c->sock->input->size : 0;
}

/* Strangers' pending input over the loop's budget: cuts the connections holding the most
 * until the rest fit. Runs after every event-loop round, so the overshoot is one round's
 * reads. */
static void trim_strangers(struct tg_loop *loop)
{
    size_t total = 0;
    h2o_linklist_t *n;
    for (n = loop->strangers.next; n != &loop->strangers; n = n->next) {
        struct conn *c = H2O_STRUCT_FROM_MEMBER(struct conn, stranger, n);
        total += pending(c);
    }
    while (total > loop->stranger_bytes) {
        struct conn *big = NULL;
        for (n = loop->strangers.next; n != &loop->strangers; n = n->next) {
            struct conn *c = H2O_STRUCT_FROM_MEMBER(struct conn, stranger, n);
            if (big == NULL || pending(c) > pending(big))
                big = c;
        }
        total -= pending(big);
        h2o_linklist_unlink(&big->stranger);
        tg_metrics_inc(TG_M_CONN_CUT);
        big->cut = 1;
        shutdown(h2o_socket_get_fd(big->sock), SHUT_RDWR);
    }
}

/* Admits a connection from c->peer; 0, or -1 (counted) when the process or the peer is full.
 * Trusted proxies carry many clients, so none of the per-connection stranger limits treat them
 * as one: no per-peer cap, no request budget, no idle timeout, no body budget (one stranger
 * behind the proxy must not get a shared connection cut, and one member's request must not
 * lift the limits for the strangers behind it). Each request is still authenticated on its
 * own; cap clients at the proxy. */
static int admit(struct tg_loop *loop, struct conn *c, const struct sockaddr *sa)
{
    struct tg_server *s = loop->server;
    if ((size_t)loop->connections >= s->max_conns_per_loop) {
        tg_metrics_inc(TG_M_CONN_REFUSED_TOTAL);
        return -1;
    }
    tg_sockaddr_text(sa, c->peer, sizeof c->peer);
    if (tg_cidr_match_sa(s->cfg->trusted_proxies, s->cfg->ntrusted_proxies, sa)) {
        c->proxy = 1;
        return 0;
    }
    if (tg_peers_acquire(s->peers, c->peer)) {
        tg_metrics_inc(TG_M_CONN_REFUSED_PEER);
        return -1;
    }
    c->holds_peer_slot = 1;
    h2o_linklist_insert(&loop->strangers, &c->stranger);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct listener_data *ld = listener->data;
    struct tg_loop *loop = ld->loop;
    h2o_socket_t *sock;
    struct sockaddr_storage ss;
    if (err != NULL || (sock = h2o_evloop_socket_accept(listener)) == NULL)
        return;
    struct conn *c = tg_xcalloc(1, sizeof *c);
    socklen_t sl = h2o_socket_getpeername(sock, (struct sockaddr *)&ss);
    if (loop->stopping || sl == 0 || admit(loop, c, (struct sockaddr *)&ss)) {
        free(c);
        h2o_socket_close(sock); /* shed load rather than queue it */
        return;
    }
    int one = 1;
    setsockopt(h2o_socket_get_fd(sock), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    loop->connections++;
    tg_metrics_add(TG_M_HTTP_CONNECTIONS, 1);
    c->loop = loop;
    c->sock = sock;
    c->idle.cb = on_unauthenticated_idle;
    if (!c->proxy)
        h2o_timeout_link(loop->ctx.loop, &loop->unauthenticated, &c->idle);
    sock->on_close.cb = on_conn_close;
    sock->on_close.data = c;
    h2o_accept(&ld->accept, sock);
}

static struct conn *conn_of(h2o_req_t *req)
{
    h2o_socket_t *sock =
        req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    return sock && sock->on_close.cb == on_conn_close ? sock->on_close.data : NULL;
}

void tg_server_authenticated(h2o_req_t *req)
{
    struct conn *c = conn_of(req);
    if (c == NULL || c->authenticated)
        return;
    c->authenticated = 1;
    if (h2o_timeout_is_linked(&c->idle))
        h2o_timeout_unlink(&c->idle);
    if (h2o_linklist_is_linked(&c->stranger))
        h2o_linklist_unlink(&c->stranger);
}

/* Every value of header name joined with "," in order (RFC 9110 5.3: one list), in the
 * request's pool, whole: a hop cut off or shifted would name the wrong client. NULL if absent. */
static const char *header_list(h2o_req_t *req, const char *name)
{
    size_t len = 0, nl = strlen(name);
    for (ssize_t i = -1; (i = h2o_find_header_by_str(&req->headers, name, nl, i)) >= 0;)
        len += req->headers.entries[i].value.len + 1;
    if (len == 0)
        return NULL;
    char *out = h2o_mem_alloc_pool(&req->pool, len), *p = out;
    for (ssize_t i = -1; (i = h2o_find_header_by_str(&req->headers, name, nl, i)) >= 0;) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (p != out)
            *p++ = ',';
        memcpy(p, v.base, v.len);
        p += v.len;
    }
    *p = '\0';
    return out;
}

void tg_server_client_address(h2o_req_t *req, char *out, size_t outlen)
{
    const struct tg_config *cfg = tg_loop_of(req)->server->cfg;
    struct sockaddr_storage ss;
    snprintf(out, outlen, "-");
    if (req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss) == 0)
        return;
    tg_sockaddr_text((struct sockaddr *)&ss, out, outlen);
    if (!tg_cidr_match_sa(cfg->trusted_proxies, cfg->ntrusted_proxies, (struct sockaddr *)&ss))
        return; /* anyone else's Forwarded headers are ignored */
    char client[64];
    struct tg_forwarded_query q = {header_list(req, "x-forwarded-for"),
                                   header_list(req, "forwarded"), cfg->forwarded_header,
                                   cfg->trusted_proxies, cfg->ntrusted_proxies};
    if (tg_forwarded_client(&q, client, sizeof client) == 0)
        snprintf(out, outlen, "%s", client);
}

static int loop_listen(struct tg_loop *loop)
{
    struct tg_server *s = loop->server;
    loop->nlisteners = s->cfg->nlisten;
    loop->listeners = tg_xcalloc(loop->nlisteners, sizeof *loop->listeners);
    for (size_t i = 0; i < loop->nlisteners; i++) {
        int fd = open_listener(&s->cfg->listen[i]);
        if (fd < 0)
            return -1;
        struct listener_data *ld = tg_xcalloc(1, sizeof *ld);
        ld->loop = loop;
        ld->accept.ctx = &loop->ctx;
        ld->accept.hosts = s->globalconf.hosts;
        ld->accept.ssl_ctx = s->ssl[i];
        loop->listeners[i] =
            h2o_evloop_socket_create(loop->ctx.loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        loop->listeners[i]->data = ld;
        h2o_socket_read_start(loop->listeners[i], on_accept);
    }
    return 0;
}

static void loop_unlisten(struct tg_loop *loop)
{
    for (size_t i = 0; i < loop->nlisteners; i++) {
        if (loop->listeners[i] == NULL)
            continue;
        free(loop->listeners[i]->data);
        h2o_socket_read_stop(loop->listeners[i]);
        h2o_socket_close(loop->listeners[i]);
        loop->listeners[i] = NULL;
    }
}

/* ---- TLS ---- */

static SSL_CTX *tls_context(const struct tg_listen *l)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, l->tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, l->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        char buf[256];
        ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
        TG_LOG(TG_LOG_ERROR, "tls_failed", "%s: cannot load %s / %s: %s", l->address, l->tls_cert,
               l->tls_key, buf);
        SSL_CTX_free(ctx);
        return NULL;
    }
    h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    return ctx;
}

/* ---- loop threads ---- */

static void begin_stop(struct tg_loop *loop)
{
    if (loop->stopping)
        return;
    loop->stopping = 1;
    loop->stop_deadline = tg_mono_ms() + loop->server->cfg->limits.redis_timeout_ms + 5000;
    loop_unlisten(loop);
    h2o_context_request_shutdown(&loop->ctx);
}

static void on_control(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    struct tg_loop *loop = H2O_STRUCT_FROM_MEMBER(struct tg_loop, control, receiver);
    while (!h2o_linklist_is_empty(messages)) {
        h2o_multithread_message_t *m =
            H2O_STRUCT_FROM_MEMBER(h2o_multithread_message_t, link, messages->next);
        h2o_linklist_unlink(&m->link);
        free(m);
    }
    begin_stop(loop);
}

/* h2o answers oversized bodies itself (413, before our handler runs); count those too. */
static void count_h2o_errors(struct tg_loop *loop)
{
    uint64_t n = loop->ctx.emitted_error_status[H2O_STATUS_ERROR_413];
    for (; loop->seen_413 < n; loop->seen_413++) {
        tg_metrics_inc(TG_M_REJECTED_TOO_LARGE);
        tg_metrics_http(TG_ROUTE_HOOKS, 413, 0);
    }
}

struct task {
    h2o_multithread_message_t super;
    tg_loop_task_fn fn;
    void *arg;
};

static void on_tasks(h2o_multithread_receiver_t *receiver, h2o_linklist_t *messages)
{
    (void)receiver;
    while (!h2o_linklist_is_empty(messages)) {
        struct task *t = H2O_STRUCT_FROM_MEMBER(struct task, super.link, messages->next);
        h2o_linklist_unlink(&t->super.link);
        t->fn(t->arg);
        free(t);
    }
}

void tg_loop_post(struct tg_loop *l, tg_loop_task_fn fn, void *arg)
{
    struct task *t = tg_xcalloc(1, sizeof *t);
    t->fn = fn;
    t->arg = arg;
    h2o_multithread_send_message(&l->tasks, &t->super);
}

/* Runs until stopped and drained: in-flight answered, then connections closed or DRAIN_MS. */
static void loop_run(struct tg_loop *loop)
{
    uint64_t drained_at = 0;
    for (;;) {
        h2o_evloop_run(loop->ctx.loop, 100);
        tg_log_flush();
        atomic_store(&loop->redis_ready, tg_redis_loop_ready(loop->redis));
        count_h2o_errors(loop);
        trim_strangers(loop);
        if (!loop->stopping)
            continue;
        uint64_t now = tg_mono_ms();
        if (loop->inflight > 0 && now < loop->stop_deadline)
            continue;
        if (drained_at == 0)
            drained_at = now;
        if (loop->connections == 0 || now - drained_at >= DRAIN_MS)
            break;
    }
}

static void *loop_main(void *arg)
{
    struct tg_loop *loop = arg;
    struct tg_server *s = loop->server;
    tg_log_thread_buffered(1);
    h2o_context_init(&loop->ctx, h2o_evloop_create(), &s->globalconf);
    loop->queue = h2o_multithread_create_queue(loop->ctx.loop);
    h2o_multithread_register_receiver(loop->queue, &loop->control, on_control);
    h2o_multithread_register_receiver(loop->queue, &loop->tasks, on_tasks);
    h2o_timeout_init(loop->ctx.loop, &loop->unauthenticated,
                     s->cfg->limits.unauthenticated_idle_ms);
    h2o_linklist_init_anchor(&loop->strangers);
    loop->stranger_bytes = STRANGER_BYTES / s->nloops;
    if (loop->stranger_bytes < s->globalconf.max_request_entity_size)
        loop->stranger_bytes = s->globalconf.max_request_entity_size;
    loop->redis = tg_redis_loop_new(loop->ctx.loop, s->cfg->redis.url,
                                    s->cfg->limits.redis_timeout_ms, s->scripts, s->nscripts);
    loop->start_failed = loop->redis == NULL || loop_listen(loop) != 0;
    pthread_barrier_wait(&s->started);
    if (!loop->start_failed)
        loop_run(loop);
    loop_unlisten(loop);
    tg_redis_loop_free(loop->redis);
    loop->redis = NULL;
    h2o_multithread_unregister_receiver(loop->queue, &loop->control);
    h2o_multithread_unregister_receiver(loop->queue, &loop->tasks);
    h2o_multithread_destroy_queue(loop->queue);
    /* No h2o_context_dispose: h2o 2.2.5 asserts when a connection or its graceful-shutdown
     * timer is still linked, and cannot close idle connections for us; the process is
     * exiting, so exit() reclaims them. */
    free(loop->listeners);
    tg_log_thread_buffered(0);
    return NULL;
}

/* ---- public ---- */

static void configure_h2o(struct tg_server *s, const struct tg_config *cfg)
{
    h2o_config_init(&s->globalconf);
    s->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("tollgate"));
    /* A margin over the limit, so that a body somewhat over it reaches our handler and gets a
     * JSON 413 on HTTP/2 too (h2o resets an HTTP/2 stream over its own cap instead of
     * answering); small, because h2o holds the body in memory until it is complete. */
    s->globalconf.max_request_entity_size = cfg->limits.max_body + BODY_MARGIN;
    s->globalconf.http2.max_concurrent_requests_per_connection = cfg->limits.http2_max_streams;
    s->globalconf.http1.upgrade_to_http2 = 1;
    s->host =
        h2o_config_register_host(&s->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
}

struct tg_server *tg_server_new(const struct tg_config *cfg, const char *const *scripts,
                                size_t nscripts)
{
    struct tg_server *s = tg_xcalloc(1, sizeof *s);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->cfg = cfg;
    s->scripts = scripts;
    s->nscripts = nscripts;
    s->nloops = cfg->threads > 0 ? (size_t)cfg->threads : (size_t)(cores > 0 ? cores : 1);
    s->max_conns_per_loop = (cfg->limits.max_connections + s->nloops - 1) / s->nloops;
    s->peers = tg_peers_new(cfg->limits.max_connections_per_peer);
    configure_h2o(s, cfg);
    s->ssl = tg_xcalloc(cfg->nlisten, sizeof *s->ssl);
    for (size_t i = 0; i < cfg->nlisten; i++) {
        if (cfg->listen[i].tls_cert && (s->ssl[i] = tls_context(&cfg->listen[i])) == NULL) {
            tg_server_free(s);
            return NULL;
        }
    }
    return s;
}

void tg_server_free(struct tg_server *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; s->ssl && i < s->cfg->nlisten; i++)
        if (s->ssl[i])
            SSL_CTX_free(s->ssl[i]);
    free(s->ssl);
    free(s->loops);
    tg_peers_free(s->peers);
    h2o_config_dispose(&s->globalconf);
    free(s);
}

int tg_server_start(struct tg_server *s)
{
    h2o_pathconf_t *fallback = h2o_config_register_path(s->host, "/", 0);
    h2o_create_handler(fallback, sizeof(h2o_handler_t))->on_req = on_not_found;
    s->loops = tg_xcalloc(s->nloops, sizeof *s->loops);
    pthread_barrier_init(&s->started, NULL, (unsigned)s->nloops + 1);
    for (size_t i = 0; i < s->nloops; i++) {
        s->loops[i].server = s;
        pthread_create(&s->loops[i].tid, NULL, loop_main, &s->loops[i]);
    }
    pthread_barrier_wait(&s->started);
    pthread_barrier_destroy(&s->started);
    int failed = 0;
    for (size_t i = 0; i < s->nloops; i++)
        failed |= s->loops[i].start_failed;
    if (failed) {
        tg_server_stop(s);
        return -1;
    }
    for (size_t i = 0; i < s->cfg->nlisten; i++)
        TG_LOG(TG_LOG_INFO, "listening", "%s%s on %zu threads",
               s->cfg->listen[i].tls_cert ? "https://" : "http://", s->cfg->listen[i].address,
               s->nloops);
    return 0;
}

/* The main thread stops the loops: it waits for their threads to end. */
/* off the loop */
void tg_server_stop(struct tg_server *s)
{
    for (size_t i = 0; i < s->nloops; i++)
        if (!s->loops[i].start_failed)
            h2o_multithread_send_message(&s->loops[i].control,
                                         tg_xcalloc(1, sizeof(h2o_multithread_message_t)));
    for (size_t i = 0; i < s->nloops; i++)
        pthread_join(s->loops[i].tid, NULL);
}

int tg_server_redis_ready(struct tg_server *s)
{
    for (size_t i = 0; i < s->nloops; i++)
        if (!atomic_load(&s->loops[i].redis_ready))
            return 0;
    return 1;
}

struct tg_loop *tg_loop_of(h2o_req_t *req)
{
    return (struct tg_loop *)req->conn->ctx;
}

struct tg_redis_loop *tg_loop_redis(struct tg_loop *l)
{
    return l->redis;
}

struct tg_server *tg_loop_server(struct tg_loop *l)
{
    return l->server;
}

void tg_loop_inflight_add(struct tg_loop *l, int delta)
{
    l->inflight += delta;
    tg_metrics_add(TG_M_HTTP_IN_FLIGHT, delta);
}
