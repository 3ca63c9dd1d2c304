/* gitlab.c -- GitLab webhook bodies parsed (jansson) into one normalised struct tg_event.
 *
 * Where each field lives differs per hook kind; the sources[] table below says where, so a
 * new kind or a moved field is a row, not code. A field of the wrong JSON type is an error
 * naming its path, never a crash or a silent zero. Runs on worker threads; keeps no state.
 */
#include "decide/gitlab.h"
#include "base/util.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum jtype { T_OBJ, T_ARR, T_STR, T_INT, T_BOOL };

#define F(field) offsetof(struct tg_event, field)
#define KIND(k)  (1u << (k))
#define ANY      0xffffu
#define PUSHES   (KIND(TG_EVENT_PUSH) | KIND(TG_EVENT_TAG_PUSH))

/* Where a field comes from for the kinds in the mask: the first path that holds a non-empty
 * value (non-zero number) wins. */
struct source {
    unsigned kinds;
    size_t off;
    enum jtype type;
    const char *paths[3];
};

static const struct source sources[] = {
    {ANY, F(project_id), T_INT, {"project.id", "project_id"}},
    {ANY, F(project_path), T_STR, {"project.path_with_namespace"}},
    {ANY, F(project_name), T_STR, {"project.name"}},
    {ANY, F(project_url), T_STR, {"project.web_url", "project.homepage"}},
    /* Push hooks keep the user flat; the others in a user object. */
    {ANY, F(user_id), T_INT, {"user.id", "user_id"}},
    {ANY, F(user_username), T_STR, {"user.username", "user_username"}},
    {ANY, F(user_name), T_STR, {"user.name", "user_name"}},
    {ANY, F(user_email), T_STR, {"user.email", "user_email"}},

    {KIND(TG_EVENT_PIPELINE), F(pipeline_id), T_INT, {"object_attributes.id"}},
    {KIND(TG_EVENT_PIPELINE), F(pipeline_iid), T_INT, {"object_attributes.iid"}},
    {KIND(TG_EVENT_PIPELINE), F(pipeline_status), T_STR, {"object_attributes.status"}},
    {KIND(TG_EVENT_PIPELINE), F(pipeline_source), T_STR, {"object_attributes.source"}},
    {KIND(TG_EVENT_PIPELINE), F(pipeline_url), T_STR, {"object_attributes.url"}},
    {KIND(TG_EVENT_PIPELINE), F(ref), T_STR, {"object_attributes.ref"}},
    {KIND(TG_EVENT_PIPELINE), F(tag), T_BOOL, {"object_attributes.tag"}},
    {KIND(TG_EVENT_PIPELINE), F(sha), T_STR, {"object_attributes.sha", "commit.id"}},
    {KIND(TG_EVENT_PIPELINE), F(commit_message), T_STR, {"commit.message"}},
    {KIND(TG_EVENT_PIPELINE), F(commit_url), T_STR, {"commit.url"}},
    {KIND(TG_EVENT_PIPELINE), F(commit_author), T_STR, {"commit.author.name"}},
    {KIND(TG_EVENT_PIPELINE), F(mr_iid), T_INT, {"merge_request.iid"}},
    {KIND(TG_EVENT_PIPELINE), F(mr_source_branch), T_STR, {"merge_request.source_branch"}},
    {KIND(TG_EVENT_PIPELINE), F(mr_source_project_id), T_INT, {"merge_request.source_project_id"}},
    {KIND(TG_EVENT_PIPELINE), F(mr_target_project_id), T_INT, {"merge_request.target_project_id"}},
    {KIND(TG_EVENT_PIPELINE) | KIND(TG_EVENT_JOB),
     F(parent_project_id),
     T_INT,
     {"source_pipeline.project.id"}},
    {KIND(TG_EVENT_PIPELINE) | KIND(TG_EVENT_JOB),
     F(parent_pipeline_id),
     T_INT,
     {"source_pipeline.pipeline_id"}},
    {KIND(TG_EVENT_PIPELINE) | KIND(TG_EVENT_JOB),
     F(parent_job_id),
     T_INT,
     {"source_pipeline.job_id"}},

    /* Job hooks: commit.id is the PIPELINE id, not a sha. */
    {KIND(TG_EVENT_JOB), F(pipeline_id), T_INT, {"pipeline_id", "commit.id"}},
    {KIND(TG_EVENT_JOB), F(pipeline_status), T_STR, {"build_status"}},
    {KIND(TG_EVENT_JOB), F(job_id), T_INT, {"build_id"}},
    {KIND(TG_EVENT_JOB), F(job_allow_failure), T_BOOL, {"build_allow_failure"}},
    {KIND(TG_EVENT_JOB), F(ref), T_STR, {"ref"}},
    {KIND(TG_EVENT_JOB), F(tag), T_BOOL, {"tag"}},
    {KIND(TG_EVENT_JOB), F(sha), T_STR, {"sha", "commit.sha"}},
    {KIND(TG_EVENT_JOB), F(commit_message), T_STR, {"commit.message"}},
    {KIND(TG_EVENT_JOB), F(commit_author), T_STR, {"commit.author_name"}},

    /* Deployment hooks carry no ref and only the short sha. */
    {KIND(TG_EVENT_DEPLOYMENT), F(pipeline_status), T_STR, {"status"}},
    {KIND(TG_EVENT_DEPLOYMENT), F(sha), T_STR, {"short_sha"}},
    {KIND(TG_EVENT_DEPLOYMENT), F(commit_url), T_STR, {"commit_url"}},
    {KIND(TG_EVENT_DEPLOYMENT), F(commit_message), T_STR, {"commit_title"}},

    {KIND(TG_EVENT_MERGE_REQUEST), F(mr_iid), T_INT, {"object_attributes.iid"}},
    {KIND(TG_EVENT_MERGE_REQUEST), F(ref), T_STR, {"object_attributes.source_branch"}},
    {KIND(TG_EVENT_MERGE_REQUEST), F(mr_source_branch), T_STR, {"object_attributes.source_branch"}},
    {KIND(TG_EVENT_MERGE_REQUEST),
     F(mr_source_project_id),
     T_INT,
     {"object_attributes.source_project_id"}},
    {KIND(TG_EVENT_MERGE_REQUEST),
     F(mr_target_project_id),
     T_INT,
     {"object_attributes.target_project_id"}},
    {KIND(TG_EVENT_MERGE_REQUEST), F(sha), T_STR, {"object_attributes.last_commit.id"}},
    {KIND(TG_EVENT_MERGE_REQUEST),
     F(commit_message),
     T_STR,
     {"object_attributes.last_commit.message"}},
    {KIND(TG_EVENT_MERGE_REQUEST), F(commit_url), T_STR, {"object_attributes.last_commit.url"}},
    {KIND(TG_EVENT_MERGE_REQUEST),
     F(commit_author),
     T_STR,
     {"object_attributes.last_commit.author.name"}},

    {PUSHES, F(ref), T_STR, {"ref"}},
    {PUSHES, F(sha), T_STR, {"checkout_sha", "after"}},

    {KIND(TG_EVENT_OTHER), F(ref), T_STR, {"ref", "object_attributes.ref"}},
    {KIND(TG_EVENT_OTHER), F(sha), T_STR, {"sha", "checkout_sha", "object_attributes.sha"}},
};

/* Every string field: never NULL after a parse, freed by dispose. */
static const size_t str_fields[] = {
    F(project_path),    F(project_name),     F(project_namespace), F(project_slug),  F(project_url),
    F(pipeline_status), F(pipeline_source),  F(pipeline_url),      F(ref),           F(sha),
    F(commit_message),  F(commit_url),       F(commit_author),     F(user_username), F(user_name),
    F(user_email),      F(mr_source_branch),
};

/* Template variables and the field each reads. */
struct var {
    const char *name;
    enum jtype type;
    size_t off;
};

static const struct var vars[] = {
    {"project.id", T_INT, F(project_id)},
    {"project.name", T_STR, F(project_name)},
    {"project.namespace", T_STR, F(project_namespace)},
    {"project.path", T_STR, F(project_path)},
    {"project.slug", T_STR, F(project_slug)},
    {"project.url", T_STR, F(project_url)},
    {"pipeline.id", T_INT, F(pipeline_id)},
    {"pipeline.iid", T_INT, F(pipeline_iid)},
    {"pipeline.ref", T_STR, F(ref)},
    {"pipeline.sha", T_STR, F(sha)},
    {"pipeline.status", T_STR, F(pipeline_status)},
    {"pipeline.source", T_STR, F(pipeline_source)},
    {"pipeline.url", T_STR, F(pipeline_url)},
    {"pipeline.tag", T_BOOL, F(tag)},
    {"commit.sha", T_STR, F(sha)},
    {"commit.message", T_STR, F(commit_message)},
    {"commit.url", T_STR, F(commit_url)},
    {"commit.author", T_STR, F(commit_author)},
    {"user.username", T_STR, F(user_username)},
    {"user.name", T_STR, F(user_name)},
    {"user.email", T_STR, F(user_email)},
};

static const struct {
    const char *name, *header, *object_kind;
} kinds[] = {
    [TG_EVENT_PIPELINE] = {"pipeline", "Pipeline Hook", "pipeline"},
    [TG_EVENT_JOB] = {"job", "Job Hook", "build"},
    [TG_EVENT_DEPLOYMENT] = {"deployment", "Deployment Hook", "deployment"},
    [TG_EVENT_MERGE_REQUEST] = {"merge_request", "Merge Request Hook", "merge_request"},
    [TG_EVENT_PUSH] = {"push", "Push Hook", "push"},
    [TG_EVENT_TAG_PUSH] = {"tag_push", "Tag Push Hook", "tag_push"},
    [TG_EVENT_OTHER] = {"other", NULL, NULL},
};

/* One walk over a payload. The first type fault is kept in err; later ones are ignored. */
struct reader {
    json_t *root;
    int strict; /* 0 for unknown kinds: a field of another type is skipped, not a fault */
    int failed;
    char *err;
    size_t errlen;
};

static const char *jtype_name(enum jtype t)
{
    static const char *const names[] = {"an object", "a list", "a string", "an integer",
                                        "true or false"};
    return names[t];
}

static int has_type(json_t *v, enum jtype t)
{
    switch (t) {
    case T_OBJ:
        return json_is_object(v);
    case T_ARR:
        return json_is_array(v);
    case T_STR:
        return json_is_string(v);
    case T_INT:
        return json_is_integer(v);
    case T_BOOL:
        return json_is_boolean(v);
    }
    return 0;
}

static json_t *fault(struct reader *r, const char *where, const char *path, size_t pathlen,
                     enum jtype want)
{
    if (r->strict && !r->failed)
        snprintf(r->err, r->errlen, "%s%.*s is not %s", where, (int)pathlen, path,
                 jtype_name(want));
    r->failed |= r->strict;
    return NULL;
}

/* The value at a dotted path below the object base, or NULL when absent or null. A value of
 * another type, or a non-object on the way, is a fault. where prefixes the path in messages
 * ("builds[2]."). */
static json_t *lookup(struct reader *r, json_t *base, const char *where, const char *path,
                      enum jtype want)
{
    json_t *v = base;
    const char *seg = path;
    for (;;) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
        v = json_object_getn(v, seg, n);
        if (dot == NULL || v == NULL || json_is_null(v))
            break;
        if (!json_is_object(v))
            return fault(r, where, path, (size_t)(dot - path), T_OBJ);
        seg = dot + 1;
    }
    if (v == NULL || json_is_null(v))
        return NULL;
    return has_type(v, want) ? v : fault(r, where, path, strlen(path), want);
}

/* Stores v into the field; returns 1 when the value counts as present (non-empty). */
static int store(void *field, enum jtype type, json_t *v)
{
    switch (type) {
    case T_STR:
        if (json_string_length(v) == 0)
            return 0;
        free(*(char **)field);
        *(char **)field = tg_xstrndup(json_string_value(v), json_string_length(v));
        return 1;
    case T_INT:
        *(long long *)field = json_integer_value(v);
        return *(long long *)field != 0;
    case T_BOOL:
        *(int *)field = json_is_true(v);
        return 1;
    default:
        return 0;
    }
}

static void apply(struct reader *r, const struct source *s, struct tg_event *e)
{
    for (size_t i = 0; i < TG_ARRAY_SIZE(s->paths) && s->paths[i]; i++) {
        json_t *v = lookup(r, r->root, "", s->paths[i], s->type);
        if (v && store((char *)e + s->off, s->type, v))
            return;
    }
}

static char *dup_str(struct reader *r, json_t *base, const char *where, const char *path)
{
    json_t *v = lookup(r, base, where, path, T_STR);
    return v ? tg_xstrndup(json_string_value(v), json_string_length(v)) : tg_xstrdup("");
}

static void parse_builds(struct reader *r, struct tg_event *e)
{
    json_t *builds = lookup(r, r->root, "", "builds", T_ARR);
    size_t n = builds ? json_array_size(builds) : 0;
    e->builds = n ? tg_xcalloc(n, sizeof *e->builds) : NULL;
    for (size_t i = 0; i < n && !r->failed; i++) {
        json_t *b = json_array_get(builds, i), *id;
        char where[48];
        snprintf(where, sizeof where, "builds[%zu].", i);
        if (!json_is_object(b)) {
            snprintf(where, sizeof where, "builds[%zu]", i);
            fault(r, where, "", 0, T_OBJ);
            break;
        }
        id = lookup(r, b, where, "id", T_INT);
        e->builds[i].id = id ? json_integer_value(id) : 0;
        e->builds[i].name = dup_str(r, b, where, "name");
        e->builds[i].stage = dup_str(r, b, where, "stage");
        e->builds[i].status = dup_str(r, b, where, "status");
        json_t *af = lookup(r, b, where, "allow_failure", T_BOOL);
        e->builds[i].allow_failure = af && json_is_true(af);
        e->nbuilds = i + 1;
    }
}

static void parse_variables(struct reader *r, struct tg_event *e)
{
    json_t *vars = lookup(r, r->root, "", "object_attributes.variables", T_ARR);
    size_t n = vars ? json_array_size(vars) : 0;
    e->variables = n ? tg_xcalloc(n, sizeof *e->variables) : NULL;
    for (size_t i = 0; i < n && !r->failed; i++) {
        json_t *v = json_array_get(vars, i);
        char where[64];
        if (!json_is_object(v)) {
            snprintf(where, sizeof where, "object_attributes.variables[%zu]", i);
            fault(r, where, "", 0, T_OBJ);
            break;
        }
        snprintf(where, sizeof where, "object_attributes.variables[%zu].", i);
        e->variables[i].key = dup_str(r, v, where, "key");
        e->variables[i].value = dup_str(r, v, where, "value");
        e->nvariables = i + 1;
    }
}

/* A push names its head commit only by sha: the details are in commits[] (newest 20). */
static void parse_push_commit(struct reader *r, struct tg_event *e)
{
    json_t *commits = lookup(r, r->root, "", "commits", T_ARR);
    for (size_t i = 0; commits && i < json_array_size(commits); i++) {
        json_t *c = json_array_get(commits, i), *id;
        if (!json_is_object(c) || (id = json_object_get(c, "id")) == NULL || !json_is_string(id) ||
            e->sha == NULL || strcmp(json_string_value(id), e->sha) != 0)
            continue;
        e->commit_message = dup_str(r, c, "commits[].", "message");
        e->commit_url = dup_str(r, c, "commits[].", "url");
        e->commit_author = dup_str(r, c, "commits[].", "author.name");
        return;
    }
}

static enum tg_event_kind detect_kind(const char *event_header, json_t *root)
{
    json_t *ok = json_object_get(root, "object_kind");
    for (int k = 0; k < TG_EVENT_OTHER; k++)
        if (event_header && strcmp(event_header, kinds[k].header) == 0)
            return (enum tg_event_kind)k;
    for (int k = 0; k < TG_EVENT_OTHER; k++)
        if (json_is_string(ok) && strcmp(json_string_value(ok), kinds[k].object_kind) == 0)
            return (enum tg_event_kind)k;
    return TG_EVENT_OTHER;
}

static void strip_prefix(char *ref, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(ref, prefix, n) == 0)
        memmove(ref, ref + n, strlen(ref + n) + 1);
}

/* Tag or branch comes from fields, never from the ref's spelling: GitLab refuses only the
 * refs/heads/ and refs/remotes/ prefixes in branch names, so a branch may be called
 * "refs/tags/v9". Push hooks carry full refs (refs/heads/x, refs/tags/x); pipeline and job
 * hooks carry the bare name and the tag flag. A merge-request pipeline's ref is its source
 * branch (detached pipelines may name refs/merge-requests/N/head instead). */
static void normalise_ref(struct tg_event *e)
{
    if (e->kind == TG_EVENT_TAG_PUSH) {
        e->tag = 1;
        strip_prefix(e->ref, "refs/tags/");
        return;
    }
    if (e->merge_request && *e->mr_source_branch && e->kind == TG_EVENT_PIPELINE) {
        free(e->ref);
        e->ref = tg_xstrdup(e->mr_source_branch);
        e->tag = 0;
    }
    if (!e->tag)
        strip_prefix(e->ref, "refs/heads/");
    e->mr_fork = e->merge_request && (e->mr_source_project_id == 0 ||
                                      e->mr_source_project_id != e->mr_target_project_id);
}

/* Fields computed from others once the payload has been read. */
static void derive(struct tg_event *e)
{
    const char *path = e->project_path ? e->project_path : "", *slash = strrchr(path, '/');
    e->project_namespace = tg_xstrndup(path, slash ? (size_t)(slash - path) : 0);
    e->project_slug = tg_xstrdup(slash ? slash + 1 : path);
    if (e->pipeline_url == NULL && e->pipeline_id && e->project_url)
        e->pipeline_url = tg_xasprintf("%s/-/pipelines/%lld", e->project_url, e->pipeline_id);
    for (size_t i = 0; i < TG_ARRAY_SIZE(str_fields); i++) {
        char **f = (char **)((char *)e + str_fields[i]);
        if (*f == NULL)
            *f = tg_xstrdup("");
    }
    normalise_ref(e);
}

static void parse_fields(struct reader *r, struct tg_event *e)
{
    for (size_t i = 0; i < TG_ARRAY_SIZE(sources); i++)
        if (sources[i].kinds & KIND(e->kind))
            apply(r, &sources[i], e);
    if (e->kind == TG_EVENT_PIPELINE) {
        e->merge_request =
            lookup(r, r->root, "", "merge_request", T_OBJ) != NULL ||
            (e->pipeline_source && strcmp(e->pipeline_source, "merge_request_event") == 0);
        parse_builds(r, e);
        parse_variables(r, e);
    }
    if (e->kind == TG_EVENT_MERGE_REQUEST)
        e->merge_request = 1;
    if (e->kind == TG_EVENT_PUSH || e->kind == TG_EVENT_TAG_PUSH)
        parse_push_commit(r, e);
    derive(e);
}

/* ---- public ---- */

int tg_event_parse(const struct tg_hook *hook, struct tg_event *out, char *err, size_t errlen)
{
    const char *event_header = hook->event_header, *body = hook->body;
    size_t len = hook->len;
    json_error_t jerr;
    memset(out, 0, sizeof *out);
    json_t *root = json_loadb(body, len, JSON_ALLOW_NUL, &jerr); /* ingest accepts \u0000 */
    if (root == NULL) {
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
                 jerr.text);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "the payload is not a JSON object");
        json_decref(root);
        return -1;
    }
    out->kind = detect_kind(event_header, root);
    struct reader r = {root, out->kind != TG_EVENT_OTHER, 0, err, errlen};
    parse_fields(&r, out);
    json_decref(root);
    if (!r.failed)
        return 0;
    tg_event_dispose(out);
    return -1;
}

void tg_event_dispose(struct tg_event *e)
{
    for (size_t i = 0; i < TG_ARRAY_SIZE(str_fields); i++)
        free(*(char **)((char *)e + str_fields[i]));
    for (size_t i = 0; i < e->nbuilds; i++) {
        free(e->builds[i].name);
        free(e->builds[i].stage);
        free(e->builds[i].status);
    }
    free(e->builds);
    for (size_t i = 0; i < e->nvariables; i++) {
        free(e->variables[i].key);
        free(e->variables[i].value);
    }
    free(e->variables);
    memset(e, 0, sizeof *e);
    e->kind = TG_EVENT_OTHER;
}

const char *tg_event_kind_name(enum tg_event_kind k)
{
    return (unsigned)k <= TG_EVENT_OTHER ? kinds[k].name : "other";
}

int tg_pipeline_status_is_final(const char *status)
{
    static const char *const final[] = {"success", "failed", "canceled", "skipped"};
    for (size_t i = 0; status && i < TG_ARRAY_SIZE(final); i++)
        if (strcmp(status, final[i]) == 0)
            return 1;
    return 0;
}

const char *tg_event_variable(const struct tg_event *e, const char *key)
{
    for (size_t i = 0; i < e->nvariables; i++)
        if (strcmp(e->variables[i].key, key) == 0)
            return e->variables[i].value;
    return NULL;
}

const struct tg_build *tg_event_find_build(const struct tg_event *e, const char *name)
{
    const struct tg_build *best = NULL;
    for (size_t i = 0; i < e->nbuilds; i++)
        if (strcmp(e->builds[i].name, name) == 0 && (best == NULL || e->builds[i].id > best->id))
            best = &e->builds[i];
    return best;
}

static const struct var *find_var(const char *name)
{
    for (size_t i = 0; i < TG_ARRAY_SIZE(vars); i++)
        if (strcmp(vars[i].name, name) == 0)
            return &vars[i];
    return NULL;
}

int tg_event_var_known(const char *name)
{
    return find_var(name) != NULL;
}

int tg_event_var_append(const struct tg_event *e, const char *name, struct tg_buf *out)
{
    const struct var *v = find_var(name);
    if (v == NULL)
        return -1;
    const void *field = (const char *)e + v->off;
    if (v->type == T_INT)
        tg_buf_printf(out, "%lld", *(const long long *)field);
    else if (v->type == T_BOOL)
        tg_buf_puts(out, *(const int *)field ? "true" : "false");
    else
        tg_buf_puts(out, *(char *const *)field ? *(char *const *)field : "");
    return 0;
}

int tg_event_var(const struct tg_event *e, const char *name, char *out, size_t outlen)
{
    struct tg_buf b;
    tg_buf_init(&b);
    int rc = tg_event_var_append(e, name, &b);
    if (rc == 0 && outlen)
        snprintf(out, outlen, "%s", b.data ? b.data : "");
    tg_buf_dispose(&b);
    return rc;
}
