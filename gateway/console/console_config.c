/* console_config.c -- the console: section of tollgate.yaml (see console_config.h). */
#include "console/console_config.h"
#include "base/util.h"

#include <stdlib.h>
#include <strings.h>
#include <string.h>

#define DEFAULT_SESSION_TTL_MS   (12ULL * 3600 * 1000)
#define DEFAULT_MEMBERSHIP_CACHE 60000
#define DEVELOPER                30

int tg_console_access_level(const char *s)
{
    static const struct {
        const char *name;
        int level;
    } roles[] = {{"guest", 10},     {"planner", 15},    {"reporter", 20},
                 {"developer", 30}, {"maintainer", 40}, {"owner", 50}};
    long long n;
    for (size_t i = 0; i < TG_ARRAY_SIZE(roles); i++)
        if (strcasecmp(s, roles[i].name) == 0 ||
            (tg_parse_int(s, 0, 100, &n) == 0 && n == roles[i].level))
            return roles[i].level;
    return -1;
}

static void load_oauth(struct tg_config *c, struct tg_yaml *y, yaml_node_t *n)
{
    static const char *const keys[] = {"client_id", "client_secret", NULL};
    struct tg_console_config *cc = &c->console;
    if (n == NULL) {
        tg_yaml_error(y, tg_yaml_root(y), "console needs oauth: {client_id, client_secret}");
        return;
    }
    if (tg_yaml_expect_map(y, n, "console.oauth"))
        return;
    tg_yaml_check_keys(y, n, keys, "console.oauth");
    tg_secret_load(y, n, "client_id", c->dir, TG_SECRET_REQUIRED, &cc->client_id);
    tg_secret_load(y, n, "client_secret", c->dir, TG_SECRET_REQUIRED | TG_SECRET_NO_INLINE,
                   &cc->client_secret);
}

static void load_public_url(struct tg_config *c, struct tg_yaml *y, yaml_node_t *n)
{
    struct tg_console_config *cc = &c->console;
    tg_yaml_get_str(y, n, "public_url", &cc->public_url);
    if (cc->public_url == NULL && c->public_url)
        cc->public_url = tg_xstrdup(c->public_url);
    if (cc->public_url == NULL) {
        tg_yaml_error(y, n,
                      "console needs public_url (here or at the top level): the OAuth redirect "
                      "URI is public_url/ui/callback");
        return;
    }
    size_t l = strlen(cc->public_url);
    while (l > 0 && cc->public_url[l - 1] == '/')
        cc->public_url[--l] = '\0';
    if (strncmp(cc->public_url, "http://", 7) && strncmp(cc->public_url, "https://", 8))
        tg_yaml_error(y, n, "console public_url must start with http:// or https://");
}

static void load_access(struct tg_console_config *cc, struct tg_yaml *y, yaml_node_t *n)
{
    char *access = NULL;
    tg_yaml_get_str(y, n, "approver_min_access", &access);
    if (access && (cc->approver_min_access = tg_console_access_level(access)) < 0)
        tg_yaml_error(y, tg_yaml_get(y, n, "approver_min_access"),
                      "approver_min_access \"%s\" is not a GitLab role (guest, planner, reporter, "
                      "developer, maintainer, owner) or its level (10..50)",
                      access);
    free(access);
}

void tg_console_config_load(struct tg_config *c, struct tg_yaml *y, yaml_node_t *root)
{
    static const char *const keys[] = {"oauth",      "allow_groups",        "session_ttl",
                                       "public_url", "approver_min_access", "membership_cache",
                                       NULL};
    struct tg_console_config *cc = &c->console;
    cc->session_ttl_ms = DEFAULT_SESSION_TTL_MS;
    cc->approver_min_access = DEVELOPER;
    cc->membership_cache_ms = DEFAULT_MEMBERSHIP_CACHE;
    yaml_node_t *n = tg_yaml_get(y, root, "console");
    if (n == NULL || tg_yaml_expect_map(y, n, "console"))
        return;
    tg_yaml_check_keys(y, n, keys, "console");
    cc->enabled = 1;
    load_oauth(c, y, tg_yaml_get(y, n, "oauth"));
    tg_yaml_get_strv(y, n, "allow_groups", &cc->allow_groups);
    if (cc->allow_groups == NULL || cc->allow_groups[0] == NULL)
        tg_yaml_error(y, n,
                      "console needs allow_groups: the GitLab groups whose members may sign in");
    tg_yaml_get_duration(y, n, "session_ttl", &cc->session_ttl_ms);
    if (cc->session_ttl_ms < 1000)
        tg_yaml_error(y, tg_yaml_get(y, n, "session_ttl"), "session_ttl must be at least 1s");
    tg_yaml_get_duration(y, n, "membership_cache", &cc->membership_cache_ms);
    load_public_url(c, y, n);
    load_access(cc, y, n);
    if (c->gitlab.url == NULL)
        tg_yaml_error(y, n, "console needs gitlab.url: people sign in with GitLab");
}

void tg_console_config_dispose(struct tg_console_config *cc)
{
    tg_secret_dispose(&cc->client_id);
    tg_secret_dispose(&cc->client_secret);
    tg_strv_free(cc->allow_groups);
    free(cc->public_url);
    memset(cc, 0, sizeof *cc);
}
