/* maint.c -- the main thread's housekeeping while the gateway runs: held audit summaries,
 * and audit retention (one archive pass per tick when audit.retention and audit.archive are
 * both set; the main thread serves no request, so a pass never holds up ingest or approvals). */
#include "audit/maint.h"
#include "audit/audit_keys.h"
#include "audit/audit_archive.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/redisconn.h"
#include "base/util.h"

#include <stdlib.h>

#define TG_MODULE "maint"

#define MAX_HELD 1024 /* summaries kept for a retry while the audit trail fails */

struct held {
    char action[16];
    json_t *details;
};

struct tg_maint {
    struct tg_config_holder *config;
    struct held held[MAX_HELD];
    int nheld;
    struct tg_tally *tally;
    redisContext *rc;
    struct tg_audit *audit;
    const struct tg_config *audit_for;
};

struct tg_maint *tg_maint_new(struct tg_config_holder *config, struct tg_tally *tally)
{
    struct tg_maint *m = tg_xcalloc(1, sizeof *m);
    m->config = config;
    m->tally = tally;
    return m;
}

void tg_maint_free(struct tg_maint *m)
{
    if (m == NULL)
        return;
    if (m->rc)
        redisFree(m->rc);
    for (int i = 0; i < m->nheld; i++)
        json_decref(m->held[i].details);
    tg_audit_free(m->audit);
    free(m);
}

/* A connection and an audit writer for cfg; -1 when Redis cannot be reached now. */
static int ready(struct tg_maint *m, const struct tg_config *cfg)
{
    char err[256];
    tg_audit_follow(&m->audit, &m->audit_for, cfg);
    if (m->rc && m->rc->err) {
        redisFree(m->rc);
        m->rc = NULL;
    }
    if (m->rc == NULL)
        m->rc = tg_redis_connect_url(cfg->redis.url, cfg->limits.redis_timeout_ms, err, sizeof err);
    return m->rc ? 0 : -1;
}

static int append(struct tg_maint *m, const struct tg_config *cfg, const struct tg_audit_record *r)
{
    char err[256];
    if (ready(m, cfg) == 0 && tg_audit_append(m->audit, m->rc, r, err, sizeof err) == 0)
        return 0;
    TG_LOG(TG_LOG_ERROR, "audit_failed", "cannot record %s", r->action);
    return -1;
}

/* A summary that could not be recorded is held and tried again on the next tick, so an
 * audit outage does not lose the count of what was refused meanwhile. */
static void hold(struct tg_maint *m, const char *action, json_t *details)
{
    if (m->nheld == MAX_HELD) {
        TG_LOG(TG_LOG_ERROR, "summary_lost", "%s summary dropped: %d already waiting", action,
               MAX_HELD);
        return;
    }
    snprintf(m->held[m->nheld].action, sizeof m->held[0].action, "%s", action);
    m->held[m->nheld++].details = json_incref(details);
}

static void retry_held(struct tg_maint *m, const struct tg_config *cfg)
{
    int keep = 0;
    for (int i = 0; i < m->nheld; i++) {
        struct tg_audit_record r = {.action = m->held[i].action, .details = m->held[i].details};
        if (append(m, cfg, &r) == 0)
            json_decref(m->held[i].details);
        else
            m->held[keep++] = m->held[i];
    }
    m->nheld = keep;
}

struct flush {
    struct tg_maint *m;
    const struct tg_config *cfg;
};

static void on_bucket(void *arg, const char *action, json_t *details)
{
    struct flush *f = arg;
    struct tg_audit_record r = {.action = action, .details = details};
    if (append(f->m, f->cfg, &r))
        hold(f->m, action, details);
}

static void flush(struct tg_maint *m, int all)
{
    struct flush f = {m, tg_config_holder_get(m->config)};
    retry_held(m, f.cfg);
    tg_tally_flush(m->tally, tg_now_ms(), all, on_bucket, &f);
    tg_config_unref((struct tg_config *)f.cfg);
}

/* One bounded archive pass; a process without audit.archive never archives. */
static void archive(struct tg_maint *m)
{
    struct tg_config *cfg = tg_config_holder_get(m->config);
    char err[256];
    if (cfg->audit.retention_ms && cfg->audit.archive && ready(m, cfg) == 0) {
        struct tg_audit_archive_args a = {.prefix = cfg->redis.prefix,
                                          .dir = cfg->audit.archive,
                                          .retention_ms = cfg->audit.retention_ms,
                                          .now_ms = tg_now_ms(),
                                          .batch = TG_AUDIT_ARCHIVE_BATCH,
                                          .lease_ms = TG_AUDIT_ARCHIVE_LEASE_MS};
        int n = tg_audit_archive_pass(m->rc, &a, err, sizeof err);
        if (n < 0) {
            tg_metrics_inc(TG_M_AUDIT_ARCHIVE_FAILURES);
            tg_log_msg(TG_LOG_ERROR, "audit", "archive_failed", "%s", err);
        } else if (n > 0)
            tg_log_msg(TG_LOG_INFO, "audit", "archived", "%d records into %s", n,
                       cfg->audit.archive);
    }
    tg_config_unref(cfg);
}

void tg_maint_tick(struct tg_maint *m)
{
    flush(m, 0);
    archive(m);
}

void tg_maint_record(struct tg_maint *m, const struct tg_audit_record *r)
{
    struct tg_config *cfg = tg_config_holder_get(m->config);
    append(m, cfg, r);
    tg_config_unref(cfg);
}

void tg_maint_final(struct tg_maint *m)
{
    flush(m, 1);
    struct tg_config *cfg = tg_config_holder_get(m->config);
    if (ready(m, cfg) == 0) {
        redisReply *r =
            redisCommand(m->rc, "HMGET %s seq hash", TG_AUDIT_KEY(cfg->redis.prefix, TG_AK_HEAD));
        if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING)
            tg_log_msg(TG_LOG_INFO, "audit", "head", "seq %s hash %s", r->element[0]->str,
                       r->element[1]->str);
        freeReplyObject(r);
    }
    tg_config_unref(cfg);
}
