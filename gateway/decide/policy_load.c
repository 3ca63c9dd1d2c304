/* policy_load.c -- policies/NAME.yaml read into a struct tg_policy_set.
 *
 * Every fault is reported with file:line:col and loading goes on, so `tollgate check` shows
 * them all; a set with any error is never returned. Defaults live in env_defaults(). Runs at
 * start-up, reload and check, never on a worker's path.
 */
#include "base/dirlist.h"
#include "decide/policy_impl.h"
#include "base/util.h"
#include "base/yamlfile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_EXPIRE_MS (24ULL * 3600 * 1000)
#define MAX_THRESHOLD     1000000000LL
#define SEVERITY_NAMES    "critical, high, medium, low, info, unknown"

static struct pol_where where_of(struct tg_yaml *y, yaml_node_t *n)
{
    struct pol_where w = {tg_xstrdup(y->file), n->start_mark.line + 1, n->start_mark.column + 1};
    return w;
}

/* v (n items of size bytes) with room for add more, zeroed. */
static void *grow(void *v, size_t n, size_t add, size_t size)
{
    char *p = tg_xrealloc(v, (n + add) * size);
    memset(p + n * size, 0, add * size);
    return p;
}

static void env_defaults(struct pol_env *e)
{
    e->branches = tg_xcalloc(1, sizeof(char *));
    e->tags = tg_xcalloc(1, sizeof(char *));
    e->on_missing = POL_MISSING_BLOCK;
    for (int s = 0; s < TG_SEV_COUNT; s++)
        e->block[s] = e->approve[s] = POL_NO_LIMIT;
    e->approvals.required = 1;
    e->approvals.approvers = tg_xcalloc(1, sizeof(char *));
    e->approvals.prevent_self_approval = 1;
    e->approvals.expire_ms = DEFAULT_EXPIRE_MS;
}

/* ---- environments ---- */

/* Every value GitLab gives object_attributes.source (doc/api/pipelines.md, ci/jobs/job_rules.md
 * CI_PIPELINE_SOURCE); a sources: entry must be one of them. */
static const char *const known_sources[] = {"push",
                                            "web",
                                            "api",
                                            "schedule",
                                            "merge_request_event",
                                            "trigger",
                                            "pipeline",
                                            "parent_pipeline",
                                            "chat",
                                            "webide",
                                            "external",
                                            "external_pull_request_event",
                                            "ondemand_dast_scan",
                                            "ondemand_dast_validation",
                                            "security_orchestration_policy",
                                            "container_registry_push",
                                            "pipeline_execution_policy",
                                            "pipeline_execution_policy_schedule",
                                            "duo_workflow",
                                            NULL};

const char *const tg_policy_default_sources[] = {
    "push", "web", "api", "schedule", "merge_request_event", NULL};

static int listed(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0)
            return 1;
    return 0;
}

static void load_sources(struct tg_yaml *y, yaml_node_t *map, struct pol_env *e)
{
    yaml_node_t *n = tg_yaml_get(y, map, "sources");
    if (n == NULL || tg_yaml_get_strv(y, map, "sources", &e->sources))
        return;
    for (size_t i = 0; e->sources[i]; i++)
        if (!listed(known_sources, e->sources[i]))
            tg_yaml_error(
                y, n->type == YAML_SEQUENCE_NODE ? tg_yaml_item(y, n, i) : n,
                "unknown pipeline source \"%s\" in sources (push, web, api, schedule, "
                "merge_request_event, trigger, pipeline, parent_pipeline, chat, webide, external, "
                "external_pull_request_event, ondemand_dast_scan, ondemand_dast_validation, "
                "security_orchestration_policy, container_registry_push, "
                "pipeline_execution_policy, "
                "pipeline_execution_policy_schedule, duo_workflow)",
                e->sources[i]);
}

/* pipeline: child (the only value: a job of this pipeline needs no key). */
static void load_pipeline_key(struct tg_yaml *y, yaml_node_t *map, int *child)
{
    char *which = NULL;
    if (tg_yaml_get_str(y, map, "pipeline", &which) || which == NULL)
        return;
    if (strcmp(which, "child") == 0)
        *child = 1;
    else
        tg_yaml_error(
            y, tg_yaml_get(y, map, "pipeline"),
            "pipeline: \"%s\" is not child (leave it out for a job of the pipeline itself)", which);
    free(which);
}

/* "name" or {job: name, pipeline: child}. */
static void load_job(struct tg_yaml *y, yaml_node_t *n, struct pol_job *j)
{
    static const char *const keys[] = {"job", "pipeline", NULL};
    if (n->type == YAML_SCALAR_NODE) {
        j->name = tg_xstrdup((const char *)n->data.scalar.value);
        return;
    }
    if (tg_yaml_expect_map(y, n,
                           "require_jobs entry (a job name, or {job: NAME, pipeline: child})"))
        return;
    tg_yaml_check_keys(y, n, keys, "require_jobs entry");
    tg_yaml_get_str(y, n, "job", &j->name);
    load_pipeline_key(y, n, &j->child);
    if (j->name == NULL)
        tg_yaml_error(y, n, "a require_jobs entry needs job");
}

static void load_jobs(struct tg_yaml *y, yaml_node_t *n, struct pol_env *e)
{
    if (n == NULL)
        return;
    if (n->type == YAML_SCALAR_NODE) {
        e->require_jobs = tg_xcalloc(1, sizeof *e->require_jobs);
        e->njobs = 1;
        load_job(y, n, &e->require_jobs[0]);
        return;
    }
    if (tg_yaml_expect_seq(y, n, "require_jobs"))
        return;
    e->njobs = tg_yaml_len(n);
    e->require_jobs = tg_xcalloc(e->njobs ? e->njobs : 1, sizeof *e->require_jobs);
    for (size_t i = 0; i < e->njobs; i++) {
        load_job(y, tg_yaml_item(y, n, i), &e->require_jobs[i]);
        e->names_children |= e->require_jobs[i].child;
    }
}

static void load_report(struct tg_yaml *y, yaml_node_t *n, struct pol_report *r)
{
    static const char *const keys[] = {
        "job", "artifact", "format", "pipeline", "defectdojo_scan_type", NULL};
    char *format = NULL;
    if (tg_yaml_expect_map(y, n, "report entry"))
        return;
    tg_yaml_check_keys(y, n, keys, "report entry");
    tg_yaml_get_str(y, n, "job", &r->job);
    load_pipeline_key(y, n, &r->child);
    tg_yaml_get_str(y, n, "artifact", &r->artifact);
    tg_yaml_get_str(y, n, "format", &format);
    tg_yaml_get_str(y, n, "defectdojo_scan_type", &r->defectdojo_scan_type);
    if (r->job == NULL || r->artifact == NULL)
        tg_yaml_error(y, n, "a report entry needs job and artifact");
    else if (r->artifact[0] == '/' || r->artifact[0] == '\0' || strstr(r->artifact, ".."))
        tg_yaml_error(y, tg_yaml_get(y, n, "artifact"),
                      "artifact \"%s\" must be a relative path inside the job's artifacts",
                      r->artifact);
    if (format && tg_report_format_parse(format, &r->format))
        tg_yaml_error(y, tg_yaml_get(y, n, "format"),
                      "unknown report format \"%s\" (auto, trivy, horusec, gitlab, sarif, grype)",
                      format);
    free(format);
}

static void load_reports(struct tg_yaml *y, yaml_node_t *n, struct pol_env *e)
{
    if (n == NULL || tg_yaml_expect_seq(y, n, "reports"))
        return;
    e->nreports = tg_yaml_len(n);
    e->reports = tg_xcalloc(e->nreports, sizeof *e->reports);
    for (size_t i = 0; i < e->nreports; i++) {
        load_report(y, tg_yaml_item(y, n, i), &e->reports[i]);
        e->names_children |= e->reports[i].child;
    }
}

static void load_on_missing(struct tg_yaml *y, yaml_node_t *map, struct pol_env *e)
{
    static const char *const names[] = {[POL_MISSING_BLOCK] = "block",
                                        [POL_MISSING_SKIP] = "skip",
                                        [POL_MISSING_IGNORE] = "ignore"};
    yaml_node_t *n = tg_yaml_get(y, map, "on_missing_report");
    const char *s = n ? tg_yaml_scalar(y, n, "on_missing_report") : NULL;
    if (s == NULL)
        return;
    for (size_t i = 0; i < TG_ARRAY_SIZE(names); i++)
        if (strcmp(s, names[i]) == 0) {
            e->on_missing = (enum pol_missing)i;
            return;
        }
    tg_yaml_error(y, n, "on_missing_report: \"%s\" is not block, skip or ignore", s);
}

/* { critical: 0, high: 2 } -> limits[] by bucket; what names the map in messages. */
static void load_thresholds(struct tg_yaml *y, yaml_node_t *map, const char *what,
                            long long *limits)
{
    if (map == NULL || tg_yaml_expect_map(y, map, what))
        return;
    for (size_t i = 0; i < tg_yaml_len(map); i++) {
        yaml_node_t *k = tg_yaml_key(y, map, i), *v = tg_yaml_value(y, map, i);
        const char *name = tg_yaml_scalar(y, k, "severity"), *num;
        enum tg_severity s;
        if (name == NULL || (num = tg_yaml_scalar(y, v, name)) == NULL)
            continue;
        if (tg_severity_parse(name, &s)) {
            tg_yaml_error(y, k, "unknown severity \"%s\" in %s (" SEVERITY_NAMES ")", name, what);
        } else if (limits[s] != POL_NO_LIMIT) {
            tg_yaml_error(y, k, "severity \"%s\" appears twice in %s", name, what);
        } else if (tg_parse_int(num, 0, MAX_THRESHOLD, &limits[s])) {
            tg_yaml_error(y, v,
                          "%s.%s: \"%s\" must be a whole number, 0 or more (findings allowed "
                          "before the rule applies)",
                          what, name, num);
        }
    }
}

static void load_severity(struct tg_yaml *y, yaml_node_t *n, struct pol_env *e)
{
    static const char *const keys[] = {"block", "approve", NULL};
    if (n == NULL || tg_yaml_expect_map(y, n, "severity"))
        return;
    tg_yaml_check_keys(y, n, keys, "severity");
    load_thresholds(y, tg_yaml_get(y, n, "block"), "severity.block", e->block);
    load_thresholds(y, tg_yaml_get(y, n, "approve"), "severity.approve", e->approve);
}

static void load_approvals(struct tg_yaml *y, yaml_node_t *n, struct tg_approval_rule *a)
{
    static const char *const keys[] = {"required", "approvers", "prevent_self_approval", "expire",
                                       NULL};
    long long required = a->required;
    if (n == NULL || tg_yaml_expect_map(y, n, "approvals"))
        return;
    tg_yaml_check_keys(y, n, keys, "approvals");
    tg_yaml_get_int(y, n, "required", 1, 100, &required);
    tg_yaml_get_strv(y, n, "approvers", &a->approvers);
    tg_yaml_get_bool(y, n, "prevent_self_approval", &a->prevent_self_approval);
    tg_yaml_get_duration(y, n, "expire", &a->expire_ms);
    a->required = (int)required;
    size_t listed = tg_strv_len(a->approvers);
    if (listed > 0 && (size_t)a->required > listed)
        tg_yaml_error(y, tg_yaml_get(y, n, "required"),
                      "approvals.required is %d but only %zu approver%s listed", a->required,
                      listed, listed == 1 ? " is" : "s are");
    if (a->expire_ms == 0)
        tg_yaml_error(y, tg_yaml_get(y, n, "expire"), "approvals.expire must be longer than 0");
}

/* Names end up in Redis keys and commit-status names: keep them plain. */
static int valid_env_name(const char *s)
{
    return *s != '\0' &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/") ==
               strlen(s);
}

static void check_env_name(struct tg_yaml *y, yaml_node_t *k, const struct tg_policy_set *ps,
                           const char *name)
{
    if (!valid_env_name(name))
        tg_yaml_error(
            y, k, "environment name \"%s\" may hold only letters, digits, '.', '_', '-' and '/'",
            name);
    for (size_t i = 0; i < ps->nenvs; i++)
        if (ps->envs[i].name && strcmp(ps->envs[i].name, name) == 0)
            tg_yaml_error(y, k, "environment \"%s\" is already defined at %s:%zu", name,
                          ps->envs[i].where.file, ps->envs[i].where.line);
}

static void load_env(struct tg_yaml *y, yaml_node_t *k, yaml_node_t *n, struct tg_policy_set *ps)
{
    static const char *const keys[] = {"branches",
                                       "tags",
                                       "merge_requests",
                                       "sources",
                                       "require_jobs",
                                       "reports",
                                       "on_missing_report",
                                       "severity",
                                       "approvals",
                                       "manual_as_success",
                                       NULL};
    const char *name = tg_yaml_scalar(y, k, "environment name");
    if (name == NULL)
        return;
    check_env_name(y, k, ps, name);
    struct pol_env *e = &ps->envs[ps->nenvs++];
    e->name = tg_xstrdup(name);
    e->where = where_of(y, k);
    env_defaults(e);
    if (tg_yaml_expect_map(y, n, "an environment"))
        return;
    tg_yaml_check_keys(y, n, keys, "an environment");
    tg_yaml_get_strv(y, n, "branches", &e->branches);
    tg_yaml_get_strv(y, n, "tags", &e->tags);
    if (e->branches[0] == NULL && e->tags[0] == NULL)
        tg_yaml_error(
            y, k, "environment \"%s\" needs branches or tags (the refs that deploy to it)", name);
    tg_yaml_get_bool(y, n, "merge_requests", &e->merge_requests);
    tg_yaml_get_bool(y, n, "manual_as_success", &e->manual_as_success);
    load_sources(y, n, e);
    load_jobs(y, tg_yaml_get(y, n, "require_jobs"), e);
    load_reports(y, tg_yaml_get(y, n, "reports"), e);
    load_on_missing(y, n, e);
    load_severity(y, tg_yaml_get(y, n, "severity"), e);
    load_approvals(y, tg_yaml_get(y, n, "approvals"), &e->approvals);
}

static void load_envs(struct tg_yaml *y, yaml_node_t *n, struct tg_policy_set *ps)
{
    if (n == NULL || tg_yaml_expect_map(y, n, "environments"))
        return;
    size_t count = tg_yaml_len(n);
    ps->envs = grow(ps->envs, ps->nenvs, count, sizeof *ps->envs);
    for (size_t i = 0; i < count; i++)
        load_env(y, tg_yaml_key(y, n, i), tg_yaml_value(y, n, i), ps);
}

/* ---- exceptions ---- */

/* A plain date means through the end of that day (UTC); a time means up to that instant. */
static void load_until(struct tg_yaml *y, yaml_node_t *map, struct pol_exception *x)
{
    if (tg_yaml_get_str(y, map, "until", &x->until) || x->until == NULL)
        return;
    if (tg_parse_time(x->until, &x->until_ms)) {
        tg_yaml_error(y, tg_yaml_get(y, map, "until"),
                      "until: \"%s\" is not a date (2027-01-31) or an RFC 3339 time", x->until);
        return;
    }
    if (strlen(x->until) == 10)
        x->until_ms += 86400000ULL;
}

static void load_exception(struct tg_yaml *y, yaml_node_t *n, struct pol_exception *x)
{
    static const char *const keys[] = {"id",       "until",        "reason", "by",
                                       "projects", "environments", NULL};
    if (tg_yaml_expect_map(y, n, "exception"))
        return;
    tg_yaml_check_keys(y, n, keys, "exception");
    tg_yaml_get_str(y, n, "id", &x->id);
    tg_yaml_get_str(y, n, "reason", &x->reason);
    tg_yaml_get_str(y, n, "by", &x->by);
    load_until(y, n, x);
    tg_yaml_get_strv(y, n, "projects", &x->projects);
    tg_yaml_get_strv(y, n, "environments", &x->environments);
    if (x->id == NULL || x->until == NULL || x->reason == NULL || x->by == NULL)
        tg_yaml_error(y, n,
                      "an exception needs id, until, reason and by (an accepted risk has an owner "
                      "and an end date)");
    yaml_node_t *envs = tg_yaml_get(y, n, "environments");
    x->where = where_of(y, envs ? envs : n);
}

static void load_exceptions(struct tg_yaml *y, yaml_node_t *n, struct tg_policy_set *ps)
{
    if (n == NULL || tg_yaml_expect_seq(y, n, "exceptions"))
        return;
    size_t count = tg_yaml_len(n);
    ps->exceptions = grow(ps->exceptions, ps->nexceptions, count, sizeof *ps->exceptions);
    for (size_t i = 0; i < count; i++)
        load_exception(y, tg_yaml_item(y, n, i), &ps->exceptions[ps->nexceptions++]);
}

/* ---- ignored projects ---- */

/* ignore_projects: [globs]: pipelines of these projects are never decided (chart
 * repositories whose pipelines Tollgate itself triggers). Files add to one list. */
static void load_ignore_projects(struct tg_yaml *y, yaml_node_t *n, struct tg_policy_set *ps)
{
    if (n == NULL || tg_yaml_expect_seq(y, n, "ignore_projects"))
        return;
    size_t have = tg_strv_len(ps->ignore_projects), add = tg_yaml_len(n);
    ps->ignore_projects = grow(ps->ignore_projects, have, add + 1, sizeof(char *));
    ps->ignore_where = grow(ps->ignore_where, have, add + 1, sizeof(char *));
    for (size_t i = 0; i < add; i++) {
        yaml_node_t *item = tg_yaml_item(y, n, i);
        const char *glob = tg_yaml_scalar(y, item, "ignore_projects entry");
        if (glob == NULL || *glob == '\0') {
            if (glob)
                tg_yaml_error(y, item, "an ignore_projects entry must not be empty");
            continue;
        }
        ps->ignore_projects[have] = tg_xstrdup(glob);
        ps->ignore_where[have++] = tg_xasprintf("%s:%zu", y->file, tg_yaml_line(item));
    }
}

/* ---- files ---- */

static void load_doc(struct tg_yaml *y, struct tg_policy_set *ps)
{
    static const char *const keys[] = {"version", "environments", "exceptions", "ignore_projects",
                                       NULL};
    yaml_node_t *root = tg_yaml_root(y);
    long long version = 0;
    if (tg_yaml_expect_map(y, root, "a policy file"))
        return;
    tg_yaml_check_keys(y, root, keys, "a policy file");
    if (tg_yaml_get(y, root, "version") == NULL)
        tg_yaml_error(y, root, "version is required (version: 1)");
    else if (tg_yaml_get_int(y, root, "version", 0, 1000, &version) == 0 && version != 1)
        tg_yaml_error(y, tg_yaml_get(y, root, "version"),
                      "unsupported version %lld (this Tollgate reads "
                      "version 1)",
                      version);
    load_envs(y, tg_yaml_get(y, root, "environments"), ps);
    load_exceptions(y, tg_yaml_get(y, root, "exceptions"), ps);
    load_ignore_projects(y, tg_yaml_get(y, root, "ignore_projects"), ps);
}

/* A set being loaded: the set, the running hash over its files (tg_policy_set_hash) and
 * where faults go. */
struct loading {
    struct tg_policy_set *ps;
    struct tg_sha256 h;
    struct tg_diag *diag;
    size_t errors_before; /* diag->errors when loading began */
};

static void loading_init(struct loading *l, struct tg_diag *diag)
{
    l->ps = tg_xcalloc(1, sizeof *l->ps);
    tg_sha256_init(&l->h);
    l->diag = diag;
    l->errors_before = diag->errors;
}

/* Adds one file to the set and to the running hash. */
static void load_file(struct loading *l, const char *name, const char *data, size_t len)
{
    struct tg_sha256 *h = &l->h;
    const char *base = strrchr(name, '/');
    char num[32];
    int n = snprintf(num, sizeof num, "%zu", len);
    base = base ? base + 1 : name;
    tg_sha256_update(h, base, strlen(base) + 1);
    tg_sha256_update(h, num, (size_t)n + 1);
    tg_sha256_update(h, data, len);
    struct tg_yaml y;
    if (tg_yaml_open_mem(&y, name, data, len, l->diag) == 0)
        load_doc(&y, l->ps);
    tg_yaml_close(&y);
}

static int env_exists(const struct tg_policy_set *ps, const char *name)
{
    for (size_t i = 0; i < ps->nenvs; i++)
        if (ps->envs[i].name && strcmp(ps->envs[i].name, name) == 0)
            return 1;
    return 0;
}

/* An exception scoped to an environment nobody defines never applies: say so. */
static void check_exception_scopes(const struct tg_policy_set *ps, struct tg_diag *diag)
{
    for (size_t i = 0; i < ps->nexceptions; i++) {
        const struct pol_exception *x = &ps->exceptions[i];
        for (char **e = x->environments; e && *e; e++)
            if (!env_exists(ps, *e))
                tg_diag_warn(diag, x->where.file, x->where.line, x->where.col,
                             "exception %s names environment \"%s\", which no policy defines",
                             x->id ? x->id : "?", *e);
    }
}

static struct tg_policy_set *finish(struct loading *l)
{
    unsigned char digest[TG_SHA256_LEN];
    tg_sha256_final(&l->h, digest);
    tg_hex_encode(digest, sizeof digest, l->ps->hash);
    check_exception_scopes(l->ps, l->diag);
    if (l->diag->errors == l->errors_before)
        return l->ps;
    tg_policy_set_free(l->ps);
    return NULL;
}

/* ---- public ---- */

struct tg_policy_set *tg_policy_load_mem(const char *name, const char *data, size_t len,
                                         struct tg_diag *diag)
{
    struct loading l;
    loading_init(&l, diag);
    load_file(&l, name, data, len);
    return finish(&l);
}

struct tg_policy_set *tg_policy_load_dir(const char *dir, struct tg_diag *diag)
{
    struct loading l;
    size_t errors_before = diag->errors; /* the directory's own faults count too */
    char **files = tg_dirlist(dir, ".yaml", diag);
    if (files == NULL)
        return NULL;
    if (files[0] == NULL)
        tg_diag_error(diag, dir, 0, 0, "no policy files (*.yaml): nothing could ever deploy");
    loading_init(&l, diag);
    l.errors_before = errors_before;
    for (char **f = files; *f; f++) {
        size_t len;
        char *data = tg_read_file(*f, &len);
        if (data == NULL)
            tg_diag_error(diag, *f, 0, 0, "cannot read: %s", strerror(errno));
        else
            load_file(&l, *f, data, len);
        free(data);
    }
    tg_strv_free(files);
    return finish(&l);
}

static void env_dispose(struct pol_env *e)
{
    free(e->name);
    free(e->where.file);
    tg_strv_free(e->branches);
    tg_strv_free(e->tags);
    tg_strv_free(e->sources);
    for (size_t i = 0; i < e->njobs; i++)
        free(e->require_jobs[i].name);
    free(e->require_jobs);
    for (size_t i = 0; i < e->nreports; i++) {
        free(e->reports[i].job);
        free(e->reports[i].artifact);
        free(e->reports[i].defectdojo_scan_type);
    }
    free(e->reports);
    tg_strv_free(e->approvals.approvers);
}

void tg_policy_set_free(struct tg_policy_set *ps)
{
    if (ps == NULL)
        return;
    for (size_t i = 0; i < ps->nenvs; i++)
        env_dispose(&ps->envs[i]);
    for (size_t i = 0; i < ps->nexceptions; i++) {
        struct pol_exception *x = &ps->exceptions[i];
        free(x->id);
        free(x->until);
        free(x->reason);
        free(x->by);
        free(x->where.file);
        tg_strv_free(x->projects);
        tg_strv_free(x->environments);
    }
    free(ps->envs);
    free(ps->exceptions);
    tg_strv_free(ps->ignore_projects);
    tg_strv_free(ps->ignore_where);
    free(ps);
}

const char *tg_policy_set_hash(const struct tg_policy_set *ps)
{
    return ps->hash;
}
