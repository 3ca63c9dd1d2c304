/* api.h -- handlers that need blocking work (Redis queries, chat calls, audit appends) run on
 * a small thread pool, never on an event loop; their answers go back to the loop that owns
 * the request.
 *
 * A handler gets an immutable copy of the request and a context with the config in force,
 * a blocking Redis connection (NULL while Redis is unreachable) and an audit writer. It must
 * answer exactly once (tg_api_answer*), and may go on working afterwards (e.g. post to a
 * chat's response_url after acknowledging within Slack's 3 seconds).
 */
#ifndef TG_API_H
#define TG_API_H

#include "audit.h"
#include "config.h"
#include "metrics.h"
#include "server.h"

#include <hiredis.h>
#include <jansson.h>
#include <stddef.h>

struct tg_api_header {
    char *name; /* lower case */
    char *value;
};

/* A copy of the request, owned by the pool; all strings NUL-terminated. */
struct tg_api_request {
    char *method;
    char *path;  /* without the query */
    char *query; /* after '?', "" when none */
    char *body;
    size_t bodylen;
    struct tg_api_header *headers;
    size_t nheaders;
    char remote[64];
};

/* The header's value (borrowed) or NULL. */
const char *tg_api_header(const struct tg_api_request *r, const char *lcname);
/* The URL-decoded value of a query parameter into out; NULL when absent. */
const char *tg_api_query(const struct tg_api_request *r, const char *name, char *out, size_t outlen);

struct tg_api_ctx {
    struct tg_config *cfg;  /* reference held for the call */
    redisContext *rc;       /* NULL while Redis is unreachable: answer 503 */
    struct tg_audit *audit;
    struct api_job *job;    /* private */
};

typedef void (*tg_api_fn)(void *data, struct tg_api_ctx *ctx, const struct tg_api_request *req);

/* Answers: body is copied; json is stolen. The first answer wins; later ones are ignored. */
void tg_api_answer(struct tg_api_ctx *ctx, int status, const char *content_type, const char *body, size_t len);
void tg_api_json(struct tg_api_ctx *ctx, int status, json_t *body);
void tg_api_error(struct tg_api_ctx *ctx, int status, const char *error, const char *detail);

/* Bearer-token check against api.tokens: the token entry when it is valid and has scope;
 * otherwise answers 401 (missing/unknown) or 403 (scope) itself and returns NULL. */
const struct tg_api_token *tg_api_bearer(struct tg_api_ctx *ctx, const struct tg_api_request *req, unsigned scope);

struct tg_api_pool;

/* Starts nthreads pool threads. config is borrowed and must outlive the pool. */
struct tg_api_pool *tg_api_pool_new(struct tg_config_holder *config, int nthreads);
/* Finishes the jobs already queued (their answers reach the loops), joins the threads; from
 * then on routed requests are answered 503. Call before tg_server_stop. */
void tg_api_pool_stop(struct tg_api_pool *p);
void tg_api_pool_free(struct tg_api_pool *p);

/* Routes path (exact, or a prefix ending in '/') to fn on the pool. */
void tg_api_route(struct tg_server *s, struct tg_api_pool *p, const char *path, enum tg_route route, tg_api_fn fn,
                  void *data);

#endif
