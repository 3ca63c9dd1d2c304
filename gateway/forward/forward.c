/* forward.c -- forward jobs from decisions, and one attempt of a job (see forward.h). */
#include "forward/forward.h"
#include "approvals/approval.h"
#include "approvals/chat_message.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/util.h"
#include "deliver/deploy.h"
#include "deliver/template.h"
#include "deliver/trigger.h"
#include "forward/defectdojo.h"
#include "forward/dojo_config.h"
#include "forward/scan_type.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_MODULE "forward"

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static long long jint(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

/* json_string of a heap string, freeing it. */
static json_t *own(char *s)
{
    json_t *v = json_string(s);
    free(s);
    return v;
}

/* The rendered DefectDojo names of one report. */
static void put_names(json_t *job, const struct tg_dojo_config *dc, const struct tg_event *ev,
                      const struct tg_decision *d, const char *const *values)
{
    const struct tg_template_extra x = {tg_dojo_extra_names, values, TG_DOJO_X_COUNT};
    const char *names[][2] = {{"product_type_name", dc->product_type},
                              {"product_name", dc->product},
                              {"engagement_name", dc->engagement},
                              {"test_title", dc->test_title}};
    for (size_t i = 0; i < TG_ARRAY_SIZE(names); i++)
        json_object_set_new(job, names[i][0],
                            own(tg_template_render_value(names[i][1], ev, d, &x)));
}

static json_t *job_of(const struct tg_dojo_config *dc, const struct tg_event *ev,
                      const struct tg_decision *d, const json_t *rep, const char *deploy_key)
{
    char why[320] = "";
    const char *format = jstr(rep, "format");
    const char *gl = json_string_value(json_object_get(rep, "scan_type"));
    const char *conf = json_string_value(json_object_get(rep, "defectdojo_scan_type"));
    const char *scan_type = tg_dojo_scan_type(format, gl, conf, why, sizeof why);
    const char *values[TG_DOJO_X_COUNT] = {jstr(rep, "job"), jstr(rep, "artifact"), format,
                                           scan_type ? scan_type : ""};
    long long job_project = jint(rep, "project_id");
    json_t *job = json_pack(
        "{s:I, s:I, s:s, s:s, s:I, s:s, s:s, s:b, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:I}",
        "project_id", (json_int_t)ev->project_id, "job_project_id",
        (json_int_t)(job_project ? job_project : ev->project_id), "project", ev->project_path,
        "project_url", ev->project_url ? ev->project_url : "", "pipeline",
        (json_int_t)ev->pipeline_id, "sha", ev->sha, "ref", ev->ref, "tag", ev->tag, "environment",
        d->environment ? d->environment : "", "dojo_environment",
        tg_dojo_environment(dc, d->environment), "verdict", tg_verdict_name(d->verdict), "user",
        ev->user_username ? ev->user_username : "", "job_id", (json_int_t)jint(rep, "job_id"),
        "job", values[0], "artifact", values[1], "format", format, "bytes",
        (json_int_t)jint(rep, "bytes"));
    json_object_set_new(job, "sha256", json_string(jstr(rep, "sha256")));
    json_object_set_new(job, "deploy_key", json_string(deploy_key ? deploy_key : ""));
    json_object_set_new(job, "entry", own(tg_xasprintf("%s/%s", values[0], values[1])));
    if (scan_type)
        json_object_set_new(job, "scan_type", json_string(scan_type));
    else
        json_object_set_new(job, "scan_type_error", json_string(why));
    put_names(job, dc, ev, d, values);
    return job;
}

int tg_forward_decision(struct tg_work *w, const struct tg_event *ev, const struct tg_decision *d,
                        const char *deploy_key, int force)
{
    const struct tg_dojo_config *dc = w->cfg->defectdojo;
    if (dc == NULL || !(dc->forward & (1u << d->verdict)) || d->verdict == TG_VERDICT_SKIP)
        return 0;
    json_t *reports = json_object_get(d->json, "reports");
    int added = 0;
    for (size_t i = 0; i < json_array_size(reports); i++) {
        const json_t *rep = json_array_get(reports, i);
        if (strcmp(jstr(rep, "status"), "ok") != 0 || jint(rep, "job_id") <= 0)
            continue; /* nothing counted, or offline: nothing DefectDojo could be sent */
        json_t *job = job_of(dc, ev, d, rep, deploy_key);
        int rc = tg_fwd_enqueue(w->rc, w->cfg->redis.prefix, job, force);
        json_decref(job);
        if (rc < 0)
            return -1;
        added += rc;
    }
    return added;
}

/* ---- one attempt ---- */

/* The artifact as it is downloaded: into an unlinked temporary file, hashed. */
struct download {
    FILE *f;
    uint64_t bytes;
    uint64_t limit; /* the counted size: more bytes cannot be the counted ones */
    int has_limit;
    struct tg_sha256 hash;
    int write_failed, too_big;
};

static int on_chunk(void *arg, const void *chunk, size_t n)
{
    struct download *dl = arg;
    if (dl->has_limit && dl->bytes + n > dl->limit) {
        dl->too_big = 1;
        return -1;
    }
    if (fwrite(chunk, 1, n, dl->f) != n) {
        dl->write_failed = 1;
        return -1;
    }
    tg_sha256_update(&dl->hash, chunk, n);
    dl->bytes += n;
    return 0;
}

/* How an attempt ended, for the outbox, the audit record and the metrics. */
struct outcome {
    enum tg_fwd_end end;
    uint64_t next_ms;
    char error[600];
    json_t *result; /* the deployment's entry (owned) */
};

/* Downloads the job's artifact into dl. 0, or -1 with o filled (retry or failed). */
static int download(struct tg_work *w, const json_t *job, struct download *dl, struct outcome *o)
{
    char err[256] = "", sha[TG_SHA256_HEX_LEN + 1];
    unsigned char digest[TG_SHA256_LEN];
    if ((dl->f = tmpfile()) == NULL) {
        o->end = TG_FWD_RETRY;
        snprintf(o->error, sizeof o->error, "no temporary file for the download");
        return -1;
    }
    tg_sha256_init(&dl->hash);
    long status = 0;
    dl->has_limit = json_is_integer(json_object_get(job, "bytes"));
    dl->limit = (uint64_t)jint(job, "bytes");
    struct tg_gitlab_artifact a = {jint(job, "job_project_id"),
                                   jint(job, "job_id"),
                                   jstr(job, "artifact"),
                                   on_chunk,
                                   dl,
                                   &status};
    enum tg_fetch_result r = tg_gitlab_fetch_artifact(w->api, &a, err, sizeof err);
    tg_sha256_final(&dl->hash, digest);
    tg_hex_encode(digest, sizeof digest, sha);
    o->end = TG_FWD_FAILED;
    if (dl->too_big) {
        snprintf(o->error, sizeof o->error,
                 "the artifact changed since it was counted (more than the %llu bytes counted)",
                 (unsigned long long)dl->limit);
    } else if (r == TG_FETCH_NOT_FOUND || status == 410) {
        snprintf(o->error, sizeof o->error, "GitLab no longer has the artifact (expired?)");
    } else if (status == 401 || status == 403) {
        snprintf(o->error, sizeof o->error,
                 "GitLab refused the artifact download (%ld): gitlab.api_token lacks read access "
                 "to the job's artifacts",
                 status);
    } else if (r != TG_FETCH_OK || dl->write_failed) {
        o->end = TG_FWD_RETRY;
        snprintf(o->error, sizeof o->error, "GitLab download: %s",
                 dl->write_failed ? "the temporary file could not be written" : err);
    } else if (strcmp(sha, jstr(job, "sha256")) != 0) {
        snprintf(o->error, sizeof o->error,
                 "the artifact changed since it was counted (sha256 %.16s..., counted %.16s...)",
                 sha, jstr(job, "sha256"));
    } else if (fseeko(dl->f, 0, SEEK_SET) == 0) {
        return 0;
    } else {
        o->end = TG_FWD_RETRY;
        snprintf(o->error, sizeof o->error, "the temporary file could not be rewound");
    }
    return -1;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Uploads the downloaded bytes; fills o from DefectDojo's answer. */
static void upload(struct tg_work *w, const json_t *job, struct download *dl, struct outcome *o)
{
    const struct tg_dojo_config *dc = w->cfg->defectdojo;
    char build[32];
    snprintf(build, sizeof build, "%lld", jint(job, "pipeline"));
    struct tg_dojo_form f = {
        .scan_type = jstr(job, "scan_type"),
        .product_type_name = jstr(job, "product_type_name"),
        .product_name = jstr(job, "product_name"),
        .engagement_name = jstr(job, "engagement_name"),
        .test_title = jstr(job, "test_title"),
        .build_id = build,
        .commit_hash = jstr(job, "sha"),
        .branch_tag = jstr(job, "ref"),
        .version = jstr(job, "sha"),
        .scm_uri = jstr(job, "project_url"),
        .environment = jstr(job, "dojo_environment"),
        .file_name = base_name(jstr(job, "artifact")),
        .abort = w->stop,
    };
    struct tg_dojo_answer a;
    struct tg_dojo_upload up = {.form = &f, .file = dl->f, .size = dl->bytes};
    tg_dojo_reimport(dc, &up, &a);
    if (a.kind == TG_DOJO_OK) {
        o->end = TG_FWD_DONE;
        o->result = json_incref(a.result);
        json_object_set_new(o->result, "url",
                            own(tg_xasprintf("%s/test/%lld", dc->url, jint(a.result, "test_id"))));
    } else {
        o->end = a.kind == TG_DOJO_RETRY ? TG_FWD_RETRY
                 : a.kind == TG_DOJO_KEY ? TG_FWD_DEAD /* waits for the key's fix and a requeue */
                                         : TG_FWD_FAILED;
        snprintf(o->error, sizeof o->error, "%s", a.reason);
        o->next_ms = a.retry_after_ms; /* a floor for the backoff */
    }
    tg_dojo_answer_dispose(&a);
}

/* Characters (UTF-8 code points, as Django counts) of s. */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* DefectDojo's column sizes (dojo/models.py: Product_Type.name, Product.name 255, Engagement.name
 * 300, Test.title 255, Engagement.build_id, commit_hash, branch_tag 150, version 100,
 * Development_Environment.name 200; source_code_management_uri 600 in the serializer). Its
 * serializer checks only the last, so a longer value fails in the database with a 500 that
 * would be retried in vain: such a job is refused here, naming the field. 0, or -1 with o. */
static int fits(const json_t *job, struct outcome *o)
{
    static const struct {
        const char *field, *key, *config;
        size_t max;
    } cols[] = {{"product_type_name", "product_type_name", "defectdojo.product_type", 255},
                {"product_name", "product_name", "defectdojo.product", 255},
                {"engagement_name", "engagement_name", "defectdojo.engagement", 300},
                {"test_title", "test_title", "defectdojo.test_title", 255},
                {"branch_tag", "ref", "the branch or tag", 150},
                {"commit_hash", "sha", "the commit", 150},
                {"version", "sha", "the commit", 100},
                {"environment", "dojo_environment", "defectdojo.environments", 200},
                {"source_code_management_uri", "project_url", "the project URL", 600}};
    for (size_t i = 0; i < TG_ARRAY_SIZE(cols); i++) {
        size_t n = chars(jstr(job, cols[i].key));
        if (n > cols[i].max) {
            snprintf(o->error, sizeof o->error,
                     "%s would be %zu characters, DefectDojo keeps at most %zu (shorten %s)",
                     cols[i].field, n, cols[i].max, cols[i].config);
            return -1;
        }
    }
    return 0;
}

/* A retry after the last try goes to the dead-letter list; else when it is due again. */
static void schedule(const struct tg_dojo_config *dc, int attempt, struct outcome *o)
{
    if (o->end != TG_FWD_RETRY)
        return;
    if (attempt >= dc->tries) {
        o->end = TG_FWD_DEAD;
        return;
    }
    uint64_t random = ((uint64_t)arc4random() << 32) | arc4random();
    uint64_t floor = o->next_ms < dc->cap_ms ? o->next_ms : dc->cap_ms; /* Retry-After, capped */
    o->next_ms = tg_now_ms() + tg_trigger_backoff(dc->base_ms, dc->cap_ms, attempt, floor, random);
}

/* The entry the deployment record shows for a job that will not be forwarded. */
static json_t *failure_entry(const json_t *job, const struct outcome *o)
{
    return json_pack("{s:s, s:s, s:s, s:b}", "result", "failed", "error", o->error, "scan_type",
                     jstr(job, "scan_type"), "dead_lettered", o->end == TG_FWD_DEAD);
}

static void audit(struct tg_work *w, const struct tg_fwd_claim *cl, const struct outcome *o)
{
    const json_t *job = cl->job;
    int ok = o->end == TG_FWD_DONE;
    char once[160];
    /* every attempt series (the first, and each requeue) ends with its own record */
    snprintf(once, sizeof once, "forward:%s:%d:%d", cl->id, cl->generation, ok);
    json_t *details =
        json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:i, s:b}", "job", jstr(job, "job"), "artifact",
                  jstr(job, "artifact"), "job_id", (json_int_t)jint(job, "job_id"), "scan_type",
                  jstr(job, "scan_type"), "sha256", jstr(job, "sha256"), "forward_id", cl->id,
                  "attempt", cl->attempt, "dead_lettered", o->end == TG_FWD_DEAD);
    json_object_set_new(details, "requeued", json_integer(cl->generation));
    if (o->result)
        json_object_update(details, o->result);
    json_t *reasons = ok ? NULL : json_pack("[s]", o->error);
    struct tg_audit_record r = {.action = ok ? "forwarded" : "forward_failed",
                                .project = jstr(job, "project"),
                                .ref = jstr(job, "ref"),
                                .sha = jstr(job, "sha"),
                                .pipeline = jint(job, "pipeline"),
                                .environment = jstr(job, "environment"),
                                .decision = jstr(job, "verdict"),
                                .reasons = reasons,
                                .details = details,
                                .once = once};
    tg_work_audit(w, &r);
    json_decref(details);
    json_decref(reasons);
}

static void count(const struct outcome *o)
{
    static const enum tg_metric m[] = {[TG_FWD_DONE] = TG_M_DOJO_FORWARDED,
                                       [TG_FWD_FAILED] = TG_M_DOJO_FAILED,
                                       [TG_FWD_RETRY] = TG_M_DOJO_RETRIED,
                                       [TG_FWD_DEAD] = TG_M_DOJO_DEAD};
    tg_metrics_inc(m[o->end]);
}

/* A forward usually ends after the approval request was posted: chat gets a short follow-up
 * with the DefectDojo link while the deployment still waits (best effort, once per job). */
static void follow_up(struct tg_work *w, const json_t *job, const json_t *result)
{
    const char *key = jstr(job, "deploy_key");
    if (strcmp(jstr(job, "verdict"), "needs_approval") != 0 || *key == '\0' ||
        tg_chat_targets(w->cfg) == 0)
        return;
    struct tg_deployment d;
    if (tg_deployment_load(w->rc, key, &d) == 1 && d.state &&
        strcmp(d.state, "pending_approval") == 0) {
        char id[TG_APPROVAL_ID_MAX + 1];
        if (d.approval_id)
            snprintf(id, sizeof id, "%s", d.approval_id);
        else
            tg_approval_id(key, TG_APPROVAL_ID_LEN, id);
        char *text = tg_xasprintf("DefectDojo has the %s report of %s pipeline %lld, waiting for "
                                  "approval to %s (deployment %s): %s",
                                  jstr(job, "entry"), jstr(job, "project"), jint(job, "pipeline"),
                                  jstr(job, "environment"), id, jstr(result, "url"));
        tg_chat_notice(w->cfg, text);
        free(text);
    }
    tg_deployment_dispose(&d);
}

int tg_forward_attempt(struct tg_work *w, struct tg_fwd_claim *cl)
{
    const struct tg_dojo_config *dc = w->cfg->defectdojo;
    const json_t *job = cl->job;
    struct outcome o = {.end = TG_FWD_FAILED};
    struct download dl = {0};
    if (json_object_get(job, "scan_type") == NULL)
        snprintf(o.error, sizeof o.error, "%s", jstr(job, "scan_type_error"));
    else if (fits(job, &o) == 0 && download(w, job, &dl, &o) == 0)
        upload(w, job, &dl, &o);
    if (dl.f)
        fclose(dl.f);
    schedule(dc, cl->attempt, &o);
    if (w->stop && atomic_load(w->stop) && (o.end == TG_FWD_RETRY || o.end == TG_FWD_DEAD)) {
        /* cut short by the process stopping: due again at once, for another process or the
         * next start, never dead-lettered for it */
        o.end = TG_FWD_RETRY;
        o.next_ms = tg_now_ms();
    }
    if (o.end == TG_FWD_FAILED || o.end == TG_FWD_DEAD)
        o.result = failure_entry(job, &o);
    else if (o.result)
        json_object_set_new(o.result, "result", json_string("forwarded"));
    struct tg_fwd_ending e = {.end = o.end,
                              .next_ms = o.next_ms,
                              .error = o.error,
                              .deploy_key = jstr(job, "deploy_key"),
                              .entry = jstr(job, "entry"),
                              .result = o.result};
    int rc = tg_fwd_finish(w->rc, w->cfg->redis.prefix, cl->id, w->owner, &e);
    if (rc == 0) {
        count(&o);
        if (o.end != TG_FWD_RETRY)
            audit(w, cl, &o);
        if (o.end == TG_FWD_DONE)
            follow_up(w, job, o.result);
        tg_log_msg(o.end == TG_FWD_DONE ? TG_LOG_INFO : TG_LOG_WARN, TG_MODULE,
                   o.end == TG_FWD_DONE ? "forwarded" : "forward_failed", "%s %s/%s: %s",
                   jstr(job, "project"), jstr(job, "job"), jstr(job, "artifact"),
                   o.end == TG_FWD_DONE ? "DefectDojo took it" : o.error);
    }
    json_decref(o.result);
    return rc < 0 ? -1 : 0;
}
