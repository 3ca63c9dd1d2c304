/* policy.c -- the decision for one pipeline under a loaded policy set: its plan and its
 * judgement (the counting between them is policy_count.c's).
 *
 * Pure: the event, the children, the report counts and the clock go in; a plan, or a
 * verdict with its reasons and the decision JSON, come out. No I/O, no callbacks, no logging,
 * no state between calls: worker threads decide concurrently on one shared, read-only set.
 * Plan and judge walk the same steps in the order of docs/ARCHITECTURE.md, "Decisions"; the
 * first that concludes ends the walk (see walk()). Depends on base/ and decide/ only.
 */
#include "base/buf.h"
#include "base/crypto.h"
#include "decide/policy_impl.h"
#include "base/util.h"
#include "base/yamlfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FINDINGS_SHOWN 5
#define IDS_IN_REASON  3

enum { X_APPLIED = 1, X_EXPIRED = 2 };

/* One report entry of the environment and what became of it. */
struct report_run {
    const struct pol_report *spec;
    const char *status;            /* "ok", "missing", "unreadable" */
    char *why;                     /* missing: why; unreadable: the parser's message */
    enum tg_report_format format;  /* as counted (as configured when not counted) */
    uint64_t counts[TG_SEV_COUNT]; /* after accepted risks */
    uint64_t minus[TG_SEV_COUNT];  /* taken out by accepted risks */
    uint64_t excepted;
    const struct tg_report_summary *sum; /* borrowed from the counts; no_summary unless ok */
    long long job_id, project_id;        /* where it was fetched (project_id 0: the event's own) */
    const struct tg_report_count *count; /* borrowed: bytes and sha256 of what was counted */
};

/* A finding that tipped the decision. */
struct tip {
    const struct tg_report_finding *f;
    const struct report_run *run;
    size_t seq;
};

static const struct tg_report_summary no_summary;
static const struct tg_children no_children;

struct decide {
    const struct tg_policy_set *ps;
    const struct tg_event *ev;
    const struct pol_env *env;
    uint64_t now_ms;
    int offline;
    const struct tg_children *children; /* borrowed; no_children until the jobs step */
    int children_loaded;                /* the jobs step had the listed children */
    int children_pending;
    const struct pol_exception **scope; /* the exceptions for this project and environment */
    unsigned char *marks;               /* X_* per scope entry */
    size_t nscope;
    struct report_run *runs;
    size_t nruns;
    int counted; /* the reports step ran */
    uint64_t totals[TG_SEV_COUNT];
    enum tg_verdict verdict;
    const char *rule;
    char *main_reason;
    char **details;
    size_t ndetails;
    struct tip *tips;
    size_t ntips;
};

/* ---- reasons ---- */

/* Sets the verdict; reason is a heap string the decision takes. */
static void conclude(struct decide *d, enum tg_verdict v, const char *rule, char *reason)
{
    d->verdict = v;
    d->rule = rule;
    free(d->main_reason);
    d->main_reason = reason;
}

static void detail(struct decide *d, char *line)
{
    d->details = tg_xrealloc(d->details, (d->ndetails + 1) * sizeof *d->details);
    d->details[d->ndetails++] = line;
}

/* ---- environment, status, jobs ---- */

static const struct pol_env *select_env(const struct tg_policy_set *ps, const struct tg_event *ev)
{
    for (size_t i = 0; i < ps->nenvs; i++)
        for (char **g = ev->tag ? ps->envs[i].tags : ps->envs[i].branches; *g; g++)
            if (tg_glob_match(*g, ev->ref))
                return &ps->envs[i];
    return NULL;
}

/* ---- eligibility ---- */

static int source_allowed(const struct pol_env *env, const char *source)
{
    const char *const *list =
        env->sources ? (const char *const *)env->sources : tg_policy_default_sources;
    for (; *list; list++)
        if (strcmp(*list, source) == 0)
            return 1;
    return 0;
}

static char *source_list(const struct pol_env *env)
{
    struct tg_buf b;
    const char *const *list =
        env->sources ? (const char *const *)env->sources : tg_policy_default_sources;
    tg_buf_init(&b);
    tg_buf_puts(&b, env->sources ? "sources: " : "default sources: ");
    for (const char *const *p = list; *p; p++)
        tg_buf_printf(&b, "%s%s", p == list ? "" : ", ", *p);
    if (*list == NULL)
        tg_buf_puts(&b, "none");
    return tg_buf_steal(&b);
}

/* Children, downstream and trigger-token pipelines are no deploy candidates unless the
 * environment's sources say so; a fork's merge request never is. 1 when concluded. */
static int check_eligible(struct decide *d)
{
    const struct tg_event *ev = d->ev;
    if (!source_allowed(d->env, ev->pipeline_source)) {
        char *list = source_list(d->env);
        conclude(d, TG_VERDICT_SKIP, "source",
                 tg_xasprintf("pipeline source %s does not deploy to %s (%s)",
                              *ev->pipeline_source ? ev->pipeline_source : "(none)", d->env->name,
                              list));
        free(list);
        return 1;
    }
    if (ev->mr_fork && ev->mr_source_project_id && ev->mr_target_project_id) {
        conclude(
            d, TG_VERDICT_SKIP, "fork",
            tg_xasprintf(
                "merge request !%lld comes from another project (%lld into %lld): pipelines of "
                "forks never deploy",
                ev->mr_iid, ev->mr_source_project_id, ev->mr_target_project_id));
        return 1;
    }
    if (ev->mr_fork) {
        conclude(
            d, TG_VERDICT_SKIP, "fork",
            tg_xstrdup(
                "merge-request pipeline without its merge request's source and target projects: "
                "it may come from a fork, and pipelines of forks never deploy"));
        return 1;
    }
    return 0;
}

/* ---- child pipelines ---- */

/* Takes the listed children for the jobs step: -1 when they are needed and not listed yet. */
static int children_take(struct decide *d, const struct tg_children *listed)
{
    if (listed) {
        d->children = listed;
        d->children_loaded = 1;
    }
    return listed == NULL && !d->offline ? -1 : 0;
}

/* The first child pipeline that is not terminal, or NULL. */
static const struct tg_child_pipeline *child_unfinished(const struct decide *d)
{
    for (size_t i = 0; i < d->children->npipelines; i++)
        if (!tg_pipeline_status_is_final(d->children->pipelines[i].status))
            return &d->children->pipelines[i];
    return NULL;
}

/* The latest run of the child job called name, or NULL with why (heap) saying why not:
 * missing, or a child pipeline not terminal yet (then the decision may still change). */
static const struct tg_child_job *child_job(struct decide *d, const char *name, char **why)
{
    const struct tg_child_job *best = NULL;
    *why = NULL;
    for (size_t i = 0; i < d->children->njobs; i++)
        if (strcmp(d->children->jobs[i].name, name) == 0 &&
            (best == NULL || d->children->jobs[i].id > best->id))
            best = &d->children->jobs[i];
    const struct tg_child_pipeline *open = child_unfinished(d);
    if (open && (best == NULL || !tg_pipeline_status_is_final(best->status)))
        d->children_pending = 1;
    if (best)
        return best;
    if (!d->children_loaded)
        *why = tg_xasprintf("no job %s: child pipelines are not looked up offline", name);
    else if (open && open->id == 0)
        *why = tg_xasprintf("no job %s yet: bridge %s has not created its child pipeline", name,
                            open->bridge);
    else if (open)
        *why = tg_xasprintf("no job %s yet: child pipeline %lld is %s (not terminal yet)", name,
                            open->id, open->status);
    else
        *why = tg_xasprintf("no job %s in the child pipelines (%zu found)", name,
                            d->children->npipelines);
    return NULL;
}

/* ---- required jobs ---- */

/* "required job trivy-scan is failed" or, for a child job, why it is not a success. */
static char *job_problem(struct decide *d, const struct pol_job *j)
{
    if (!j->child) {
        const struct tg_build *b = tg_event_find_build(d->ev, j->name);
        if (b && strcmp(b->status, "success") == 0)
            return NULL;
        return tg_xasprintf("required job %s is %s", j->name, b ? b->status : "missing");
    }
    char *why;
    const struct tg_child_job *c = child_job(d, j->name, &why);
    if (c && strcmp(c->status, "success") == 0)
        return NULL;
    if (c)
        return tg_xasprintf("required job %s (child pipeline %lld) is %s", j->name, c->pipeline_id,
                            c->status);
    char *line = tg_xasprintf("required job %s (child pipeline) is missing: %s", j->name, why);
    free(why);
    return line;
}

/* 1 when a required job failed (concluded), 0 when all passed. */
static int check_jobs(struct decide *d)
{
    int failing = 0;
    for (size_t i = 0; i < d->env->njobs; i++) {
        char *line = job_problem(d, &d->env->require_jobs[i]);
        if (line == NULL)
            continue;
        if (failing++ == 0)
            conclude(d, TG_VERDICT_BLOCK, "require_jobs", line);
        else
            detail(d, line);
    }
    return failing > 0;
}

/* ---- accepted risks ---- */

static int in_scope(const struct pol_exception *x, const char *project, const char *env)
{
    int ok = x->projects == NULL;
    for (char **p = x->projects; p && *p && !ok; p++)
        ok = tg_glob_match_project(*p, project);
    for (char **e = x->environments; ok && e && *e; e++)
        if (strcmp(*e, env) == 0)
            return 1;
    return ok && x->environments == NULL;
}

static void scope_exceptions(struct decide *d)
{
    d->scope = tg_xcalloc(d->ps->nexceptions, sizeof *d->scope);
    d->marks = tg_xcalloc(d->ps->nexceptions, 1);
    for (size_t i = 0; i < d->ps->nexceptions; i++)
        if (in_scope(&d->ps->exceptions[i], d->ev->project_path, d->env->name))
            d->scope[d->nscope++] = &d->ps->exceptions[i];
}

static int names(const struct pol_exception *x, const char *id, size_t len)
{
    return strlen(x->id) == len && memcmp(x->id, id, len) == 0;
}

/* 1 when an unexpired exception in scope covers id. With marks, records which applied, or
 * which expired ones matched when none covers it (their findings count again). */
static int excepted(const struct decide *d, unsigned char *marks, const char *id, size_t len)
{
    int covered = 0;
    for (size_t i = 0; i < d->nscope; i++)
        if (names(d->scope[i], id, len) && d->now_ms < d->scope[i]->until_ms) {
            covered = 1;
            if (marks)
                marks[i] |= X_APPLIED;
        }
    for (size_t i = 0; i < d->nscope && marks && !covered; i++)
        if (names(d->scope[i], id, len))
            marks[i] |= X_EXPIRED;
    return covered;
}

/* ---- reports ---- */

/* Where the report's job is: 0 with ref's project and job filled, or 1 when it is missing
 * (*why says why, heap). */
static int locate(struct decide *d, const struct pol_report *spec, struct tg_policy_report *ref,
                  char **why)
{
    *why = NULL;
    if (!spec->child) {
        const struct tg_build *b = tg_event_find_build(d->ev, spec->job);
        if (b == NULL)
            *why = tg_xasprintf("no job %s in this pipeline", spec->job);
        ref->job_id = b ? b->id : 0;
        return b == NULL;
    }
    if (!d->children_loaded)
        return 0; /* offline: job_id 0, the fetcher answers from what it was given */
    const struct tg_child_job *c = child_job(d, spec->job, why);
    if (c) {
        ref->project_id = c->project_id;
        ref->job_id = c->id;
    }
    return c == NULL;
}

/* The distinct ids of the exceptions in scope: what the counters tally. */
static void plan_ids(const struct decide *d, struct tg_policy_plan *out)
{
    out->ids = tg_xcalloc(d->nscope + 1, sizeof *out->ids);
    for (size_t i = 0; i < d->nscope; i++) {
        size_t k = 0;
        while (k < out->nids && strcmp(out->ids[k], d->scope[i]->id) != 0)
            k++;
        if (k == out->nids)
            out->ids[out->nids++] = d->scope[i]->id;
    }
}

static void plan_reports(struct decide *d, struct tg_policy_plan *out)
{
    out->nreports = d->env->nreports;
    out->reports = tg_xcalloc(out->nreports + 1, sizeof *out->reports);
    for (size_t i = 0; i < out->nreports; i++) {
        const struct pol_report *spec = &d->env->reports[i];
        struct tg_policy_report *r = &out->reports[i];
        char *why;
        *r = (struct tg_policy_report){.job = spec->job,
                                       .artifact = spec->artifact,
                                       .format = spec->format,
                                       .child = spec->child};
        r->located = !locate(d, spec, r, &why);
        free(why);
    }
    plan_ids(d, out);
}

/* Takes the findings the counter tallied for the ids of unexpired accepted risks out of an
 * ok report's counts, and marks which exceptions applied or expired. */
static void subtract_excepted(struct decide *d, struct report_run *run,
                              const struct tg_policy_plan *plan, const struct tg_report_count *c)
{
    for (size_t k = 0; k < plan->nids; k++) {
        const uint64_t *t = c->tally[k];
        uint64_t n = 0;
        for (int s = 0; s < TG_SEV_COUNT; s++)
            n += t[s];
        if (n == 0 || !excepted(d, d->marks, plan->ids[k], strlen(plan->ids[k])))
            continue;
        for (int s = 0; s < TG_SEV_COUNT; s++)
            run->minus[s] += t[s];
        run->excepted += n;
    }
    for (int i = 0; i < TG_SEV_COUNT; i++) {
        run->counts[i] = run->sum->counts[i] - run->minus[i];
        d->totals[i] += run->counts[i];
    }
}

/* What became of one report: 0, or -1 when the counts do not fit the plan. */
static int take_count(struct decide *d, struct report_run *run, const struct tg_policy_plan *plan,
                      const struct tg_report_count *c)
{
    struct tg_policy_report ref = {0};
    run->format = run->spec->format;
    run->status = "missing";
    run->sum = &no_summary;
    if (locate(d, run->spec, &ref, &run->why))
        return 0;
    if (c->status == TG_COUNT_NOT_FETCHED)
        return -1;
    run->job_id = ref.job_id;
    run->project_id = ref.project_id;
    run->count = c;
    if (c->status == TG_COUNT_NOT_FOUND) {
        run->why = tg_xstrdup("artifact not found");
    } else if (c->status == TG_COUNT_UNREADABLE) {
        run->status = "unreadable";
        run->why = tg_xstrdup(c->why ? c->why : "");
    } else {
        run->status = "ok";
        run->sum = &c->sum;
        run->format = c->sum.format;
        subtract_excepted(d, run, plan, c);
    }
    return 0;
}

static int count_reports(struct decide *d, const struct tg_policy_plan *plan)
{
    d->nruns = d->env->nreports;
    d->runs = tg_xcalloc(d->nruns + 1, sizeof *d->runs);
    d->counted = 1;
    if (plan->nreports != d->nruns)
        return -1;
    for (size_t i = 0; i < d->nruns; i++) {
        d->runs[i].spec = &d->env->reports[i];
        if (take_count(d, &d->runs[i], plan, &plan->reports[i].count))
            return -1;
    }
    return 0;
}

/* A report that was read but whose scanner declared that it failed. */
static int scan_failed(const struct report_run *run)
{
    return strcmp(run->status, "ok") == 0 && run->sum->scan_failed[0] != '\0';
}

/* "report trivy-scan/trivy-report.json is missing: artifact not found
 * (on_missing_report: block)" */
static char *problem(const struct decide *d, const struct report_run *run)
{
    static const char *const policies[] = {[POL_MISSING_BLOCK] = "block",
                                           [POL_MISSING_SKIP] = "skip",
                                           [POL_MISSING_IGNORE] = "ignore"};
    if (scan_failed(run))
        return tg_xasprintf("report %s/%s: the scanner declared that it failed (%s)",
                            run->spec->job, run->spec->artifact, run->sum->scan_failed);
    if (strcmp(run->status, "missing") != 0)
        return tg_xasprintf("report %s/%s is %s: %s", run->spec->job, run->spec->artifact,
                            run->status, run->why);
    return tg_xasprintf("report %s/%s is missing: %s (on_missing_report: %s)", run->spec->job,
                        run->spec->artifact, run->why, policies[d->env->on_missing]);
}

/* Missing and unreadable reports, and scanners that declared failure. An unreadable report
 * or a failed scan always blocks (its findings may be partial); a missing one does what
 * on_missing_report says; blocking wins over skipping, and the first of each is the main
 * reason. */
static int report_outcome(struct decide *d)
{
    const struct report_run *blocker = NULL, *skipper = NULL;
    for (size_t i = 0; i < d->nruns; i++) {
        const struct report_run *run = &d->runs[i];
        int missing = strcmp(run->status, "missing") == 0;
        enum pol_missing how = missing ? d->env->on_missing : POL_MISSING_BLOCK;
        if (strcmp(run->status, "ok") == 0 && !scan_failed(run))
            continue;
        if (how == POL_MISSING_BLOCK && blocker == NULL)
            blocker = run;
        else if (how == POL_MISSING_SKIP && skipper == NULL)
            skipper = run;
        else
            detail(d, problem(d, run));
    }
    const struct report_run *r = blocker ? blocker : skipper;
    if (r == NULL)
        return 0;
    if (blocker && skipper)
        detail(d, problem(d, skipper));
    conclude(d, blocker ? TG_VERDICT_BLOCK : TG_VERDICT_SKIP,
             scan_failed(r)                      ? "scan_failed"
             : strcmp(r->status, "missing") == 0 ? "on_missing_report"
                                                 : "report_unreadable",
             problem(d, r));
    return 1;
}

/* ---- severity thresholds ---- */

static int exceeded(const long long *limits, const uint64_t *counts, int s)
{
    return limits[s] != POL_NO_LIMIT && counts[s] > (uint64_t)limits[s];
}

static int by_severity(const void *a, const void *b)
{
    const struct tip *x = a, *y = b;
    if (x->f->severity != y->f->severity)
        return x->f->severity > y->f->severity ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The findings in buckets over their limit that no accepted risk covers, most severe first. */
static void collect_tips(struct decide *d, const long long *limits)
{
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < d->nruns; i++)
        cap += d->runs[i].sum->nfindings;
    d->tips = tg_xcalloc(cap, sizeof *d->tips);
    for (size_t i = 0; i < d->nruns; i++) {
        const struct tg_report_summary *sum = d->runs[i].sum;
        for (size_t k = 0; k < sum->nfindings; k++) {
            const struct tg_report_finding *f = &sum->findings[k];
            if (!exceeded(limits, d->totals, f->severity) ||
                excepted(d, NULL, f->id, strlen(f->id)))
                continue;
            d->tips[n] = (struct tip){f, &d->runs[i], n};
            n++;
        }
    }
    if (n > 1) /* never a NULL array to qsort, even of 0 elements */
        qsort(d->tips, n, sizeof *d->tips, by_severity);
    d->ntips = n < FINDINGS_SHOWN ? n : FINDINGS_SHOWN;
}

/* " trivy-scan/trivy-report.json", or with counts when several reports hold bucket s. */
static void put_reports(struct tg_buf *b, const struct decide *d, int s)
{
    size_t nreports = 0, k = 0;
    for (size_t i = 0; i < d->nruns; i++)
        nreports += d->runs[i].counts[s] > 0;
    for (size_t i = 0; i < d->nruns; i++) {
        const struct report_run *run = &d->runs[i];
        if (run->counts[s] == 0)
            continue;
        tg_buf_printf(b, "%s %s/%s", k++ ? "," : "", run->spec->job, run->spec->artifact);
        if (nreports > 1)
            tg_buf_printf(b, " (%llu)", (unsigned long long)run->counts[s]);
    }
}

/* ": CVE-1, CVE-2": the distinct ids of the tipping findings in bucket s, a few at most. */
static void put_ids(struct tg_buf *b, const struct decide *d, int s)
{
    const char *ids[IDS_IN_REASON];
    size_t nids = 0;
    for (size_t i = 0; i < d->ntips && nids < IDS_IN_REASON; i++) {
        const char *id = d->tips[i].f->id;
        size_t seen = 0;
        while (seen < nids && strcmp(ids[seen], id) != 0)
            seen++;
        if ((int)d->tips[i].f->severity != s || *id == '\0' || seen < nids)
            continue;
        tg_buf_printf(b, "%s %s", nids ? "," : ":", id);
        ids[nids++] = id;
    }
}

/* "critical 2 > 0 in trivy-scan/trivy-report.json: CVE-2023-1, CVE-2023-2" */
static char *over_text(const struct decide *d, int s, long long limit)
{
    struct tg_buf b;
    tg_buf_init(&b);
    tg_buf_printf(&b, "%s %llu > %lld in", tg_severity_name(s), (unsigned long long)d->totals[s],
                  limit);
    put_reports(&b, d, s);
    put_ids(&b, d, s);
    return tg_buf_steal(&b);
}

/* Applies one threshold map; 1 when a bucket is over its limit (the most severe one is the
 * main reason, the others follow). */
static int gate(struct decide *d, const long long *limits, enum tg_verdict v, const char *rule)
{
    int over = 0;
    for (int s = TG_SEV_CRITICAL; s >= TG_SEV_UNKNOWN; s--) {
        if (!exceeded(limits, d->totals, s))
            continue;
        if (over == 0)
            collect_tips(d, limits);
        char *line = over_text(d, s, limits[s]);
        if (over++ == 0)
            conclude(d, v, rule, line);
        else
            detail(d, line);
    }
    return over > 0;
}

static char *approval_text(const struct tg_approval_rule *a)
{
    struct tg_buf b;
    tg_buf_init(&b);
    tg_buf_printf(&b, "needs %d approval%s from ", a->required, a->required == 1 ? "" : "s");
    if (a->approvers[0] == NULL)
        tg_buf_puts(&b, "anyone allowed to approve");
    for (char **p = a->approvers; *p; p++)
        tg_buf_printf(&b, "%s%s", p == a->approvers ? "" : ", ", *p);
    return tg_buf_steal(&b);
}

static void apply_thresholds(struct decide *d)
{
    if (gate(d, d->env->block, TG_VERDICT_BLOCK, "severity.block"))
        return;
    if (gate(d, d->env->approve, TG_VERDICT_NEEDS_APPROVAL, "severity.approve")) {
        detail(d, approval_text(&d->env->approvals));
        return;
    }
    conclude(d, TG_VERDICT_DEPLOY, "policy",
             tg_xasprintf("all checks passed for %s", d->env->name));
}

/* ---- the walk ---- */

enum walk { WALK_CONCLUDED, WALK_REPORTS, WALK_WANTS_CHILDREN };

/* The steps before the reports: environment, eligibility, status, merge request, required
 * jobs. WALK_REPORTS when they all passed and the reports decide. */
static enum walk walk(struct decide *d, const struct tg_children *listed)
{
    const struct tg_event *ev = d->ev;
    d->env = select_env(d->ps, ev);
    if (d->env == NULL) {
        conclude(d, TG_VERDICT_SKIP, "branch", tg_xasprintf("no environment for ref %s", ev->ref));
        return WALK_CONCLUDED;
    }
    if (check_eligible(d))
        return WALK_CONCLUDED;
    int manual_ok = d->env->manual_as_success && strcmp(ev->pipeline_status, "manual") == 0;
    if (strcmp(ev->pipeline_status, "success") != 0 && !manual_ok) {
        conclude(d, TG_VERDICT_SKIP, "pipeline_status",
                 tg_xasprintf("pipeline %s",
                              *ev->pipeline_status ? ev->pipeline_status : "has no status"));
        return WALK_CONCLUDED;
    }
    if (ev->merge_request && !d->env->merge_requests) {
        conclude(d, TG_VERDICT_SKIP, "merge_request",
                 tg_xasprintf("merge-request pipeline (!%lld): %s does not deploy merge requests",
                              ev->mr_iid, d->env->name));
        return WALK_CONCLUDED;
    }
    if (d->env->names_children && children_take(d, listed))
        return WALK_WANTS_CHILDREN;
    if (check_jobs(d))
        return WALK_CONCLUDED;
    scope_exceptions(d);
    return WALK_REPORTS;
}

/* The counts and expired accepted risks, after the main reason and its companions. */
static void closing_details(struct decide *d)
{
    uint64_t excepted = 0;
    for (size_t i = 0; i < d->nruns; i++)
        excepted += d->runs[i].excepted;
    const uint64_t *c = d->totals;
    detail(d,
           tg_xasprintf(
               "counts: critical %llu, high %llu, medium %llu, low %llu, info %llu, unknown %llu "
               "(%llu excepted)",
               (unsigned long long)c[TG_SEV_CRITICAL], (unsigned long long)c[TG_SEV_HIGH],
               (unsigned long long)c[TG_SEV_MEDIUM], (unsigned long long)c[TG_SEV_LOW],
               (unsigned long long)c[TG_SEV_INFO], (unsigned long long)c[TG_SEV_UNKNOWN],
               (unsigned long long)excepted));
    for (size_t i = 0; i < d->nscope; i++)
        if (d->marks[i] & X_EXPIRED)
            detail(d, tg_xasprintf("exception %s expired %s (by %s)", d->scope[i]->id,
                                   d->scope[i]->until, d->scope[i]->by));
}

/* ---- the decision JSON ---- */

/* Every string here is valid UTF-8 already; the fallback keeps a bug from dropping a key. */
static json_t *js(const char *s)
{
    json_t *v = s ? json_string(s) : json_null();
    return v ? v : json_string("\xef\xbf\xbd");
}

static json_t *counts_json(const uint64_t *counts)
{
    json_t *o = json_object();
    for (int s = 0; s < TG_SEV_COUNT; s++)
        json_object_set_new(o, tg_severity_name((enum tg_severity)s),
                            json_integer((json_int_t)counts[s]));
    return o;
}

/* Where a counted report came from and what it was, for the DefectDojo forwarder. */
static void report_source_json(json_t *o, const struct report_run *r)
{
    json_t *scan_type = r->sum->extra ? json_object_get(r->sum->extra, "scan_type") : NULL;
    if (r->job_id)
        json_object_set_new(o, "job_id", json_integer(r->job_id));
    if (r->project_id)
        json_object_set_new(o, "project_id", json_integer(r->project_id));
    if (r->spec->defectdojo_scan_type)
        json_object_set_new(o, "defectdojo_scan_type", js(r->spec->defectdojo_scan_type));
    if (strcmp(r->status, "ok") != 0)
        return;
    json_object_set_new(o, "bytes", json_integer((json_int_t)r->count->bytes));
    json_object_set_new(o, "sha256", json_string(r->count->sha256));
    if (json_is_string(scan_type))
        json_object_set(o, "scan_type", scan_type);
}

static json_t *reports_json(const struct decide *d)
{
    json_t *a = json_array();
    for (size_t i = 0; i < d->nruns; i++) {
        const struct report_run *r = &d->runs[i];
        json_t *o = json_pack("{s:o, s:o, s:s, s:o, s:I, s:s}", "job", js(r->spec->job), "artifact",
                              js(r->spec->artifact), "format", tg_report_format_name(r->format),
                              "counts", counts_json(r->counts), "excepted", (json_int_t)r->excepted,
                              "status", r->status);
        if (strcmp(r->status, "unreadable") == 0)
            json_object_set_new(o, "error", js(r->why));
        if (scan_failed(r))
            json_object_set_new(o, "scan_failed", js(r->sum->scan_failed));
        report_source_json(o, r);
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *findings_json(const struct decide *d)
{
    json_t *a = json_array();
    for (size_t i = 0; i < d->ntips; i++) {
        const struct tg_report_finding *f = d->tips[i].f;
        const struct pol_report *spec = d->tips[i].run->spec;
        char *report = tg_xasprintf("%s/%s", spec->job, spec->artifact);
        json_t *line = f->line > 0 ? json_integer(f->line) : json_null();
        json_array_append_new(a, json_pack("{s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id",
                                           js(f->id), "severity", tg_severity_name(f->severity),
                                           "package", js(f->package), "version", js(f->version),
                                           "fixed", js(f->fixed), "file", js(f->file), "line", line,
                                           "title", js(f->title), "report", js(report)));
        free(report);
    }
    return a;
}

static json_t *exceptions_json(const struct decide *d)
{
    json_t *applied = json_array(), *expired = json_array();
    for (size_t i = 0; i < d->nscope; i++) {
        json_t *into = d->marks[i] & X_APPLIED ? applied : d->marks[i] & X_EXPIRED ? expired : NULL;
        size_t k = 0;
        while (into && k < json_array_size(into) &&
               strcmp(json_string_value(json_array_get(into, k)), d->scope[i]->id) != 0)
            k++;
        if (into && k == json_array_size(into))
            json_array_append_new(into, js(d->scope[i]->id));
    }
    return json_pack("{s:o, s:o}", "applied", applied, "expired", expired);
}

static json_t *approvals_json(const struct tg_approval_rule *a)
{
    json_t *approvers = json_array();
    for (char **p = a->approvers; *p; p++)
        json_array_append_new(approvers, js(*p));
    return json_pack("{s:i, s:o, s:b, s:I}", "required", a->required, "approvers", approvers,
                     "prevent_self_approval", a->prevent_self_approval, "expire_ms",
                     (json_int_t)a->expire_ms);
}

static json_t *children_json(const struct decide *d)
{
    json_t *pipelines = json_array();
    for (size_t i = 0; i < d->children->npipelines; i++) {
        const struct tg_child_pipeline *p = &d->children->pipelines[i];
        json_array_append_new(pipelines, json_pack("{s:o, s:I, s:I, s:o}", "bridge", js(p->bridge),
                                                   "project", (json_int_t)p->project_id, "pipeline",
                                                   (json_int_t)p->id, "status", js(p->status)));
    }
    return json_pack("{s:b, s:b, s:o}", "looked_up", d->children_loaded, "pending",
                     d->children_pending, "pipelines", pipelines);
}

static json_t *decision_json(const struct decide *d, const struct tg_decision *out)
{
    const struct tg_event *ev = d->ev;
    json_t *reasons = json_array();
    for (char **r = out->reasons; *r; r++)
        json_array_append_new(reasons, js(*r));
    json_t *j = json_pack("{s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:s}",
                          "verdict", tg_verdict_name(out->verdict), "environment",
                          js(out->environment), "rule", out->rule, "reasons", reasons, "project",
                          js(ev->project_path), "ref", js(ev->ref), "sha", js(ev->sha), "pipeline",
                          (json_int_t)ev->pipeline_id, "counts", counts_json(out->counts),
                          "reports", reports_json(d), "findings", findings_json(d), "exceptions",
                          exceptions_json(d), "policy_hash", out->policy_hash);
    if (out->verdict == TG_VERDICT_NEEDS_APPROVAL)
        json_object_set_new(j, "approvals", approvals_json(&out->approvals));
    if (d->env && d->env->names_children)
        json_object_set_new(j, "children", children_json(d));
    json_object_set_new(j, "source", js(ev->pipeline_source));
    return j;
}

static void fill(struct decide *d, struct tg_decision *out)
{
    out->verdict = d->verdict;
    out->environment = d->env ? tg_xstrdup(d->env->name) : NULL;
    out->rule = tg_xstrdup(d->rule);
    out->reasons = tg_xcalloc(d->ndetails + 2, sizeof *out->reasons);
    out->reasons[0] = d->main_reason;
    for (size_t i = 0; i < d->ndetails; i++)
        out->reasons[i + 1] = d->details[i];
    d->main_reason = NULL;
    d->ndetails = 0;
    memcpy(out->counts, d->totals, sizeof out->counts);
    if (d->env)
        out->approvals = d->env->approvals;
    out->policy_hash = tg_xstrdup(d->ps->hash);
    out->ineligible = strcmp(d->rule, "source") == 0 || strcmp(d->rule, "fork") == 0;
    out->children_pending = d->children_pending;
    out->json = decision_json(d, out);
}

static void decide_dispose(struct decide *d)
{
    for (size_t i = 0; i < d->nruns; i++)
        free(d->runs[i].why);
    for (size_t i = 0; i < d->ndetails; i++)
        free(d->details[i]);
    free(d->runs);
    free(d->scope);
    free(d->marks);
    free(d->details);
    free(d->tips);
    free(d->main_reason);
}

/* ---- public ---- */

const char *tg_verdict_name(enum tg_verdict v)
{
    static const char *const names[] = {[TG_VERDICT_SKIP] = "skip",
                                        [TG_VERDICT_BLOCK] = "block",
                                        [TG_VERDICT_NEEDS_APPROVAL] = "needs_approval",
                                        [TG_VERDICT_DEPLOY] = "deploy"};
    return (unsigned)v < TG_ARRAY_SIZE(names) ? names[v] : "skip";
}

static void decide_init(struct decide *d, const struct tg_policy_input *in)
{
    *d = (struct decide){.ps = in->ps,
                         .ev = in->ev,
                         .now_ms = in->now_ms,
                         .offline = in->offline,
                         .children = &no_children};
}

void tg_policy_plan(const struct tg_policy_input *in, struct tg_policy_plan *out)
{
    struct decide d;
    decide_init(&d, in);
    memset(out, 0, sizeof *out);
    enum walk w = walk(&d, in->children);
    out->want_children = w == WALK_WANTS_CHILDREN;
    if (w == WALK_REPORTS)
        plan_reports(&d, out);
    decide_dispose(&d);
}

void tg_policy_plan_dispose(struct tg_policy_plan *p)
{
    for (size_t i = 0; i < p->nreports; i++)
        tg_report_count_dispose(&p->reports[i].count);
    free(p->reports);
    free(p->ids);
    memset(p, 0, sizeof *p);
}

int tg_policy_judge(const struct tg_policy_input *in, const struct tg_policy_plan *plan,
                    struct tg_decision *out, char *err, size_t errlen)
{
    struct decide d;
    decide_init(&d, in);
    memset(out, 0, sizeof *out);
    enum walk w = walk(&d, in->children);
    int rc = w == WALK_WANTS_CHILDREN ? -1 : 0;
    if (w == WALK_REPORTS)
        rc = count_reports(&d, plan);
    if (rc == 0 && w == WALK_REPORTS && !report_outcome(&d))
        apply_thresholds(&d);
    if (rc == 0 && d.counted)
        closing_details(&d);
    if (rc == 0)
        fill(&d, out);
    else
        snprintf(err, errlen, "%s",
                 w == WALK_WANTS_CHILDREN
                     ? "the decision needs the child pipelines: none were given"
                     : "the report counts do not fit the plan");
    decide_dispose(&d);
    return rc;
}

int tg_policy_ignored(const struct tg_policy_set *ps, const struct tg_event *ev, char *why,
                      size_t whylen)
{
    const char *marker = tg_event_variable(ev, "TOLLGATE_DEPLOYMENT");
    if (marker) {
        snprintf(why, whylen, "Tollgate triggered this pipeline (TOLLGATE_DEPLOYMENT=%.200s)",
                 marker);
        return 1;
    }
    for (size_t i = 0; ps->ignore_projects && ps->ignore_projects[i]; i++)
        if (tg_glob_match_project(ps->ignore_projects[i], ev->project_path)) {
            snprintf(why, whylen, "project %.200s matches ignore_projects \"%.100s\" (%.200s)",
                     ev->project_path, ps->ignore_projects[i], ps->ignore_where[i]);
            return 1;
        }
    return 0;
}

void tg_children_dispose(struct tg_children *c)
{
    for (size_t i = 0; i < c->npipelines; i++) {
        free(c->pipelines[i].bridge);
        free(c->pipelines[i].status);
    }
    for (size_t i = 0; i < c->njobs; i++) {
        free(c->jobs[i].name);
        free(c->jobs[i].status);
    }
    free(c->pipelines);
    free(c->jobs);
    memset(c, 0, sizeof *c);
}

void tg_decision_dispose(struct tg_decision *d)
{
    free(d->environment);
    free(d->rule);
    tg_strv_free(d->reasons);
    free(d->policy_hash);
    json_decref(d->json);
    memset(d, 0, sizeof *d);
}
