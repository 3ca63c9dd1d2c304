/* dojo_config.c -- the `defectdojo:` section, loaded and checked once (config load thread). */
#include "forward/dojo_config.h"
#include "base/baseurl.h"
#include "base/util.h"
#include "decide/policy.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const tg_dojo_extra_names[TG_DOJO_X_COUNT] = {"report.job", "report.artifact",
                                                          "report.format", "report.scan_type"};

static char *name_value(struct tg_yaml *y, yaml_node_t *map, const char *key, const char *dflt)
{
    const struct tg_template_extra x = {tg_dojo_extra_names, NULL, TG_DOJO_X_COUNT};
    yaml_node_t *n = tg_yaml_get(y, map, key);
    char what[64];
    snprintf(what, sizeof what, "defectdojo.%s", key);
    char *v = n ? tg_template_check_value(y, n, what, &x) : tg_xstrdup(dflt);
    if (v && v[strspn(v, " \t")] == '\0')
        tg_yaml_error(y, n,
                      "%s is empty: DefectDojo needs a name (leave it out for the default "
                      "\"%s\")",
                      what, dflt);
    return v;
}

static void load_environments(struct tg_yaml *y, yaml_node_t *map, struct tg_dojo_config *c)
{
    yaml_node_t *n = tg_yaml_get(y, map, "environments");
    if (n == NULL || tg_yaml_expect_map(y, n, "defectdojo.environments"))
        return;
    c->nenv = tg_yaml_len(n);
    c->env_names = tg_xcalloc(c->nenv + 1, sizeof(char *));
    c->env_values = tg_xcalloc(c->nenv + 1, sizeof(char *));
    for (size_t i = 0; i < c->nenv; i++) {
        const char *k = tg_yaml_scalar(y, tg_yaml_key(y, n, i), "an environment name");
        const char *v = tg_yaml_scalar(y, tg_yaml_value(y, n, i), "a DefectDojo environment");
        c->env_names[i] = tg_xstrdup(k ? k : "");
        c->env_values[i] = tg_xstrdup(v ? v : "");
        if (v && v[strspn(v, " \t")] == '\0')
            tg_yaml_error(y, tg_yaml_value(y, n, i),
                          "defectdojo.environments.%s is empty: name a DefectDojo environment, or "
                          "leave the environment out to send it under its own name",
                          c->env_names[i]);
    }
}

static void load_forward(struct tg_yaml *y, yaml_node_t *map, struct tg_dojo_config *c)
{
    static const char *const verdicts[] = {"skip", "block", "needs_approval", "deploy"};
    char **v = NULL;
    c->forward =
        (1u << TG_VERDICT_DEPLOY) | (1u << TG_VERDICT_BLOCK) | (1u << TG_VERDICT_NEEDS_APPROVAL);
    if (tg_yaml_get(y, map, "forward") == NULL || tg_yaml_get_strv(y, map, "forward", &v))
        return;
    c->forward = 0;
    for (char **p = v; p && *p; p++) {
        size_t i = 1;
        while (i < TG_ARRAY_SIZE(verdicts) && strcmp(*p, verdicts[i]) != 0)
            i++;
        if (i < TG_ARRAY_SIZE(verdicts))
            c->forward |= 1u << i;
        else
            tg_yaml_error(y, tg_yaml_get(y, map, "forward"),
                          "defectdojo.forward: \"%s\" is not deploy, block or needs_approval "
                          "(a skipped pipeline's reports are never forwarded)",
                          *p);
    }
    tg_strv_free(v);
}

static void load_severity(struct tg_yaml *y, yaml_node_t *map, struct tg_dojo_config *c)
{
    static const char *const names[] = {"Info", "Low", "Medium", "High", "Critical"};
    c->minimum_severity = tg_xstrdup("Info");
    if (tg_yaml_get_str(y, map, "minimum_severity", &c->minimum_severity))
        return;
    for (size_t i = 0; i < TG_ARRAY_SIZE(names); i++)
        if (strcmp(c->minimum_severity, names[i]) == 0)
            return;
    tg_yaml_error(y, tg_yaml_get(y, map, "minimum_severity"),
                  "defectdojo.minimum_severity must be Info, Low, Medium, High or Critical");
}

static void load_url(struct tg_yaml *y, yaml_node_t *map, struct tg_dojo_config *c)
{
    if (tg_yaml_get_str(y, map, "url", &c->url) || c->url == NULL) {
        tg_yaml_error(y, map, "defectdojo needs url");
        return;
    }
    char why[160];
    if (tg_baseurl_check(c->url, why, sizeof why))
        tg_yaml_error(y, tg_yaml_get(y, map, "url"), "defectdojo.url %s", why);
    size_t l = strlen(c->url);
    while (l > 0 && c->url[l - 1] == '/')
        c->url[--l] = '\0';
}

static void load_tuning(struct tg_yaml *y, yaml_node_t *map, struct tg_dojo_config *c)
{
    long long workers = 1, tries = 8;
    c->timeout_ms = 30000;
    c->base_ms = 1000;
    c->cap_ms = 300000;
    tg_yaml_get_duration(y, map, "timeout", &c->timeout_ms);
    tg_yaml_get_int(y, map, "workers", 0, 64, &workers);
    tg_yaml_get_int(y, map, "tries", 1, 100, &tries);
    c->workers = (int)workers;
    c->tries = (int)tries;
    yaml_node_t *b = tg_yaml_get(y, map, "backoff");
    if (b && tg_yaml_expect_map(y, b, "defectdojo.backoff") == 0) {
        static const char *const keys[] = {"base", "cap", NULL};
        tg_yaml_check_keys(y, b, keys, "defectdojo.backoff");
        tg_yaml_get_duration(y, b, "base", &c->base_ms);
        tg_yaml_get_duration(y, b, "cap", &c->cap_ms);
    }
    if (c->timeout_ms == 0)
        tg_yaml_error(y, tg_yaml_get(y, map, "timeout"), "defectdojo.timeout must be above 0");
    if (b && c->base_ms > c->cap_ms)
        tg_yaml_error(y, b, "defectdojo.backoff: base (%llu ms) is above cap (%llu ms)",
                      (unsigned long long)c->base_ms, (unsigned long long)c->cap_ms);
}

struct tg_dojo_config *tg_dojo_config_load(struct tg_yaml *y, yaml_node_t *n, const char *base_dir)
{
    static const char *const keys[] = {"url",
                                       "api_key",
                                       "product_type",
                                       "product",
                                       "engagement",
                                       "test_title",
                                       "environments",
                                       "close_old_findings",
                                       "minimum_severity",
                                       "tags",
                                       "forward",
                                       "timeout",
                                       "workers",
                                       "tries",
                                       "backoff",
                                       "ca_file",
                                       NULL};
    if (n == NULL || tg_yaml_expect_map(y, n, "defectdojo"))
        return NULL;
    tg_yaml_check_keys(y, n, keys, "defectdojo");
    struct tg_dojo_config *c = tg_xcalloc(1, sizeof *c);
    load_url(y, n, c);
    tg_secret_load(y, n, "api_key", base_dir, TG_SECRET_REQUIRED | TG_SECRET_NO_INLINE,
                   &c->api_key);
    c->product_type = name_value(y, n, "product_type", "{{project.namespace}}");
    c->product = name_value(y, n, "product", "{{project.path}}");
    c->engagement = name_value(y, n, "engagement", "CI/CD {{pipeline.ref}}");
    c->test_title = name_value(y, n, "test_title", "{{report.job}} / {{report.artifact}}");
    load_environments(y, n, c);
    c->close_old_findings = 1;
    tg_yaml_get_bool(y, n, "close_old_findings", &c->close_old_findings);
    load_severity(y, n, c);
    if (tg_yaml_get(y, n, "tags"))
        tg_yaml_get_strv(y, n, "tags", &c->tags);
    load_forward(y, n, c);
    load_tuning(y, n, c);
    tg_yaml_get_str(y, n, "ca_file", &c->ca_file);
    if (c->ca_file && access(c->ca_file, R_OK) != 0)
        tg_yaml_error(y, tg_yaml_get(y, n, "ca_file"),
                      "defectdojo.ca_file %s cannot be read (a missing CA file would fail every "
                      "upload)",
                      c->ca_file);
    return c;
}

void tg_dojo_config_free(struct tg_dojo_config *c)
{
    if (c == NULL)
        return;
    tg_secret_dispose(&c->api_key);
    free(c->url);
    free(c->product_type);
    free(c->product);
    free(c->engagement);
    free(c->test_title);
    free(c->minimum_severity);
    free(c->ca_file);
    tg_strv_free(c->env_names);
    tg_strv_free(c->env_values);
    tg_strv_free(c->tags);
    free(c);
}

const char *tg_dojo_environment(const struct tg_dojo_config *c, const char *environment)
{
    for (size_t i = 0; environment && i < c->nenv; i++)
        if (strcmp(c->env_names[i], environment) == 0)
            return c->env_values[i];
    return environment ? environment : "";
}
