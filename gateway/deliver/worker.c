/* worker.c -- the threads that consume the queue.
 *
 * One loop iteration does at most one unit of work, in this order: take back expired trigger
 * leases, complete effects a stopped worker left in the outbox and chain the audit inbox
 * (once a second), run one due reconciliation check, run one due trigger retry, take over one
 * entry idle past queue.claim_idle (once a second), or wait up to a second for a new entry.
 * Entries are acknowledged only after deliver.c recorded their outcome.
 */
#include "deliver/worker.h"
#include "approvals/approval.h"
#include "deliver/deliver.h"
#include "deliver/deploy.h"
#include "base/log.h"
#include "base/metrics.h"
#include "deliver/outbox.h"
#include "deliver/queue.h"
#include "deliver/reconcile.h"
#include "base/redisconn.h"
#include "deliver/trigger.h"
#include "base/util.h"
#include "deliver/workctx.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TG_MODULE   "worker"
#define BLOCK_MS    1000
#define PERIODIC_MS 1000

struct worker {
    struct tg_workers *pool;
    pthread_t tid;
    int index;
    struct tg_work w;
    const struct tg_config *built_for; /* the config the client and audit writer were made from */
    char cursor[64];
    uint64_t next_sweep, next_claim, next_connect, backoff_ms;
    atomic_int connected;
};

struct tg_workers {
    struct tg_config_holder *config;
    struct worker *threads;
    int n;
    atomic_int stop;
    char consumer[128];
};

static void disconnect(struct worker *wk)
{
    if (wk->w.rc)
        redisFree(wk->w.rc);
    wk->w.rc = NULL;
    atomic_store(&wk->connected, 0);
}

static int connect_redis(struct worker *wk, const struct tg_config *cfg)
{
    char err[256];
    uint64_t now = tg_mono_ms();
    if (now < wk->next_connect)
        return -1;
    /* The command timeout must outlast XREADGROUP's BLOCK. */
    wk->w.rc = tg_redis_connect_url(cfg->redis.url, cfg->limits.redis_timeout_ms + BLOCK_MS + 1000,
                                    err, sizeof err);
    if (wk->w.rc == NULL || tg_queue_ensure_group(wk->w.rc, cfg->redis.prefix)) {
        TG_LOG(TG_LOG_WARN, "redis_unavailable", "%s",
               wk->w.rc ? "cannot create the consumer group" : err);
        disconnect(wk);
        wk->backoff_ms =
            wk->backoff_ms ? (wk->backoff_ms * 2 > 5000 ? 5000 : wk->backoff_ms * 2) : 100;
        wk->next_connect = now + wk->backoff_ms;
        return -1;
    }
    wk->backoff_ms = 0;
    atomic_store(&wk->connected, 1);
    return 0;
}

/* The GitLab client and audit writer follow the config (a reload may change either). */
static void refresh_clients(struct worker *wk, const struct tg_config *cfg)
{
    if (wk->built_for == cfg)
        return;
    tg_gitlab_api_free(wk->w.api);
    tg_audit_free(wk->w.audit);
    wk->w.api =
        tg_gitlab_api_new(cfg->gitlab.url, cfg->gitlab.api_token.value, cfg->gitlab.api_token.len,
                          cfg->gitlab.timeout_ms, cfg->gitlab.ca_file);
    tg_gitlab_api_set_trigger_timeout(wk->w.api, cfg->trigger.timeout_ms);
    wk->w.audit = tg_audit_new(cfg);
    wk->built_for = cfg;
}

/* A lease taken back: its effect (a `reconciling` record) is completed at once. */
static void on_swept(void *arg, const char *key, const char *became, const char *effect_id)
{
    TG_LOG(TG_LOG_WARN, "lease_expired", "%s: the worker holding it stopped; now %s",
           key ? key : "?", became ? became : "?");
    if (effect_id && *effect_id)
        tg_outbox_complete_id(arg, effect_id); /* a failure leaves it to the outbox sweep */
}

static void dead_letter(struct worker *wk, const struct tg_queue_entry *e, const char *reason)
{
    const char *prefix = wk->w.cfg->redis.prefix;
    json_t *details = json_pack(
        "{s:s, s:I, s:s#}", "stream_id", e->id, "deliveries", (json_int_t)e->deliveries,
        "idempotency_key", e->field[TG_QF_IDEMPOTENCY_KEY], (int)e->len[TG_QF_IDEMPOTENCY_KEY]);
    json_t *reasons = json_pack("[s]", reason);
    struct tg_audit_record r = {.action = "dead_lettered", .reasons = reasons, .details = details};
    tg_work_audit(&wk->w, &r);
    json_decref(details);
    json_decref(reasons);
    tg_metrics_inc(TG_M_EVENTS_DEAD);
    TG_LOG(TG_LOG_ERROR, "dead_lettered", "entry %s after %lld deliveries: %s", e->id,
           e->deliveries, reason);
    if (tg_queue_dead_letter(wk->w.rc, prefix, e, reason))
        disconnect(wk);
}

static void handle_entry(struct worker *wk, const struct tg_queue_entry *e)
{
    const struct tg_config *cfg = wk->w.cfg;
    char reason[512] = "";
    if (e->deliveries > cfg->queue.max_attempts) {
        char last[400];
        tg_queue_last_failure(wk->w.rc, cfg->redis.prefix, e->id, last, sizeof last);
        snprintf(reason, sizeof reason, "failed %lld times; last: %s", e->deliveries - 1,
                 last[0] ? last : "unknown");
        dead_letter(wk, e, reason);
        return;
    }
    enum tg_deliver_result res = tg_deliver(&wk->w, e, reason, sizeof reason);
    if (res == TG_DELIVER_DEAD) {
        dead_letter(wk, e, reason);
    } else if (res == TG_DELIVER_RETRY) {
        tg_metrics_inc(TG_M_EVENTS_FAILED);
        TG_LOG(TG_LOG_WARN, "will_retry", "entry %s (delivery %lld): %s", e->id, e->deliveries,
               reason);
        if (wk->w.rc && tg_queue_note_failure(wk->w.rc, cfg->redis.prefix, e->id, reason))
            disconnect(wk);
    } else {
        tg_metrics_inc(TG_M_EVENTS_PROCESSED);
        if (tg_queue_ack(wk->w.rc, cfg->redis.prefix, e->id))
            disconnect(wk);
    }
}

/* One unit of work; returns -1 when the connection failed. */
static int step(struct worker *wk)
{
    const struct tg_config *cfg = wk->w.cfg;
    struct tg_queue_entry e;
    char key[512];
    uint64_t now = tg_mono_ms();
    int rc = 0;
    if (now >= wk->next_sweep) {
        wk->next_sweep = now + PERIODIC_MS;
        if (tg_deploy_sweep(wk->w.rc, cfg->redis.prefix,
                            cfg->trigger.timeout_ms + cfg->trigger.settle_ms, on_swept,
                            &wk->w) < 0 ||
            tg_outbox_sweep(&wk->w) < 0 || tg_audit_drain_inbox(wk->w.audit, wk->w.rc, 100) < 0 ||
            tg_approval_sweep(&wk->w) < 0)
            return -1;
    }
    int may_trigger =
        !cfg->audit.fail_closed || tg_audit_healthy(); /* no retry while the trail fails */
    if (may_trigger &&
        (rc = tg_deploy_next_reconcile(wk->w.rc, cfg->redis.prefix, key, sizeof key)) != 0)
        return rc < 0 ? -1 : tg_reconcile_run(&wk->w, key);
    if (may_trigger && (rc = tg_deploy_next_due(wk->w.rc, cfg->redis.prefix, key, sizeof key)) != 0)
        return rc < 0 ? -1 : tg_trigger_run(&wk->w, key);
    if (now >= wk->next_claim) {
        wk->next_claim = now + PERIODIC_MS;
        struct tg_queue_claim q = {wk->pool->consumer, cfg->queue.claim_idle_ms, wk->cursor};
        rc = tg_queue_claim(wk->w.rc, cfg->redis.prefix, &q, &e);
        if (rc == 1) {
            tg_metrics_inc(TG_M_EVENTS_CLAIMED);
            wk->next_claim = now; /* there may be more */
        }
    }
    if (rc == 0)
        rc = tg_queue_read(wk->w.rc, cfg->redis.prefix, wk->pool->consumer, BLOCK_MS, &e);
    if (rc == 1) {
        handle_entry(wk, &e);
        tg_queue_entry_dispose(&e);
    }
    return rc < 0 ? -1 : 0;
}

static void *worker_main(void *arg)
{
    struct worker *wk = arg;
    snprintf(wk->cursor, sizeof wk->cursor, "0-0");
    snprintf(wk->w.owner, sizeof wk->w.owner, "%s:t%d", wk->pool->consumer, wk->index);
    while (!atomic_load(&wk->pool->stop)) {
        wk->w.cfg = tg_config_holder_get(wk->pool->config);
        refresh_clients(wk, wk->w.cfg);
        if (wk->w.rc == NULL && connect_redis(wk, wk->w.cfg)) {
            tg_config_unref(wk->w.cfg);
            usleep(100 * 1000);
            continue;
        }
        if (step(wk) < 0) {
            TG_LOG(TG_LOG_WARN, "redis_lost", "%s; reconnecting",
                   wk->w.rc && wk->w.rc->err ? wk->w.rc->errstr : "command failed");
            disconnect(wk);
        }
        tg_config_unref(wk->w.cfg);
    }
    disconnect(wk);
    tg_gitlab_api_free(wk->w.api);
    tg_audit_free(wk->w.audit);
    return NULL;
}

struct tg_workers *tg_workers_start(struct tg_config_holder *config, int n)
{
    struct tg_workers *ws = tg_xcalloc(1, sizeof *ws);
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(ws->consumer, sizeof ws->consumer, "%s:%d", host, (int)getpid());
    ws->config = config;
    ws->n = n;
    ws->threads = tg_xcalloc(n > 0 ? (size_t)n : 1, sizeof *ws->threads);
    for (int i = 0; i < n; i++) {
        ws->threads[i].pool = ws;
        ws->threads[i].index = i;
        pthread_create(&ws->threads[i].tid, NULL, worker_main, &ws->threads[i]);
    }
    if (n > 0)
        TG_LOG(TG_LOG_INFO, "started", "%d worker thread(s) as consumer %s", n, ws->consumer);
    return ws;
}

void tg_workers_stop(struct tg_workers *ws)
{
    if (ws == NULL)
        return;
    atomic_store(&ws->stop, 1);
    for (int i = 0; i < ws->n; i++)
        pthread_join(ws->threads[i].tid, NULL);
    free(ws->threads);
    free(ws);
}

const char *tg_workers_probe(void *arg)
{
    struct tg_workers *ws = arg;
    for (int i = 0; i < ws->n; i++)
        if (!atomic_load(&ws->threads[i].connected))
            return "a worker thread has no Redis connection";
    return NULL;
}
