/* api.c -- the blocking-work pool behind the API and ChatOps routes.
 *
 *   loop thread: on_request copies the request, runs the route's gate (authentication: a
 *                refusal is answered here and nothing is queued), counts it in flight
 *                (ticket), queues it on its lane (bounded: 503 + Retry-After when full)
 *                                                            -> lane queue (mutex + cond)
 *   pool thread: drops the job when its client went away, else runs the handler with its own
 *                Redis connection and audit writer; the first tg_api_answer posts the answer
 *                back                                        -> tg_loop_post(job->loop)
 *   loop thread: on_answer sends it if the client is still there, frees the job
 *
 * Two lanes, each with its own queue and threads: "act" (approvals, chat) and "read" (listings,
 * verify), so a long read never delays an approval.
 */
#include "api/api.h"
#include "base/buf.h"
#include "base/crypto.h"
#include "http/http.h"
#include "base/log.h"
#include "http/redis_loop.h"
#include "base/redisconn.h"
#include "base/scrub.h"
#include "http/tally.h"
#include "base/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TG_MODULE     "api"
#define MAX_HEADERS   64
#define RETRY_AFTER_S 1
#define NLANES        2 /* TG_LANE_READ, TG_LANE_ACT */

struct api_job {
    struct tg_http_ticket ticket; /* loop-thread side */
    struct tg_loop *loop;
    struct tg_api_request req;
    tg_api_fn fn;
    void *data;
    struct route *route; /* on the loop, until queued */
    struct lane *lane;
    int answered;
    int scrub;
    int status;
    char *content_type;
    char *body;
    size_t len;
    int refs; /* the pool thread's and the loop's: the handler may work on after answering */
    struct api_job *next;
};

struct lane {
    pthread_cond_t cond;
    struct api_job *head, *tail;
    size_t queued;
};

struct pool_thread {
    struct tg_api_pool *pool;
    struct lane *lane;
    pthread_t tid;
    redisContext *rc;
    uint64_t next_connect;
};

struct tg_api_pool {
    struct tg_config_holder *config;
    pthread_mutex_t mu; /* guards both lanes */
    struct lane lanes[NLANES];
    size_t queue_max;
    int stopping;
    int stopped;
    struct pool_thread *threads;
    int nthreads; /* over all lanes */
};

struct route {
    struct tg_api_pool *pool;
    struct tg_api_route_spec spec;
};

/* ---- the request copy ---- */

const char *tg_api_header(const struct tg_api_request *r, const char *lcname)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i].name, lcname) == 0)
            return r->headers[i].value;
    return NULL;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes application/x-www-form-urlencoded text of n bytes into out; returns its length. */
static size_t url_decode(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < outlen; i++) {
        if (s[i] == '+')
            out[o++] = ' ';
        else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0)
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])), i += 2;
        else
            out[o++] = s[i];
    }
    out[o] = '\0';
    return o;
}

const char *tg_api_query(const struct tg_api_request *r, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = r->query; *p;) {
        size_t n = strcspn(p, "&");
        if (n > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            url_decode(p + nl + 1, n - nl - 1, out, outlen);
            return out;
        }
        p += n + (p[n] == '&');
    }
    return NULL;
}

static void copy_request(struct tg_api_request *r, h2o_req_t *req)
{
    size_t q = req->query_at;
    r->method = tg_xstrndup(req->method.base, req->method.len);
    r->path = tg_xstrndup(req->path.base, q != SIZE_MAX ? q : req->path.len);
    r->query =
        q != SIZE_MAX ? tg_xstrndup(req->path.base + q + 1, req->path.len - q - 1) : tg_xstrdup("");
    r->body = tg_xstrndup(req->entity.base ? req->entity.base : "", req->entity.len);
    r->bodylen = req->entity.len;
    r->nheaders = req->headers.size < MAX_HEADERS ? req->headers.size : MAX_HEADERS;
    r->headers = tg_xcalloc(r->nheaders ? r->nheaders : 1, sizeof *r->headers);
    for (size_t i = 0; i < r->nheaders; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        r->headers[i].name = tg_xstrndup(h->name->base, h->name->len);
        r->headers[i].value = tg_xstrndup(h->value.base, h->value.len);
    }
    tg_http_peer(req, r->remote, sizeof r->remote);
}

static void free_job(struct api_job *j)
{
    struct tg_api_request *r = &j->req;
    for (size_t i = 0; i < r->nheaders; i++)
        free(r->headers[i].name), free(r->headers[i].value);
    free(r->headers), free(r->method), free(r->path), free(r->query), free(r->body);
    free(j->content_type), free(j->body), free(j);
}

/* ---- answers ---- */

static void release_job(struct api_job *j)
{
    if (__atomic_sub_fetch(&j->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free_job(j);
}

static void on_answer(void *arg) /* loop thread */
{
    struct api_job *j = arg;
    tg_http_ticket_reply_typed(&j->ticket, j->status, j->content_type, j->body ? j->body : "",
                               j->len);
    release_job(j);
}

void tg_api_answer(struct tg_api_ctx *ctx, int status, const char *content_type, const char *body,
                   size_t len)
{
    struct api_job *j = ctx->job;
    if (j->answered)
        return;
    j->answered = 1;
    j->status = status;
    j->content_type = tg_xstrdup(content_type);
    /* A chat answer is a chat message, a deployment carries free text from pipelines and
     * voters: no token-shaped value in either (scrub.h). */
    j->body = j->scrub ? tg_scrub(body, len, &j->len) : NULL;
    if (j->body == NULL) {
        j->body = tg_xstrndup(body, len);
        j->len = len;
    }
    ctx->job = NULL; /* the job now belongs to the loop */
    tg_loop_post(j->loop, on_answer, j);
}

void tg_api_json(struct tg_api_ctx *ctx, int status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT);
    tg_api_answer(ctx, status, "application/json", s ? s : "{}", s ? strlen(s) : 2);
    free(s);
    json_decref(body);
}

void tg_api_error(struct tg_api_ctx *ctx, int status, const char *error, const char *detail)
{
    tg_api_json(ctx, status, json_pack("{s:s, s:s?}", "error", error, "detail", detail));
}

const struct tg_api_token *tg_api_bearer(struct tg_api_ctx *ctx, const struct tg_api_request *req,
                                         unsigned scope)
{
    const char *h = tg_api_header(req, "authorization");
    const struct tg_api_token *t = NULL;
    if (h && strncasecmp(h, "Bearer ", 7) == 0)
        t = tg_config_find_api_token(ctx->cfg, h + 7, strlen(h + 7));
    if (t == NULL) {
        tg_api_error(ctx, 401, "unauthorized", "a valid bearer token is required");
        return NULL;
    }
    if ((t->scopes & scope) != scope) {
        tg_api_error(ctx, 403, "forbidden", "the token lacks the scope this call needs");
        return NULL;
    }
    return t;
}

void tg_api_gate_bearer(void *data, const struct tg_config *cfg, const struct tg_api_request *req,
                        struct tg_api_verdict *out)
{
    const char *h = tg_api_header(req, "authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0 &&
        tg_config_find_api_token(cfg, h + 7, strlen(h + 7)))
        return;
    tg_metrics_inc(TG_M_API_REJECTED_UNAUTHORIZED);
    if (data)
        tg_tally_add(data, "rejected", h ? "bad bearer token" : "no bearer token", 401, "api",
                     req->remote, tg_now_ms());
    *out = (struct tg_api_verdict){401, "unauthorized", "a valid bearer token is required"};
}

/* ---- the pool ---- */

static struct api_job *next_job(struct tg_api_pool *p, struct lane *l)
{
    pthread_mutex_lock(&p->mu);
    while (l->head == NULL && !p->stopping)
        pthread_cond_wait(&l->cond, &p->mu);
    struct api_job *j = l->head;
    if (j && (l->head = j->next) == NULL)
        l->tail = NULL;
    if (j) {
        l->queued--;
        tg_metrics_add(TG_M_API_QUEUED, -1);
    }
    pthread_mutex_unlock(&p->mu);
    return j;
}

static void ensure_redis(struct pool_thread *pt, const struct tg_config *cfg)
{
    char err[256];
    uint64_t now = tg_mono_ms();
    if (pt->rc && pt->rc->err) {
        redisFree(pt->rc);
        pt->rc = NULL;
    }
    if (pt->rc || now < pt->next_connect)
        return;
    pt->rc = tg_redis_connect_url(cfg->redis.url, cfg->limits.redis_timeout_ms, err, sizeof err);
    if (pt->rc == NULL) {
        tg_log_msg(TG_LOG_WARN, TG_MODULE, "redis_unavailable", "%s", err);
        pt->next_connect = now + 1000;
    }
}

static void run_job(struct pool_thread *pt, struct api_job *j, struct tg_audit **audit,
                    const struct tg_config **audit_for)
{
    struct tg_api_ctx ctx = {.cfg = tg_config_holder_get(pt->pool->config), .job = j};
    tg_audit_follow(audit, audit_for, ctx.cfg);
    ensure_redis(pt, ctx.cfg);
    ctx.rc = pt->rc;
    ctx.audit = *audit;
    if (tg_http_ticket_gone(&j->ticket)) {
        /* The client reset the stream or closed the connection while the job waited: nobody
         * would read the answer, and an abuser's resets must not cost work. */
        tg_metrics_inc(TG_M_API_DROPPED);
        tg_api_answer(&ctx, 499, "text/plain", "", 0);
    } else {
        j->fn(j->data, &ctx, &j->req);
    }
    if (ctx.job) {
        tg_log_msg(TG_LOG_ERROR, TG_MODULE, "no_answer", "%s %s: the handler gave no answer",
                   j->req.method, j->req.path);
        tg_api_error(&ctx, 500, "internal", "the handler gave no answer");
    }
    release_job(j);
    tg_config_unref(ctx.cfg);
}

static void *pool_main(void *arg)
{
    struct pool_thread *pt = arg;
    struct tg_audit *audit = NULL;
    const struct tg_config *audit_for = NULL;
    struct api_job *j;
    while ((j = next_job(pt->pool, pt->lane)) != NULL)
        run_job(pt, j, &audit, &audit_for);
    tg_audit_free(audit);
    if (pt->rc)
        redisFree(pt->rc);
    return NULL;
}

struct tg_api_pool *tg_api_pool_new(struct tg_config_holder *config, int nthreads, size_t queue_max)
{
    struct tg_api_pool *p = tg_xcalloc(1, sizeof *p);
    int per_lane = nthreads > 0 ? nthreads : 1;
    p->config = config;
    p->queue_max = queue_max > 0 ? queue_max : 1;
    p->nthreads = per_lane * NLANES;
    pthread_mutex_init(&p->mu, NULL);
    for (int l = 0; l < NLANES; l++)
        pthread_cond_init(&p->lanes[l].cond, NULL);
    p->threads = tg_xcalloc((size_t)p->nthreads, sizeof *p->threads);
    for (int i = 0; i < p->nthreads; i++) {
        p->threads[i].pool = p;
        p->threads[i].lane = &p->lanes[i / per_lane];
        pthread_create(&p->threads[i].tid, NULL, pool_main, &p->threads[i]);
    }
    return p;
}

void tg_api_pool_stop(struct tg_api_pool *p)
{
    if (p == NULL || p->stopped)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    for (int l = 0; l < NLANES; l++)
        pthread_cond_broadcast(&p->lanes[l].cond);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i].tid, NULL);
    pthread_mutex_lock(&p->mu);
    p->stopped = 1;
    pthread_mutex_unlock(&p->mu);
}

void tg_api_pool_free(struct tg_api_pool *p)
{
    if (p == NULL)
        return;
    tg_api_pool_stop(p);
    pthread_mutex_destroy(&p->mu);
    for (int l = 0; l < NLANES; l++)
        pthread_cond_destroy(&p->lanes[l].cond);
    free(p->threads);
    free(p);
}

/* Runs the route's gate on the loop; 0 to go on, else it answered. A route with a once-only
 * header authenticates the connection only once that header is claimed (claim_once). */
static int gate(struct route *rt, h2o_req_t *req, const struct tg_api_request *copy)
{
    struct tg_api_verdict v = {0};
    struct tg_config *cfg = tg_config_holder_get(rt->pool->config);
    rt->spec.gate(rt->spec.data, cfg, copy, &v);
    tg_config_unref(cfg);
    if (v.status == 0) {
        if (rt->spec.once == NULL)
            tg_server_authenticated(req);
        return 0;
    }
    tg_http_error(req, rt->spec.route, v.status, v.error, v.detail);
    return -1;
}

static struct lane *lane_of(struct route *rt, h2o_req_t *req)
{
    enum tg_api_lane l = rt->spec.lane;
    if (l == TG_LANE_ACT_ON_POST)
        l = tg_http_method_is(req, "POST") ? TG_LANE_ACT : TG_LANE_READ;
    return &rt->pool->lanes[l == TG_LANE_ACT ? 1 : 0];
}

/* Queues j on l: 0, or -1 (shutting down) / -2 (the lane is full). */
static int enqueue(struct tg_api_pool *p, struct lane *l, struct api_job *j)
{
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    if (p->stopping) {
        rc = -1;
    } else if (l->queued >= p->queue_max) {
        rc = -2;
    } else {
        if (l->tail)
            l->tail->next = j;
        else
            l->head = j;
        l->tail = j;
        l->queued++;
        tg_metrics_add(TG_M_API_QUEUED, 1);
        pthread_cond_signal(&l->cond);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

/* ChatOps and API bodies are small (a form, a button callback, {"comment"}): anything over
 * TG_API_MAX_BODY (or limits.max_body when lower) is refused before it is copied, parsed or
 * authenticated, so a stranger's large body costs the loop nothing. 1 when it answered 413. */
static int too_large(struct route *rt, h2o_req_t *req)
{
    struct tg_config *cfg = tg_config_holder_get(rt->pool->config);
    size_t cap = cfg->limits.max_body < TG_API_MAX_BODY ? cfg->limits.max_body : TG_API_MAX_BODY;
    tg_config_unref(cfg);
    if (req->entity.len <= cap)
        return 0;
    tg_metrics_inc(rt->spec.route == TG_ROUTE_CHATOPS ? TG_M_CHATOPS_REJECTED_TOO_LARGE
                                                      : TG_M_API_REJECTED_TOO_LARGE);
    tg_http_error(req, rt->spec.route, 413, "too_large",
                  "the body exceeds this route's limit (64 KiB, or limits.max_body when lower)");
    return 1;
}

/* Queues a gated job whose ticket is set; answers (and frees it) when it cannot. */
static void queue_job(struct route *rt, struct api_job *j)
{
    h2o_req_t *req = j->ticket.req;
    int rc = enqueue(rt->pool, j->lane, j);
    if (rc == 0)
        return;
    if (rc == -2) {
        tg_metrics_inc(TG_M_API_QUEUE_FULL);
        tg_http_retry_after(req, RETRY_AFTER_S);
        tg_http_ticket_error(&j->ticket, 503, "busy",
                             "too many requests are waiting; retry shortly");
    } else {
        tg_http_ticket_error(&j->ticket, 503, "unavailable", "the gateway is shutting down");
    }
    free_job(j);
}

static void on_claimed(redisReply *reply, void *data) /* loop thread */
{
    struct api_job *j = data;
    struct route *rt = j->route;
    if (tg_http_ticket_gone(&j->ticket) || j->ticket.req == NULL) {
        tg_metrics_inc(TG_M_API_DROPPED);
        tg_http_ticket_error(&j->ticket, 499, "gone", NULL);
        free_job(j);
    } else if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        tg_http_ticket_error(&j->ticket, 503, "unavailable",
                             "Tollgate cannot reach its database right now");
        free_job(j);
    } else if (reply->type == REDIS_REPLY_NIL) {
        tg_metrics_inc(TG_M_REPLAYS_REFUSED);
        rt->spec.once->on_replay(rt->spec.data, &j->req);
        tg_http_ticket_error(&j->ticket, 401, "unauthorized",
                             "this signed request was seen before");
        free_job(j);
    } else {
        tg_server_authenticated(j->ticket.req);
        queue_job(rt, j);
    }
}

/* Claims the route's once-only header in Redis from the loop; on_claimed goes on. */
static void claim_once(struct route *rt, struct api_job *j)
{
    const struct tg_api_once *o = rt->spec.once;
    const char *value = tg_api_header(&j->req, o->header);
    struct tg_config *cfg = tg_config_holder_get(rt->pool->config);
    char *key = tg_xasprintf("%s%s%s", cfg->redis.prefix, o->key, value ? value : "");
    char ttl[16];
    tg_config_unref(cfg);
    snprintf(ttl, sizeof ttl, "%d", o->ttl_s);
    const char *argv[] = {"SET", key, "1", "NX", "EX", ttl};
    size_t lens[] = {3, strlen(key), 1, 2, 2, strlen(ttl)};
    struct tg_redis_loop_call call = {6, argv, lens, on_claimed, j};
    if (tg_redis_loop_command(tg_loop_redis(j->loop), &call)) {
        tg_http_ticket_error(&j->ticket, 503, "unavailable",
                             "Tollgate cannot reach its database right now");
        free_job(j);
    }
    free(key);
}

static int on_request(void *data, h2o_req_t *req) /* loop thread */
{
    struct route *rt = data;
    if (too_large(rt, req))
        return 0;
    struct api_job *j = tg_xcalloc(1, sizeof *j);
    copy_request(&j->req, req);
    if (gate(rt, req, &j->req)) {
        free_job(j);
        return 0;
    }
    j->fn = rt->spec.fn, j->data = rt->spec.data, j->loop = tg_loop_of(req), j->refs = 2;
    j->route = rt, j->lane = lane_of(rt, req);
    j->scrub = rt->spec.scrub_answer || rt->spec.route == TG_ROUTE_CHATOPS;
    tg_http_ticket_init(&j->ticket, req, rt->spec.route); /* before a pool thread can see it */
    if (rt->spec.once)
        claim_once(rt, j);
    else
        queue_job(rt, j);
    return 0;
}

void tg_api_route(struct tg_server *s, struct tg_api_pool *p, const struct tg_api_route_spec *spec)
{
    struct route *rt = tg_xcalloc(1, sizeof *rt);
    rt->pool = p;
    rt->spec = *spec;
    rt->spec.path = tg_xstrdup(spec->path);
    tg_server_route(s, rt->spec.path, on_request, rt);
}
