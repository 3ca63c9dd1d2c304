/* api.c -- the blocking-work pool behind the API and ChatOps routes (loop side: api_route.c).
 *
 *   loop thread (api_route.c): on_request copies the request, runs the route's gate
 * (authentication: a refusal is answered here and nothing is queued), counts it in flight (ticket),
 * queues it on its lane (bounded: 503 + Retry-After when full)
 *                                                            -> lane queue (mutex + cond)
 *   pool thread: drops the job when its client went away, else runs the handler with its own
 *                Redis connection and audit writer; the first tg_api_answer posts the answer
 *                back                                        -> tg_loop_post(job->loop)
 *   loop thread (api_route.c): tg_api_job_deliver sends it if the client is still there,
 *                frees the job
 *
 * Two lanes, each with its own queue and threads: "act" (approvals, chat) and "read" (listings,
 * verify), so a long read never delays an approval.
 */
#include "api/api.h"
#include "api/api_impl.h"
#include "base/log.h"
#include "base/redisconn.h"
#include "base/scrub.h"
#include "base/util.h"
#include "console/console_auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TG_MODULE "api"

struct pool_thread {
    struct tg_api_pool *pool;
    struct lane *lane;
    pthread_t tid;
    redisContext *rc;
    uint64_t next_connect;
};

/* ---- answers ---- */

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
    tg_loop_post(j->loop, tg_api_job_deliver, j);
}

void tg_api_headers(struct tg_api_ctx *ctx, const char *const *headers)
{
    struct api_job *j = ctx->job;
    size_t n = 0;
    if (j == NULL || j->answered)
        return;
    for (char **h = j->headers; h && *h; h++)
        free(*h);
    free(j->headers);
    while (headers && headers[n])
        n++;
    j->headers = tg_xcalloc(n + 1, sizeof *j->headers);
    for (size_t i = 0; i < n; i++)
        j->headers[i] = tg_xstrdup(headers[i]);
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
    const struct tg_api_token *t = req->session ? &req->session->token : NULL;
    if (t == NULL && h && strncasecmp(h, "Bearer ", 7) == 0)
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
        TG_LOG(TG_LOG_WARN, "redis_unavailable", "%s", err);
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
        TG_LOG(TG_LOG_ERROR, "no_answer", "%s %s: the handler gave no answer", j->req.method,
               j->req.path);
        tg_api_error(&ctx, 500, "internal", "the handler gave no answer");
    }
    tg_api_job_release(j);
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

int tg_api_pool_enqueue(struct tg_api_pool *p, struct lane *l, struct api_job *j)
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
