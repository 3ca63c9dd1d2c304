/* policy_impl.h -- the loaded policy set, shared by policy_load.c and policy.c only.
 *
 * policy_load.c builds it from YAML (every default set there); policy.c only reads it, from
 * any number of worker threads at once, so nothing here changes after loading.
 */
#ifndef TG_POLICY_IMPL_H
#define TG_POLICY_IMPL_H

#include "base/crypto.h"
#include "decide/policy.h"

#include <stddef.h>
#include <stdint.h>

#define POL_NO_LIMIT (-1LL) /* a severity bucket without a threshold */

enum pol_missing { POL_MISSING_BLOCK, POL_MISSING_SKIP, POL_MISSING_IGNORE };

/* A position in a policy file, for messages that point back at a definition. */
struct pol_where {
    char *file;
    size_t line, col;
};

struct pol_report {
    char *job;
    char *artifact;
    enum tg_report_format format; /* TG_REPORT_AUTO when not given */
    int child;                    /* pipeline: child -- a job of a downstream pipeline */
    char *defectdojo_scan_type;   /* DefectDojo's scan_type for a report that cannot name it
                                     (GitLab reports older than the scan object), or NULL */
};

/* A require_jobs entry: "name", or {job: name, pipeline: child}. */
struct pol_job {
    char *name;
    int child;
};

struct pol_env {
    char *name;
    struct pol_where where;
    char **branches; /* NULL-terminated globs; empty arrays when absent */
    char **tags;
    int merge_requests;
    int manual_as_success; /* a pipeline resting on a blocking manual job counts as success */
    char **sources;        /* NULL-terminated pipeline sources that may deploy; NULL: the
                            defaults (tg_policy_default_sources) */
    struct pol_job *require_jobs;
    size_t njobs;
    int names_children; /* a require_jobs or reports entry names a child pipeline's job */
    struct pol_report *reports;
    size_t nreports;
    enum pol_missing on_missing;
    long long block[TG_SEV_COUNT];     /* more than this many -> block; POL_NO_LIMIT */
    long long approve[TG_SEV_COUNT];   /* more than this many -> needs_approval */
    struct tg_approval_rule approvals; /* approvers: NULL-terminated, possibly empty */
};

struct pol_exception {
    char *id;
    char *until;       /* as written */
    uint64_t until_ms; /* the first instant it no longer applies */
    char *reason;
    char *by;
    char **projects;     /* globs on the project path; NULL: every project */
    char **environments; /* environment names; NULL: every environment */
    struct pol_where where;
};

struct tg_policy_set {
    struct pol_env *envs; /* files in name order, environments in file order */
    size_t nenvs;
    char **ignore_projects; /* NULL-terminated globs over all files (top-level key) */
    char **ignore_where;    /* "file:line" of each glob, for reasons */
    struct pol_exception *exceptions;
    size_t nexceptions;
    char hash[TG_SHA256_HEX_LEN + 1];
};

#endif
