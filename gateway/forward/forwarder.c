/* forwarder.c -- the DefectDojo lane's threads (see forwarder.h).
 *
 * One iteration: refresh the outbox gauges (once a second), claim one due job and run its
 * attempt, or sleep briefly when none is due. A lost Redis connection is re-made with backoff.
 */
#include "forward/forwarder.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/redisconn.h"
#include "base/util.h"
#include "deliver/workctx.h"
#include "forward/dojo_config.h"
#include "forward/forward.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define TG_MODULE "forwarder"
#define IDLE_MS   100

struct forwarder {
    struct tg_forwarders *pool;
    pthread_t tid;
    int index;
    struct tg_work w;
    const struct tg_config *built_for;
    uint64_t next_gauge, next_connect, backoff_ms;
};

struct tg_forwarders {
    struct tg_config_holder *config;
    struct forwarder *threads;
    int n;
    atomic_int stop;
};

uint64_t tg_forward_lease_ms(const struct tg_config *cfg)
{
    uint64_t upload = cfg->defectdojo ? cfg->defectdojo->timeout_ms : 30000;
    return cfg->gitlab.timeout_ms + upload + 30000;
}

static void refresh_clients(struct forwarder *f, const struct tg_config *cfg)
{
    if (f->built_for == cfg)
        return;
    tg_gitlab_api_free(f->w.api);
    tg_audit_free(f->w.audit);
    f->w.api =
        tg_gitlab_api_new(cfg->gitlab.url, cfg->gitlab.api_token.value, cfg->gitlab.api_token.len,
                          cfg->gitlab.timeout_ms, cfg->gitlab.ca_file);
    f->w.audit = tg_audit_new(cfg);
    tg_gitlab_api_set_abort(f->w.api, &f->pool->stop);
    f->w.stop = &f->pool->stop;
    f->built_for = cfg;
}

static int connect_redis(struct forwarder *f, const struct tg_config *cfg)
{
    char err[256];
    uint64_t now = tg_mono_ms();
    if (now < f->next_connect)
        return -1;
    f->w.rc = tg_redis_connect_url(cfg->redis.url, cfg->limits.redis_timeout_ms, err, sizeof err);
    if (f->w.rc == NULL) {
        TG_LOG(TG_LOG_WARN, "redis_unavailable", "%s", err);
        f->backoff_ms = f->backoff_ms ? (f->backoff_ms * 2 > 5000 ? 5000 : f->backoff_ms * 2) : 100;
        f->next_connect = now + f->backoff_ms;
        return -1;
    }
    f->backoff_ms = 0;
    return 0;
}

static void gauges(struct forwarder *f)
{
    long long pending, dead;
    uint64_t now = tg_mono_ms();
    if (f->index != 0 || now < f->next_gauge)
        return;
    f->next_gauge = now + 1000;
    if (tg_fwd_depth(f->w.rc, f->w.cfg->redis.prefix, &pending, &dead) < 0)
        return;
    tg_metrics_add(TG_M_DOJO_OUTBOX, pending - (int64_t)tg_metrics_get(TG_M_DOJO_OUTBOX));
    tg_metrics_add(TG_M_DOJO_DEAD_LETTERS, dead - (int64_t)tg_metrics_get(TG_M_DOJO_DEAD_LETTERS));
}

/* One unit of work: -1 when Redis failed, 0 when idle, 1 after an attempt. */
static int step(struct forwarder *f)
{
    const struct tg_config *cfg = f->w.cfg;
    struct tg_fwd_claim cl;
    if (cfg->defectdojo == NULL)
        return 0; /* removed by a reload: jobs wait in the outbox */
    gauges(f);
    int rc = tg_fwd_claim(f->w.rc, cfg->redis.prefix, f->w.owner, tg_forward_lease_ms(cfg), &cl);
    if (rc == 1)
        rc = tg_forward_attempt(&f->w, &cl) < 0 ? -1 : 1;
    tg_fwd_claim_dispose(&cl);
    return rc;
}

static void *forwarder_main(void *arg)
{
    struct forwarder *f = arg;
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(f->w.owner, sizeof f->w.owner, "%s:%d:f%d", host, (int)getpid(), f->index);
    while (!atomic_load(&f->pool->stop)) {
        f->w.cfg = tg_config_holder_get(f->pool->config);
        refresh_clients(f, f->w.cfg);
        int rc = f->w.rc || connect_redis(f, f->w.cfg) == 0 ? step(f) : 0;
        if (rc < 0) {
            TG_LOG(TG_LOG_WARN, "redis_lost", "reconnecting");
            redisFree(f->w.rc);
            f->w.rc = NULL;
        }
        tg_config_unref(f->w.cfg);
        f->w.cfg = NULL;
        if (rc <= 0)
            usleep(IDLE_MS * 1000);
    }
    if (f->w.rc)
        redisFree(f->w.rc);
    tg_gitlab_api_free(f->w.api);
    tg_audit_free(f->w.audit);
    return NULL;
}

struct tg_forwarders *tg_forwarders_start(struct tg_config_holder *config, int n)
{
    struct tg_forwarders *fs = tg_xcalloc(1, sizeof *fs);
    fs->config = config;
    fs->n = n;
    fs->threads = tg_xcalloc(n > 0 ? (size_t)n : 1, sizeof *fs->threads);
    for (int i = 0; i < n; i++) {
        fs->threads[i].pool = fs;
        fs->threads[i].index = i;
        pthread_create(&fs->threads[i].tid, NULL, forwarder_main, &fs->threads[i]);
    }
    if (n > 0)
        TG_LOG(TG_LOG_INFO, "started", "%d DefectDojo forwarder thread(s)", n);
    return fs;
}

void tg_forwarders_stop(struct tg_forwarders *fs)
{
    if (fs == NULL)
        return;
    atomic_store(&fs->stop, 1);
    for (int i = 0; i < fs->n; i++)
        pthread_join(fs->threads[i].tid, NULL);
    free(fs->threads);
    free(fs);
}
