/* eval_cmd.c -- `tollgate eval`: the decision for one recorded event, with local report files.
 *
 * No network: each --report FILE stands for the policy's report entry whose artifact has the
 * same base name (JOB=FILE: of that job); entries without one are "not found". A --report
 * that could stand for two entries, or two that could stand for one, are refused: which file
 * counts would be a guess. Owns the command line, reading the
 * planned reports from files (the middle of the policy module's plan, count, judge) and the
 * output; deciding is the policy module's, rendering the template module's. The trigger token is
 * never printed.
 */
#include "cmd/cli.h"
#include "cmd/commands.h"
#include "base/config.h"
#include "decide/gitlab.h"
#include "decide/policy.h"
#include "deliver/template.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READ_CHUNK 65536

struct report_file {
    char *job;           /* JOB=FILE: only for the entries of this job */
    const char *used_by; /* the job whose entry it stood for */
    const char *path;
    const char *base;             /* matched against the artifact's base name */
    enum tg_report_format format; /* forced when given as FORMAT:FILE */
    int forced;
    int used;
};

struct eval_args {
    const char *config;
    const char *event;
    uint64_t now_ms;
    struct report_file *reports;
    size_t nreports;
};

static int eval_usage(FILE *out)
{
    fprintf(
        out,
        "usage: tollgate eval -c FILE --event EVENT.json [--report [JOB=][FORMAT:]FILE]... [--now "
        "TIME]\n"
        "  Decides for one recorded Pipeline Hook body with the configuration's policies, no\n"
        "  network, and prints the decision JSON (for deploy with the rendered \"trigger\",\n"
        "  never its token).\n"
        "  --report [FORMAT:]FILE  stands for the policy report whose artifact has FILE's base\n"
        "                          name (FORMAT, e.g. trivy, overrides the policy's format);\n"
        "                          reports not given count as missing. Repeatable. Jobs of\n"
        "                          child pipelines are not looked up: a required child job\n"
        "                          is missing, a child report counts when given here.\n"
        "  --report JOB=[FORMAT:]FILE  the same, for the report entries of job JOB only: needed\n"
        "                          when two entries' artifacts share a base name. Files that\n"
        "                          could stand for the same entry, or one that could stand\n"
        "                          for entries of two jobs, are refused (exit 2).\n"
        "  --now TIME              the clock for exception expiry (RFC 3339 or a date)\n"
        "  A pipeline that is never decided (TOLLGATE_DEPLOYMENT variable, ignore_projects)\n"
        "  prints {\"ignored\": REASON, ...}.\n"
        "  Exit 0 deploy, 1 skip, block, needs_approval or ignored, 2 unreadable or invalid "
        "input.\n");
    return out == stdout ? 0 : 2;
}

/* "trivy:out/t.json" forces trivy; a prefix that is no format name is part of the path.
 * "JOB=..." names the job, unless the whole argument is a file or the '=' is in a directory. */
static int add_report(struct eval_args *a, const char *arg)
{
    struct report_file *r;
    const char *eq = strchr(arg, '='), *slash = strchr(arg, '/');
    char fmt[16];
    a->reports = tg_xrealloc(a->reports, (a->nreports + 1) * sizeof *a->reports);
    r = memset(&a->reports[a->nreports++], 0, sizeof *r);
    if (eq && eq > arg && (slash == NULL || eq < slash) && access(arg, F_OK) != 0) {
        r->job = tg_xstrndup(arg, (size_t)(eq - arg));
        arg = eq + 1;
    }
    const char *colon = strchr(arg, ':');
    r->path = arg;
    if (colon && (size_t)(colon - arg) < sizeof fmt) {
        snprintf(fmt, sizeof fmt, "%.*s", (int)(colon - arg), arg);
        r->forced = tg_report_format_parse(fmt, &r->format) == 0;
        r->path = r->forced ? colon + 1 : arg;
    }
    r->base = strrchr(r->path, '/') ? strrchr(r->path, '/') + 1 : r->path;
    if (access(r->path, R_OK) == 0)
        return 0;
    fprintf(stderr, "tollgate eval: %s: %s\n", r->path, strerror(errno));
    return -1;
}

static int same_job(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Two --report arguments that would stand for the same entry: -1 after naming them. */
static int refuse_ambiguous(const struct eval_args *a)
{
    for (size_t i = 0; i < a->nreports; i++) {
        for (size_t k = i + 1; k < a->nreports; k++) {
            const struct report_file *x = &a->reports[i], *y = &a->reports[k];
            if (strcmp(x->base, y->base) != 0 || !same_job(x->job, y->job))
                continue;
            fprintf(
                stderr,
                "tollgate eval: --report %s and --report %s both stand for artifacts named %s%s%s: "
                "name the job of each (--report JOB=FILE) or give one\n",
                x->path, y->path, x->base, x->job ? " of job " : "", x->job ? x->job : "");
            return -1;
        }
    }
    return 0;
}

/* 0 to go on; 1 when --help was printed; -1 after a usage error was reported. */
static int parse_args(int argc, char **argv, struct eval_args *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"event", required_argument, NULL, 'e'},
        {"report", required_argument, NULL, 'r'}, {"now", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int ch;
    a->now_ms = tg_now_ms();
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            a->config = optarg;
            break;
        case 'e':
            a->event = optarg;
            break;
        case 'r':
            if (add_report(a, optarg))
                return -1;
            break;
        case 'n':
            if (tg_parse_time(optarg, &a->now_ms) == 0)
                break;
            fprintf(stderr, "tollgate eval: --now \"%s\" is not an RFC 3339 time or a date\n",
                    optarg);
            return -1;
        case 'h':
            eval_usage(stdout);
            return 1;
        default:
            eval_usage(stderr);
            return -1;
        }
    }
    if (a->config == NULL || a->event == NULL || optind != argc) {
        eval_usage(stderr);
        return -1;
    }
    return refuse_ambiguous(a);
}

/* The file for an entry: JOB=FILE of its job first, then a FILE without a job. */
static struct report_file *report_for(struct eval_args *a, const char *job, const char *base)
{
    struct report_file *any = NULL;
    for (size_t i = 0; i < a->nreports; i++) {
        struct report_file *r = &a->reports[i];
        if (strcmp(r->base, base) != 0)
            continue;
        if (r->job && strcmp(r->job, job) == 0)
            return r;
        if (r->job == NULL && any == NULL)
            any = r;
    }
    return any;
}

/* A decision's plan and the counts of its reports, offline. */
struct gathered {
    struct tg_policy_input in;
    struct tg_policy_plan plan; /* with the counts of its reports */
    char err[512];
};

static enum tg_fetch_result stream_file(const char *path, struct tg_policy_counter *c, char *err,
                                        size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = tg_xmalloc(READ_CHUNK);
    ssize_t n = fd < 0 ? -1 : 0;
    while (fd >= 0 && (n = read(fd, buf, READ_CHUNK)) > 0 &&
           tg_policy_counter_sink(c, buf, (size_t)n) == 0)
        ;
    if (n < 0)
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    if (fd >= 0)
        close(fd);
    free(buf);
    return n < 0 ? TG_FETCH_ERROR : TG_FETCH_OK;
}

/* Counts planned report i from the --report file that stands for it ("not found" without
 * one): 0, or -1 with g->err when the file is ambiguous or unreadable. */
static int count_file(struct eval_args *a, struct gathered *g, size_t i)
{
    const struct tg_policy_report *ref = &g->plan.reports[i];
    const char *base =
        strrchr(ref->artifact, '/') ? strrchr(ref->artifact, '/') + 1 : ref->artifact;
    struct report_file *r = report_for(a, ref->job, base);
    struct tg_policy_counter *c =
        tg_policy_counter_new(&g->plan, i, r && r->forced ? r->format : ref->format);
    enum tg_fetch_result res = TG_FETCH_NOT_FOUND;
    if (r && r->used_by && strcmp(r->used_by, ref->job) != 0) {
        snprintf(
            g->err, sizeof g->err,
            "--report %s stands for artifacts of jobs %s and %s: name the job (--report JOB=FILE)",
            r->path, r->used_by, ref->job);
        res = TG_FETCH_ERROR;
    } else if (r) {
        r->used = 1;
        r->used_by = ref->job;
        res = stream_file(r->path, c, g->err, sizeof g->err);
    }
    return tg_policy_counter_end(c, res, g->err, sizeof g->err);
}

/* Plan, count the local files, judge: 0 with d filled, or -1 with g->err. */
static int decide_offline(struct eval_args *a, struct gathered *g, struct tg_decision *d)
{
    int rc = 0;
    tg_policy_plan(&g->in, &g->plan);
    for (size_t i = 0; i < g->plan.nreports && rc == 0; i++)
        if (g->plan.reports[i].located)
            rc = count_file(a, g, i);
    if (rc == 0)
        rc = tg_policy_judge(&g->in, &g->plan, d, g->err, sizeof g->err);
    tg_policy_plan_dispose(&g->plan);
    return rc;
}

static int load_event(const char *path, struct tg_event *ev)
{
    char err[512];
    size_t len;
    char *body = tg_read_file(path, &len);
    if (body == NULL) {
        fprintf(stderr, "tollgate eval: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = tg_event_parse(&(struct tg_hook){NULL, body, len}, ev, err, sizeof err);
    free(body);
    if (rc)
        fprintf(stderr, "tollgate eval: %s: %s\n", path, err);
    else if (ev->kind != TG_EVENT_PIPELINE)
        fprintf(stderr, "tollgate eval: %s: a %s event; eval decides Pipeline Hook events\n", path,
                tg_event_kind_name(ev->kind));
    if (rc == 0 && ev->kind != TG_EVENT_PIPELINE) {
        tg_event_dispose(ev);
        rc = -1;
    }
    return rc;
}

/* {"template", "project", "ref", "variables"} for a deploy, or json null when no template
 * serves the project; NULL when rendering failed (reported). */
static json_t *trigger_json(const struct tg_config *c, const struct tg_event *ev,
                            const struct tg_decision *d)
{
    const struct tg_template *t = tg_template_match(c->templates, ev->project_path);
    struct tg_trigger_request req;
    char err[512];
    if (t == NULL) {
        fprintf(stderr, "tollgate eval: warning: no template matches project %s\n",
                ev->project_path);
        return json_null();
    }
    if (tg_template_render(t, &(struct tg_template_input){ev, d}, &req, err, sizeof err)) {
        fprintf(stderr, "tollgate eval: %s\n", err);
        return NULL;
    }
    json_t *vars = json_object();
    for (size_t i = 0; i < req.nvars; i++)
        json_object_set_new(vars, req.var_names[i], json_string(req.var_values[i]));
    json_t *j = json_pack("{s:s, s:s, s:s, s:o}", "template", req.template_name, "project",
                          req.project, "ref", req.ref, "variables", vars);
    tg_trigger_request_dispose(&req);
    return j;
}

static void warn_unused(const struct eval_args *a)
{
    for (size_t i = 0; i < a->nreports; i++)
        if (!a->reports[i].used)
            fprintf(stderr,
                    "tollgate eval: warning: --report %s was not used (no report of the chosen "
                    "environment%s%s has an artifact named %s)\n",
                    a->reports[i].path, a->reports[i].job ? " and job " : "",
                    a->reports[i].job ? a->reports[i].job : "", a->reports[i].base);
}

static void free_reports(struct eval_args *a)
{
    for (size_t i = 0; i < a->nreports; i++)
        free(a->reports[i].job);
    free(a->reports);
}

/* Decides and prints; returns the exit code. */
static int decide_and_print(const struct tg_config *c, const struct tg_event *ev,
                            struct eval_args *a)
{
    struct tg_decision d;
    char err[512];
    if (tg_policy_ignored(c->policies, ev, err, sizeof err)) {
        json_t *j =
            json_pack("{s:s, s:s, s:s, s:I}", "ignored", err, "project", ev->project_path, "source",
                      ev->pipeline_source, "pipeline", (json_int_t)ev->pipeline_id);
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", text);
        free(text);
        json_decref(j);
        return 1;
    }
    struct gathered g = {.in = {.ps = c->policies, .ev = ev, .offline = 1, .now_ms = a->now_ms}};
    if (decide_offline(a, &g, &d)) {
        fprintf(stderr, "tollgate eval: %s\n", g.err);
        return 2;
    }
    int rc = d.verdict == TG_VERDICT_DEPLOY ? 0 : 1;
    json_t *trigger = rc == 0 ? trigger_json(c, ev, &d) : NULL;
    if (rc == 0 && trigger == NULL)
        rc = 2;
    else if (rc == 0)
        json_object_set_new(d.json, "trigger", trigger);
    if (rc != 2) {
        char *text = json_dumps(d.json, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", text);
        free(text);
        if (json_array_size(json_object_get(d.json, "reports")) > 0)
            warn_unused(a);
    }
    tg_decision_dispose(&d);
    return rc;
}

int tg_cmd_eval(int argc, char **argv)
{
    struct eval_args a = {0};
    struct tg_event ev;
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        free_reports(&a);
        return rc > 0 ? 0 : 2;
    }
    struct tg_config *c = tg_cli_config(a.config);
    if (c == NULL)
        fprintf(stderr, "tollgate eval: %s: invalid configuration\n", a.config);
    rc = 2;
    if (c && load_event(a.event, &ev) == 0) {
        rc = decide_and_print(c, &ev, &a);
        tg_event_dispose(&ev);
    }
    tg_config_unref(c);
    free_reports(&a);
    return rc;
}
