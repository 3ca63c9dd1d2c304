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

#include "audit/audit.h"
#include "base/config.h"
#include "base/metrics.h"
#include "console/console_auth.h"
#include "http/server.h"

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
    /* Set when a console session cookie (not a bearer token) authenticated the request: the
     * GitLab user, checked on the loop (api.c, console_auth.h). Owned by the request. */
    struct tg_console_session *session;
};

/* The header's value (borrowed) or NULL. */
const char *tg_api_header(const struct tg_api_request *r, const char *lcname);
/* The URL-decoded value of a query parameter into out; NULL when absent. */
const char *tg_api_query(const struct tg_api_request *r, const char *name, char *out,
                         size_t outlen);

struct tg_api_ctx {
    struct tg_config *cfg; /* reference held for the call */
    redisContext *rc;      /* NULL while Redis is unreachable: answer 503 */
    struct tg_audit *audit;
    struct api_job *job; /* private */
};

typedef void (*tg_api_fn)(void *data, struct tg_api_ctx *ctx, const struct tg_api_request *req);

/* Answers: body is copied; json is stolen. The first answer wins; later ones are ignored. */
void tg_api_answer(struct tg_api_ctx *ctx, int status, const char *content_type, const char *body,
                   size_t len);
void tg_api_json(struct tg_api_ctx *ctx, int status, json_t *body);
void tg_api_error(struct tg_api_ctx *ctx, int status, const char *error, const char *detail);
/* More response headers for the answer that follows (tg_api_answer and the others): headers
 * holds name, value pairs and ends with NULL (copied; e.g. Location, Set-Cookie,
 * Cache-Control). Replaces earlier ones; ignored once answered. */
void tg_api_headers(struct tg_api_ctx *ctx, const char *const *headers);

/* Bearer-token check against api.tokens: the token entry when it is valid and has scope;
 * otherwise answers 401 (missing/unknown) or 403 (scope) itself and returns NULL. A request a
 * console session authenticated gets the session's entry (identity: the GitLab username;
 * scopes read and approve). */
const struct tg_api_token *tg_api_bearer(struct tg_api_ctx *ctx, const struct tg_api_request *req,
                                         unsigned scope);

/* What a route's gate decided on the event loop. status 0 lets the request through; any other
 * status is answered at once as {"error", "detail"} and nothing is queued, parsed further or
 * recorded (the gate counts the refusal itself: metrics, tally). */
struct tg_api_verdict {
    int status;
    const char *error;
    const char *detail;
};

/* A route's gate: authenticates the request copy on the loop thread, before it is queued.
 * Runs on an event loop, so it must not block: no Redis, no network. */
typedef void (*tg_api_gate_fn)(void *data, const struct tg_config *cfg,
                               const struct tg_api_request *req, struct tg_api_verdict *out);

/* Whether a route takes a console session cookie (console/console_auth.h). The session is
 * read from Redis on the loop before the request is queued; a state-changing method must
 * carry X-CSRF-Token equal to the session's, else 403; no valid session: 401. */
enum tg_api_session {
    TG_SESSION_ACCEPTED, /* /api/ routes: a cookie when there is no Authorization header */
    TG_SESSION_REQUIRED, /* only a session authenticates (GET /ui/session, POST /ui/logout) */
    TG_SESSION_PUBLIC,   /* sign-in routes: no credential at all; the cookie is not looked at
                          * and passing the gate does not authenticate the connection */
};

/* Which queue and threads run a request: approvals and chat answers have their own lane so
 * that long reads (verify, export, a page of 1,000 records) never delay them. */
enum tg_api_lane {
    TG_LANE_READ,
    TG_LANE_ACT,
    TG_LANE_ACT_ON_POST, /* POST goes to the act lane, anything else to the read lane */
};

struct tg_api_route_spec {
    const char *path; /* exact, or a prefix ending in '/' */
    enum tg_route route;
    enum tg_api_lane lane;
    tg_api_gate_fn gate; /* required: every route authenticates on the loop */
    tg_api_fn fn;
    void *data;
    int scrub_answer; /* the answer shows stored free text: scrub token-shaped values (scrub.h) */
    const struct tg_api_once *once; /* optional: a signed request is used once (below) */
    enum tg_api_session session;    /* TG_ROUTE_API routes only; ACCEPTED unless set */
};

/* A request that is signed can be replayed within its window; the header that names it (the
 * signature) is claimed on the loop before the request is queued: SET <redis.prefix><key>
 * <value> NX EX ttl_s through the loop's asynchronous Redis. Seen before: a replay, answered
 * 401 (on_replay counts it) and the connection stays unauthenticated; Redis unavailable: 503.
 * Only a fresh, valid request authenticates its connection. */
struct tg_api_once {
    const char *header; /* lower case */
    const char *key;    /* e.g. "slack:nonce:" */
    int ttl_s;
    void (*on_replay)(void *data, const struct tg_api_request *req);
};

/* The gate of the /api/ routes: a bearer token from api.tokens (any scope; the handler checks
 * the scope it needs). Refusals count as rejected "unauthorized" in metrics and the tally
 * (data is the tally, or NULL). */
void tg_api_gate_bearer(void *data, const struct tg_config *cfg, const struct tg_api_request *req,
                        struct tg_api_verdict *out);

/* The largest body an API or ChatOps route accepts (limits.max_body when lower); larger
 * ones are answered 413 on the loop before anything else looks at them. */
#define TG_API_MAX_BODY 65536

struct tg_api_pool;

/* Starts the pool: nthreads threads per lane, each lane's queue holding at most queue_max
 * requests (beyond that: 503 with Retry-After). config is borrowed and must outlive the pool. */
struct tg_api_pool *tg_api_pool_new(struct tg_config_holder *config, int nthreads,
                                    size_t queue_max);
/* Finishes the jobs already queued (their answers reach the loops), joins the threads; from
 * then on routed requests are answered 503. Call before tg_server_stop. */
void tg_api_pool_stop(struct tg_api_pool *p);
void tg_api_pool_free(struct tg_api_pool *p);

/* Routes spec->path to spec->fn on the pool, behind spec->gate. A request whose client went
 * away (connection closed, HTTP/2 stream reset) before a thread picks it up is dropped
 * unrun. */
void tg_api_route(struct tg_server *s, struct tg_api_pool *p, const struct tg_api_route_spec *spec);

#endif
