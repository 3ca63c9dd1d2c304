/* test_template.c -- trigger templates: rendering, load-time errors with file:line:col, match
 * order across files, token sources.
 *
 * The event is GitLab's documented pipeline payload from $TG_FIXTURES (tests/fixtures when
 * unset); the decision is built by hand. TG_TEST_TRIGGER_TOKEN is set by the test itself.
 */
#include "decide/gitlab.h"
#include "decide/policy.h"
#include "deliver/template.h"
#include "unit_files.h"

#define TRIGGER(project, vars)                                                                     \
    "name: chart\n"                                                                                \
    "trigger:\n"                                                                                   \
    "  project: " project "\n"                                                                     \
    "  ref: main\n"                                                                                \
    "  token: env:TG_TEST_TRIGGER_TOKEN\n"                                                         \
    "  variables:\n" vars

static int load_event(struct tg_event *ev)
{
    size_t len;
    char err[256], *body = unit_fixture("gitlab/webhooks/pipeline_event.json", &len);
    int rc = body ? tg_event_parse(&(struct tg_hook){NULL, body, len}, ev, err, sizeof err) : -1;
    free(body);
    return rc;
}

static const char *var(const struct tg_trigger_request *r, const char *name)
{
    for (size_t i = 0; i < r->nvars; i++)
        if (strcmp(r->var_names[i], name) == 0)
            return r->var_values[i];
    return NULL;
}

static void check_rendered_vars(const struct tg_trigger_request *r)
{
    UNIT_CHECK("nvars", r->nvars == 7);
    UNIT_STREQ("SERVICE", var(r, "SERVICE"), "gitlab-test");
    UNIT_STREQ("IMAGE_TAG", var(r, "IMAGE_TAG"), "bcbb5ec396a2c0f828686f14fac9b80b780504f2");
    UNIT_STREQ("ENVIRONMENT", var(r, "ENVIRONMENT"), "production");
    UNIT_STREQ("WHAT", var(r, "WHAT"), "deploy by policy under c0ffee");
    UNIT_STREQ("PIPELINE", var(r, "PIPELINE"),
               "#31 (false) http://example.com/gitlab-org/gitlab-test/-/pipelines/31");
    UNIT_STREQ("LITERAL", var(r, "LITERAL"), "no placeholder: {x} }} {");
    UNIT_STREQ("EMPTY", var(r, "EMPTY"), "");
    UNIT_STREQ("order", r->var_names[0], "SERVICE");
}

static void check_render(void)
{
    static const char y[] = TRIGGER(
        "\"{{project.namespace}}/charts/{{ project.slug }}\"",
        "    SERVICE: \"{{ project.slug }}\"\n"
        "    IMAGE_TAG: \"{{pipeline.sha}}\"\n"
        "    ENVIRONMENT: \"{{  decision.environment  }}\"\n"
        "    WHAT: \"{{decision.verdict}} by {{decision.rule}} under {{decision.policy_hash}}\"\n"
        "    PIPELINE: \"#{{ pipeline.id }} ({{pipeline.tag}}) {{ pipeline.url }}\"\n"
        "    LITERAL: \"no placeholder: {x} }} {\"\n"
        "    EMPTY: \"\"\n");
    struct tg_diag diag;
    struct tg_event ev;
    struct tg_trigger_request r;
    struct tg_decision d = {.verdict = TG_VERDICT_DEPLOY,
                            .environment = "production",
                            .rule = "policy",
                            .policy_hash = "c0ffee"};
    char err[256];
    tg_diag_init(&diag);
    struct tg_template_set *ts = tg_template_load_mem("t.yaml", y, sizeof y - 1, &diag);
    UNIT_CHECK("render: loads", ts != NULL && load_event(&ev) == 0);
    if (ts == NULL) {
        tg_diag_print(&diag, stderr);
        return;
    }
    const struct tg_template *t = tg_template_match(ts, "anything/at-all");
    UNIT_STREQ("render: name", t ? tg_template_name(t) : NULL, "chart");
    UNIT_CHECK("render", t && tg_template_render(t, &(struct tg_template_input){&ev, &d}, &r, err,
                                                 sizeof err) == 0);
    UNIT_STREQ("project", r.project, "gitlab-org/charts/gitlab-test");
    UNIT_STREQ("ref", r.ref, "main");
    UNIT_STREQ("template", r.template_name, "chart");
    UNIT_CHECK("token", r.token == tg_template_token(t) && r.token->len == 6 &&
                            memcmp(r.token->value, "s3cr3t", 6) == 0);
    UNIT_STREQ("token ref", r.token->ref, "env:TG_TEST_TRIGGER_TOKEN");
    check_rendered_vars(&r);
    tg_trigger_request_dispose(&r);
    tg_template_set_free(ts);
    tg_event_dispose(&ev);
    tg_diag_dispose(&diag);
}

/* A value that renders to nothing is refused at render time. */
static void check_render_empty(void)
{
    static const char y[] = TRIGGER("\"{{ decision.environment }}\"", "    A: x\n");
    struct tg_diag diag;
    struct tg_event ev;
    struct tg_trigger_request r;
    struct tg_decision d = {.verdict = TG_VERDICT_DEPLOY, .rule = "policy", .policy_hash = "h"};
    char err[256] = "";
    tg_diag_init(&diag);
    struct tg_template_set *ts = tg_template_load_mem("t.yaml", y, sizeof y - 1, &diag);
    if (ts && load_event(&ev) == 0) {
        UNIT_CHECK("empty project", tg_template_render(tg_template_match(ts, "x"),
                                                       &(struct tg_template_input){&ev, &d}, &r,
                                                       err, sizeof err) == -1);
        UNIT_STREQ("empty project", err, "template chart: the rendered trigger project is empty");
        UNIT_CHECK("empty project disposed", r.project == NULL && r.var_names == NULL);
        tg_event_dispose(&ev);
    }
    UNIT_CHECK("empty project loads", ts != NULL);
    tg_template_set_free(ts);
    tg_diag_dispose(&diag);
}

static const struct {
    const char *name, *yaml, *want; /* want: one diag message */
} load_errors[] = {
    {"unknown placeholder", TRIGGER("\"x/{{ project.nope }}\"", "    A: b\n"),
     "t.yaml:3:12: error: trigger.project: unknown placeholder {{ project.nope }}"},
    {"unknown in a variable",
     TRIGGER("x/y", "    A: b\n    B: \"{{pipeline.sha}}-{{ secrets.token }}\"\n"),
     "t.yaml:8:8: error: B: unknown placeholder {{ secrets.token }}"},
    {"unknown in ref",
     "trigger:\n  project: p\n  ref: \"{{ decision.environmen }}\"\n  token: "
     "env:TG_TEST_TRIGGER_TOKEN\n",
     "t.yaml:3:8: error: trigger.ref: unknown placeholder {{ decision.environmen }}"},
    {"empty placeholder", TRIGGER("\"x{{}}\"", ""),
     "t.yaml:3:12: error: trigger.project: unknown placeholder {{  }}"},
    {"unclosed", TRIGGER("\"x/{{ project.name\"", ""),
     "t.yaml:3:12: error: trigger.project: \"{{\" without \"}}\""},
    {"inline token", "trigger:\n  project: p\n  ref: main\n  token: glptt-0123456789\n",
     "t.yaml:4:10: error: token must be env:NAME or file:PATH, never inline"},
    {"no token", "trigger:\n  project: p\n  ref: main\n", "t.yaml:2:3: error: token is required"},
    {"unset env", "trigger:\n  project: p\n  ref: main\n  token: env:TG_TEST_UNSET_TOKEN\n",
     "t.yaml:4:10: error: environment variable TG_TEST_UNSET_TOKEN is not set"},
    {"no project", "trigger:\n  ref: main\n  token: env:TG_TEST_TRIGGER_TOKEN\n",
     "t.yaml:2:3: error: trigger.project is required"},
    {"no trigger", "name: x\nmatch: { project: \"*\" }\n",
     "t.yaml:1:1: error: trigger is required"},
    {"bad variable name", TRIGGER("p", "    1ST: x\n"),
     "t.yaml:7:5: error: variable name \"1ST\" must match [A-Za-z_][A-Za-z0-9_]*"},
    {"dash in variable name", TRIGGER("p", "    IMAGE-TAG: x\n"),
     "t.yaml:7:5: error: variable name \"IMAGE-TAG\""},
    {"variable twice", TRIGGER("p", "    A: x\n    B: y\n    A: z\n"),
     "t.yaml:9:5: error: variable A appears twice"},
    {"the second one is checked too", TRIGGER("p", "    A: x\n    A: \"{{ nope }}\"\n"),
     "t.yaml:8:8: error: A: unknown placeholder {{ nope }}"},
    {"variable list", TRIGGER("p", "    - A\n"),
     "t.yaml:7:5: error: trigger.variables must be a mapping"},
    {"variable map value", TRIGGER("p", "    A: { b: c }\n"),
     "t.yaml:7:8: error: A must be a single value"},
    {"unknown trigger key", TRIGGER("p", "    A: b\n") "  branch: main\n",
     "t.yaml:8:3: error: unknown key \"branch\" in trigger"},
    {"unknown match key", "match: { projects: \"*\" }\n" TRIGGER("p", ""),
     "t.yaml:1:10: error: unknown key \"projects\" in match"},
    {"unknown top key", "nmae: x\n" TRIGGER("p", ""),
     "t.yaml:1:1: error: unknown key \"nmae\" in a template file"},
};

static void check_load_errors(void)
{
    for (size_t i = 0; i < TG_ARRAY_SIZE(load_errors); i++) {
        struct tg_diag diag;
        tg_diag_init(&diag);
        const char *y = load_errors[i].yaml;
        struct tg_template_set *ts = tg_template_load_mem("t.yaml", y, strlen(y), &diag);
        unit_refused(load_errors[i].name, ts == NULL, &diag, load_errors[i].want);
        tg_template_set_free(ts);
        tg_diag_dispose(&diag);
    }
}

/* Files in name order, the first match wins, other kinds are skipped, file: tokens are
 * relative to the template's directory. */
static void check_dir(void)
{
    static const char *const files[] = {
        "10-shop.yaml", "20-all.yaml", "30-chat.yaml", "40-odd.yaml", "token.txt",
        "50-dup.yaml",  NULL};
    char dir[] = "/tmp/tg-template-XXXXXX";
    struct tg_diag diag;
    tg_diag_init(&diag);
    UNIT_CHECK("mkdtemp", mkdtemp(dir) != NULL);
    struct tg_template_set *ts = tg_template_load_dir(dir, &diag);
    UNIT_CHECK("empty dir",
               ts == NULL && diag.errors == 1 && strstr(diag.msgs[0].text, "no trigger template"));
    unit_write(dir, "10-shop.yaml",
               "name: shop\nmatch: { project: \"shop/*\" }\n"
               "trigger: { project: shop/charts, ref: main, token: \"file:token.txt\" }\n");
    unit_write(dir, "20-all.yaml",
               "trigger: { project: \"{{project.namespace}}/charts\", ref: main, "
               "token: env:TG_TEST_TRIGGER_TOKEN }\n");
    unit_write(dir, "30-chat.yaml", "kind: chat\nmessage: \"{{ anything.goes }}\"\n");
    unit_write(dir, "40-odd.yaml", "kind: email\n");
    unit_write(dir, "token.txt", "glptt-from-file\n");
    tg_diag_dispose(&diag);
    ts = tg_template_load_dir(dir, &diag);
    UNIT_CHECK("dir loads", ts != NULL && diag.errors == 0 && diag.warnings == 1);
    UNIT_CHECK("odd kind warned",
               diag.count == 1 && strstr(diag.msgs[0].text, "40-odd.yaml:1:7: warning: kind "
                                                            "\"email\" is not trigger"));
    const struct tg_template *t = ts ? tg_template_match(ts, "shop/cart") : NULL;
    UNIT_STREQ("first match", t ? tg_template_name(t) : NULL, "shop");
    UNIT_CHECK("file token", t && strcmp(tg_template_token(t)->value, "glptt-from-file") == 0);
    t = ts ? tg_template_match(ts, "other/app") : NULL;
    UNIT_STREQ("default name", t ? tg_template_name(t) : NULL, "20-all");
    tg_template_set_free(ts);
    unit_write(
        dir, "50-dup.yaml",
        "name: shop\ntrigger: { project: p, ref: main, token: env:TG_TEST_TRIGGER_TOKEN }\n");
    tg_diag_dispose(&diag);
    ts = tg_template_load_dir(dir, &diag);
    unit_refused("duplicate name", ts == NULL, &diag,
                 "50-dup.yaml:1:7: error: template name \"shop\" is used twice");
    tg_diag_dispose(&diag);
    unit_cleanup(dir, files);
}

static void check_shipped(void)
{
    struct tg_diag diag;
    struct tg_event ev;
    struct tg_trigger_request r;
    struct tg_decision d = {.verdict = TG_VERDICT_DEPLOY,
                            .environment = "staging",
                            .rule = "policy",
                            .policy_hash = "h"};
    char err[256];
    tg_diag_init(&diag);
    setenv("TRIGGER_TOKEN", "shipped", 0);
    struct tg_template_set *ts = tg_template_load_dir("templates", &diag);
    UNIT_CHECK("shipped templates load", ts != NULL && diag.count == 0);
    tg_diag_print(&diag, stderr);
    const struct tg_template *t = ts ? tg_template_match(ts, "gitlab-org/gitlab-test") : NULL;
    if (t && load_event(&ev) == 0 &&
        tg_template_render(t, &(struct tg_template_input){&ev, &d}, &r, err, sizeof err) == 0) {
        UNIT_STREQ("shipped project", r.project, "gitlab-org/helm-charts");
        UNIT_STREQ("shipped SERVICE", var(&r, "SERVICE"), "gitlab-test");
        UNIT_STREQ("shipped ENVIRONMENT", var(&r, "ENVIRONMENT"), "staging");
        UNIT_STREQ("shipped UPSTREAM_PIPELINE", var(&r, "UPSTREAM_PIPELINE"), "31");
        tg_trigger_request_dispose(&r);
        tg_event_dispose(&ev);
    } else {
        UNIT_CHECK("shipped renders", 0);
    }
    tg_template_set_free(ts);
    tg_diag_dispose(&diag);
}

int main(void)
{
    setenv("TG_TEST_TRIGGER_TOKEN", "s3cr3t", 1);
    unsetenv("TG_TEST_UNSET_TOKEN");
    check_render();
    check_render_empty();
    check_load_errors();
    check_dir();
    check_shipped();
    return unit_summary("test_template");
}
