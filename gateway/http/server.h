/* server.h -- the HTTP front: h2o listeners, event-loop threads, routes, graceful stop.
 *
 * One event loop per thread, each with its own SO_REUSEPORT listening sockets (the kernel
 * spreads connections), its own h2o context and its own asynchronous Redis connection.
 * Cleartext listeners speak HTTP/1.1 and h2c (prior knowledge and Upgrade); TLS listeners
 * offer h2 and http/1.1 through ALPN. Routes are registered before tg_server_start.
 */
#ifndef TG_SERVER_H
#define TG_SERVER_H

#include "base/config.h"

#include <h2o.h>

struct tg_server;
struct tg_loop;

/* A route handler; the server passes the data given at registration. */
typedef int (*tg_route_fn)(void *data, h2o_req_t *req);

/* Builds listeners and TLS contexts from cfg (borrowed for the server's life: listen
 * addresses, limits and Redis URL are read once). scripts are Lua sources every loop's
 * Redis connection loads. Returns NULL with the reason logged. */
struct tg_server *tg_server_new(const struct tg_config *cfg, const char *const *scripts,
                                size_t nscripts);
void tg_server_free(struct tg_server *s);

/* Routes path (exact, or a prefix when it ends in '/') to fn. */
void tg_server_route(struct tg_server *s, const char *path, tg_route_fn fn, void *data);

/* Starts the loop threads; returns 0 or -1. */
int tg_server_start(struct tg_server *s);
/* Asks every loop to stop accepting, answer what is in flight, and exit; then joins them.
 * Safe to call from the main thread only. */
void tg_server_stop(struct tg_server *s);
/* 1 when every loop's Redis connection is ready. Any thread. */
int tg_server_redis_ready(struct tg_server *s);

/* For handlers: the loop that runs a request, and its Redis connection. */
struct tg_loop *tg_loop_of(h2o_req_t *req);
struct tg_redis_loop *tg_loop_redis(struct tg_loop *l);
struct tg_server *tg_loop_server(struct tg_loop *l);
void tg_loop_inflight_add(struct tg_loop *l, int delta);

/* Marks the request's connection as having sent an authenticated request: from now on it is
 * not closed by limits.unauthenticated_idle. Call from a route once the caller proved who it
 * is (webhook token, signature, bearer token). Loop thread. */
void tg_server_authenticated(h2o_req_t *req);
/* The client's address as canonical text into out: the socket peer, or, when that peer is one
 * of trusted_proxies, the client it names in Forwarded / X-Forwarded-For. "-" when unknown.
 * Loop thread. */
void tg_server_client_address(h2o_req_t *req, char *out, size_t outlen);

/* Runs fn(arg) on l's thread soon. Safe from any thread while the server runs; the offload
 * pool uses it to hand answers back to the loop that owns the request. */
typedef void (*tg_loop_task_fn)(void *arg);
void tg_loop_post(struct tg_loop *l, tg_loop_task_fn fn, void *arg);

#endif
