/* template.c -- templates/NAME.yaml: loaded and checked once, matched and rendered per deploy.
 *
 * Every {{ name }} is checked when the file loads, so rendering cannot meet an unknown one.
 * Files whose kind is not "trigger" (chat messages, a later issue's) are left alone. A loaded
 * set is read-only: worker threads match and render from it concurrently.
 */
#include "deliver/template.h"
#include "base/util.h"
#include "base/yamlfile.h"
#include "base/dirlist.h"

#include <ctype.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 64

struct tg_template {
    char *name;
    char *match_project; /* glob on the upstream project path */
    char *project;       /* raw, with placeholders */
    char *ref;
    struct tg_secret token;
    char **var_names;  /* NULL-terminated, in file order */
    char **var_values; /* raw, with placeholders */
    size_t nvars;
};

struct tg_template_set {
    struct tg_template *items;
    size_t n;
};

static const char *const decision_vars[] = {"decision.environment", "decision.verdict",
                                            "decision.rule", "decision.policy_hash"};

/* ---- placeholders ---- */

/* Called for each literal run (is_name 0) and each trimmed placeholder name (is_name 1). */
typedef void (*piece_fn)(void *arg, int is_name, const char *s, size_t n);

/* Splits text into literals and {{ name }} placeholders. -1 when a "{{" has no "}}". */
static int walk(const char *text, piece_fn fn, void *arg)
{
    const char *p = text;
    for (;;) {
        const char *open = strstr(p, "{{"), *close, *s, *e;
        if (open == NULL) {
            fn(arg, 0, p, strlen(p));
            return 0;
        }
        fn(arg, 0, p, (size_t)(open - p));
        if ((close = strstr(open + 2, "}}")) == NULL)
            return -1;
        for (s = open + 2; s < close && isspace((unsigned char)*s); s++)
            ;
        for (e = close; e > s && isspace((unsigned char)e[-1]); e--)
            ;
        fn(arg, 1, s, (size_t)(e - s));
        p = close + 2;
    }
}

static int decision_var(const char *name)
{
    for (size_t i = 0; i < TG_ARRAY_SIZE(decision_vars); i++)
        if (strcmp(name, decision_vars[i]) == 0)
            return (int)i;
    return -1;
}

struct check {
    struct tg_yaml *y;
    yaml_node_t *node;
    const char *what;
    const struct tg_template_extra *extra; /* NULL: the template vocabulary only */
};

/* The index of name among x's names, or -1 (also when x is NULL). */
static int extra_var(const struct tg_template_extra *x, const char *name)
{
    for (size_t i = 0; x && i < x->n; i++)
        if (strcmp(name, x->names[i]) == 0)
            return (int)i;
    return -1;
}

static void on_check(void *arg, int is_name, const char *s, size_t n)
{
    struct check *c = arg;
    char name[NAME_MAX_LEN + 1];
    if (!is_name)
        return;
    snprintf(name, sizeof name, "%.*s", (int)n, s);
    if (n <= NAME_MAX_LEN &&
        (tg_event_var_known(name) || decision_var(name) >= 0 || extra_var(c->extra, name) >= 0))
        return;
    char more[256] = ""; /* the names this value allows besides the vocabulary */
    size_t used = 0;
    for (size_t i = 0; c->extra && i < c->extra->n && used < sizeof more; i++)
        used += (size_t)snprintf(more + used, sizeof more - used, ", %s", c->extra->names[i]);
    tg_yaml_error(c->y, c->node,
                  "%s: unknown placeholder {{ %.*s }} (known: project.*, pipeline.*, "
                  "commit.*, user.*, decision.*%s; see the template reference)",
                  c->what, (int)n, s, more);
}

/* The scalar's text, its placeholders checked; a heap copy, or NULL (reported). */
static char *checked_value(struct tg_yaml *y, yaml_node_t *n, const char *what)
{
    return tg_template_check_value(y, n, what, NULL);
}

char *tg_template_check_value(struct tg_yaml *y, yaml_node_t *n, const char *what,
                              const struct tg_template_extra *extra)
{
    const char *s = tg_yaml_scalar(y, n, what);
    struct check c = {y, n, what, extra};
    if (s == NULL)
        return NULL;
    if (walk(s, on_check, &c))
        tg_yaml_error(y, n, "%s: \"{{\" without \"}}\"", what);
    return tg_xstrdup(s);
}

static char *required_value(struct tg_yaml *y, yaml_node_t *map, const char *key, const char *what)
{
    yaml_node_t *n = tg_yaml_get(y, map, key);
    if (n != NULL)
        return checked_value(y, n, what);
    tg_yaml_error(y, map, "%s is required", what);
    return NULL;
}

/* ---- loading ---- */

static int valid_var_name(const char *s)
{
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return 0;
    while (*++s)
        if (!(isalnum((unsigned char)*s) || *s == '_'))
            return 0;
    return 1;
}

static void load_variables(struct tg_yaml *y, yaml_node_t *n, struct tg_template *t)
{
    if (n == NULL || tg_yaml_expect_map(y, n, "trigger.variables"))
        return;
    size_t count = tg_yaml_len(n);
    t->var_names = tg_xcalloc(count + 1, sizeof(char *));
    t->var_values = tg_xcalloc(count + 1, sizeof(char *));
    for (size_t i = 0; i < count; i++) {
        yaml_node_t *k = tg_yaml_key(y, n, i);
        const char *name = tg_yaml_scalar(y, k, "variable name");
        if (name == NULL)
            continue;
        if (!valid_var_name(name))
            tg_yaml_error(y, k, "variable name \"%s\" must match [A-Za-z_][A-Za-z0-9_]*", name);
        for (size_t j = 0; j < t->nvars; j++)
            if (strcmp(t->var_names[j], name) == 0)
                tg_yaml_error(y, k, "variable %s appears twice", name);
        char *value = checked_value(y, tg_yaml_value(y, n, i), name);
        t->var_names[t->nvars] = tg_xstrdup(name);
        t->var_values[t->nvars++] = value ? value : tg_xstrdup("");
    }
}

static void load_trigger(struct tg_yaml *y, yaml_node_t *n, const char *base_dir,
                         struct tg_template *t)
{
    static const char *const keys[] = {"project", "ref", "token", "variables", NULL};
    if (tg_yaml_expect_map(y, n, "trigger"))
        return;
    tg_yaml_check_keys(y, n, keys, "trigger");
    t->project = required_value(y, n, "project", "trigger.project");
    t->ref = required_value(y, n, "ref", "trigger.ref");
    tg_secret_load(y, n, "token", base_dir, TG_SECRET_REQUIRED | TG_SECRET_NO_INLINE, &t->token);
    load_variables(y, tg_yaml_get(y, n, "variables"), t);
}

static void load_match(struct tg_yaml *y, yaml_node_t *n, struct tg_template *t)
{
    static const char *const keys[] = {"project", NULL};
    t->match_project = tg_xstrdup("*");
    if (n == NULL || tg_yaml_expect_map(y, n, "match"))
        return;
    tg_yaml_check_keys(y, n, keys, "match");
    tg_yaml_get_str(y, n, "project", &t->match_project);
}

/* "templates/helm-chart.yaml" -> "helm-chart" */
static char *default_name(const char *file)
{
    const char *base = strrchr(file, '/'), *dot;
    base = base ? base + 1 : file;
    dot = strrchr(base, '.');
    return tg_xstrndup(base, dot && dot != base ? (size_t)(dot - base) : strlen(base));
}

/* 1 when the file is a trigger template; other kinds are left for their own loaders. */
static int is_trigger(struct tg_yaml *y, yaml_node_t *root)
{
    yaml_node_t *n = tg_yaml_get(y, root, "kind");
    const char *kind = n ? tg_yaml_scalar(y, n, "kind") : "trigger";
    if (kind == NULL || strcmp(kind, "trigger") == 0)
        return 1;
    if (strcmp(kind, "chat") != 0)
        tg_yaml_warn(y, n, "kind \"%s\" is not trigger (or chat): file skipped", kind);
    return 0;
}

static void check_name(struct tg_yaml *y, yaml_node_t *root, const struct tg_template_set *ts,
                       const char *name)
{
    for (size_t i = 0; i + 1 < ts->n; i++)
        if (strcmp(ts->items[i].name, name) == 0)
            tg_yaml_error(y, tg_yaml_get(y, root, "name") ? tg_yaml_get(y, root, "name") : root,
                          "template name \"%s\" is used twice", name);
}

static void load_doc(struct tg_yaml *y, const char *base_dir, struct tg_template_set *ts)
{
    static const char *const keys[] = {"name", "kind", "match", "trigger", NULL};
    yaml_node_t *root = tg_yaml_root(y), *trigger;
    if (tg_yaml_expect_map(y, root, "a template file") || !is_trigger(y, root))
        return;
    tg_yaml_check_keys(y, root, keys, "a template file");
    ts->items = tg_xrealloc(ts->items, (ts->n + 1) * sizeof *ts->items);
    struct tg_template *t = memset(&ts->items[ts->n++], 0, sizeof *ts->items);
    t->name = default_name(y->file);
    tg_yaml_get_str(y, root, "name", &t->name);
    check_name(y, root, ts, t->name);
    load_match(y, tg_yaml_get(y, root, "match"), t);
    if ((trigger = tg_yaml_get(y, root, "trigger")) == NULL)
        tg_yaml_error(y, root, "trigger is required: {project, ref, token, variables}");
    else
        load_trigger(y, trigger, base_dir, t);
}

/* One document from memory: its file: paths resolve against the working directory. */
static void load_one(struct tg_template_set *ts, const char *name, const char *data, size_t len,
                     struct tg_diag *diag)
{
    struct tg_yaml y;
    if (tg_yaml_open_mem(&y, name, data, len, diag) == 0)
        load_doc(&y, NULL, ts);
    tg_yaml_close(&y);
}

static struct tg_template_set *finish(struct tg_template_set *ts, struct tg_diag *diag,
                                      size_t errors_before)
{
    if (diag->errors == errors_before)
        return ts;
    tg_template_set_free(ts);
    return NULL;
}

/* ---- rendering ---- */

struct render {
    const struct tg_event *ev;
    const struct tg_decision *d;
    const struct tg_template_extra *extra;
    struct tg_buf out;
};

static const char *decision_value(const struct tg_decision *d, int which)
{
    switch (which) {
    case 0:
        return d->environment ? d->environment : "";
    case 1:
        return tg_verdict_name(d->verdict);
    case 2:
        return d->rule ? d->rule : "";
    default:
        return d->policy_hash ? d->policy_hash : "";
    }
}

static void on_render(void *arg, int is_name, const char *s, size_t n)
{
    struct render *r = arg;
    char name[NAME_MAX_LEN + 1];
    if (!is_name) {
        tg_buf_append(&r->out, s, n);
        return;
    }
    snprintf(name, sizeof name, "%.*s", (int)n, s);
    int which = decision_var(name), x = extra_var(r->extra, name);
    if (x >= 0)
        tg_buf_puts(&r->out, r->extra->values[x] ? r->extra->values[x] : "");
    else if (which >= 0)
        tg_buf_puts(&r->out, decision_value(r->d, which));
    else
        tg_event_var_append(r->ev, name, &r->out); /* checked at load: it exists */
}

static char *render(const char *text, const struct tg_event *ev, const struct tg_decision *d)
{
    return tg_template_render_value(text, ev, d, NULL);
}

char *tg_template_render_value(const char *text, const struct tg_event *ev,
                               const struct tg_decision *d, const struct tg_template_extra *extra)
{
    struct render r = {.ev = ev, .d = d, .extra = extra};
    tg_buf_init(&r.out);
    walk(text, on_render, &r);
    return tg_buf_steal(&r.out);
}

/* ---- public ---- */

struct tg_template_set *tg_template_load_mem(const char *name, const char *data, size_t len,
                                             struct tg_diag *diag)
{
    struct tg_template_set *ts = tg_xcalloc(1, sizeof *ts);
    size_t errors_before = diag->errors;
    load_one(ts, name, data, len, diag);
    return finish(ts, diag, errors_before);
}

struct tg_template_set *tg_template_load_dir(const char *dir, struct tg_diag *diag)
{
    size_t errors_before = diag->errors;
    char **files = tg_dirlist(dir, ".yaml", diag);
    if (files == NULL)
        return NULL;
    struct tg_template_set *ts = tg_xcalloc(1, sizeof *ts);
    for (char **f = files; *f; f++) {
        struct tg_yaml y;
        char *copy = tg_xstrdup(*f);
        if (tg_yaml_open(&y, *f, diag) == 0)
            load_doc(&y, dirname(copy), ts);
        tg_yaml_close(&y);
        free(copy);
    }
    tg_strv_free(files);
    if (ts->n == 0 && diag->errors == errors_before)
        tg_diag_error(diag, dir, 0, 0, "no trigger template (*.yaml): nothing could be deployed");
    return finish(ts, diag, errors_before);
}

void tg_template_set_free(struct tg_template_set *ts)
{
    if (ts == NULL)
        return;
    for (size_t i = 0; i < ts->n; i++) {
        struct tg_template *t = &ts->items[i];
        free(t->name);
        free(t->match_project);
        free(t->project);
        free(t->ref);
        tg_secret_dispose(&t->token);
        tg_strv_free(t->var_names);
        tg_strv_free(t->var_values);
    }
    free(ts->items);
    free(ts);
}

const struct tg_template *tg_template_match(const struct tg_template_set *ts,
                                            const char *project_path)
{
    for (size_t i = 0; i < ts->n; i++)
        if (tg_glob_match_project(ts->items[i].match_project, project_path))
            return &ts->items[i];
    return NULL;
}

const struct tg_template *tg_template_find(const struct tg_template_set *ts, const char *name,
                                           const char *project_path)
{
    for (size_t i = 0; ts && name && project_path && i < ts->n; i++)
        if (strcmp(ts->items[i].name, name) == 0)
            return tg_glob_match_project(ts->items[i].match_project, project_path) ? &ts->items[i]
                                                                                   : NULL;
    return NULL;
}

const char *tg_template_name(const struct tg_template *t)
{
    return t->name;
}

void tg_template_set_each_token(const struct tg_template_set *ts,
                                void (*fn)(void *arg, const struct tg_secret *s), void *arg)
{
    for (size_t i = 0; ts && i < ts->n; i++)
        fn(arg, &ts->items[i].token);
}

const struct tg_secret *tg_template_token(const struct tg_template *t)
{
    return &t->token;
}

int tg_template_render(const struct tg_template *t, const struct tg_template_input *in,
                       struct tg_trigger_request *out, char *err, size_t errlen)
{
    const struct tg_event *ev = in->ev;
    const struct tg_decision *d = in->d;
    memset(out, 0, sizeof *out);
    out->template_name = tg_xstrdup(t->name);
    out->project = render(t->project, ev, d);
    out->ref = render(t->ref, ev, d);
    out->token = &t->token;
    out->nvars = t->nvars;
    out->var_names = tg_xcalloc(t->nvars + 1, sizeof(char *));
    out->var_values = tg_xcalloc(t->nvars + 1, sizeof(char *));
    for (size_t i = 0; i < t->nvars; i++) {
        out->var_names[i] = tg_xstrdup(t->var_names[i]);
        out->var_values[i] = render(t->var_values[i], ev, d);
    }
    if (*out->project && *out->ref)
        return 0;
    snprintf(err, errlen, "template %s: the rendered trigger %s is empty", t->name,
             *out->project ? "ref" : "project");
    tg_trigger_request_dispose(out);
    return -1;
}

void tg_trigger_request_dispose(struct tg_trigger_request *r)
{
    free(r->template_name);
    free(r->project);
    free(r->ref);
    tg_strv_free(r->var_names);
    tg_strv_free(r->var_values);
    memset(r, 0, sizeof *r);
}
