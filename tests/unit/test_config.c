/* test_config.c -- tollgate.yaml: values, defaults, secrets, and file:line:col errors. */
#include "base/baseurl.h"
#include "base/config.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONSOLE_GL "gitlab: {url: 'https://g.example'}\npublic_url: 'https://t.example'\n"
#define HOOK       "webhooks:\n  - {name: default, token: 'env:UT_TOKEN'}\n"

struct row {
    const char *name;
    const char *yaml;
    const char *want; /* substring of the joined diagnostics, or NULL for a clean load */
};

static const struct row rows[] = {
    {"minimal", HOOK, NULL},
    {"unknown top-level key", HOOK "listn: []\n", "cfg.yaml:3:1: error: unknown key \"listn\""},
    {"duplicate key", HOOK "workers: 2\nworkers: 3\n",
     "cfg.yaml:4:1: error: key \"workers\" appears twice"},
    {"missing env secret", "webhooks:\n  - {name: a, token: 'env:UT_UNSET_VAR'}\n",
     "cfg.yaml:2:22: error: environment variable UT_UNSET_VAR is not set"},
    {"inline secret warns", "webhooks:\n  - {name: a, token: plain-text}\n",
     "cfg.yaml:2:22: warning: token is written inline"},
    {"no webhooks", "workers: 1\n", "webhooks is required"},
    {"webhook without token", "webhooks:\n  - {name: a}\n",
     "cfg.yaml:2:5: error: token is required"},
    {"duplicate webhook names",
     "webhooks:\n  - {name: a, token: 'env:UT_TOKEN'}\n  - {name: a, token: 'env:UT_TOKEN'}\n",
     "cfg.yaml:3:5: error: webhook name \"a\" is used twice"},
    {"bad size", HOOK "limits: {max_body: lots}\n",
     "cfg.yaml:3:20: error: max_body: \"lots\" is not a size"},
    {"size out of range", HOOK "limits: {max_body: 100}\n", "max_body must be between"},
    {"bad duration", HOOK "limits: {redis_timeout: 2 parsecs}\n", "is not a duration"},
    {"bad address", HOOK "listen:\n  - address: localhost\n",
     "cfg.yaml:4:14: error: address \"localhost\" is not host:port"},
    {"tls half", HOOK "listen:\n  - {address: '127.0.0.1:1', tls: {cert: c.pem}}\n",
     "tls needs both cert and key"},
    {"bad redis url", HOOK "redis: {url: 'http://x'}\n", "redis url: Redis URL is not"},
    {"sentinel url", HOOK "redis: {url: 'redis-sentinel://a:26379,b:26379/mymaster/0'}\n", NULL},
    {"sentinel url without master", HOOK "redis: {url: 'redis-sentinel://a:26379'}\n",
     "redis url:"},
    {"unix url", HOOK "redis: {url: 'unix:///run/redis.sock?db=2'}\n", NULL},
    {"bad signing token",
     "webhooks:\n  - {name: a, token: 'env:UT_TOKEN', signing_token: 'env:UT_BADSIGN'}\n",
     "is not whsec_ followed by base64"},
    {"workers not a number", HOOK "workers: many\n",
     "cfg.yaml:3:10: error: workers: \"many\" is not a whole number"},
    {"unknown scope",
     HOOK "api:\n  tokens:\n    - {token: 'env:UT_TOKEN', identity: alice, scopes: [root]}\n",
     "unknown scope \"root\""},
    {"yaml syntax", HOOK "listen: [\n", "YAML syntax"},
    {"claim shorter than trigger timeout", HOOK "queue: {claim_idle: 5s}\n",
     "claim_idle must be longer"},
    {"redis url from env", HOOK "redis: {url: 'env:UT_REDIS'}\n", NULL},
    {"console",
     HOOK CONSOLE_GL
     "console:\n  oauth: {client_id: 'env:UT_TOKEN', client_secret: "
     "'env:UT_TOKEN'}\n  allow_groups: [platform]\n  approver_min_access: maintainer\n",
     NULL},
    {"console secret inline",
     HOOK CONSOLE_GL "console:\n  oauth: {client_id: 'env:UT_TOKEN', client_secret: s3cr3t}\n"
                     "  allow_groups: [platform]\n",
     "cfg.yaml:6:53: error: client_secret must be env:NAME or file:PATH"},
    {"console without allow_groups",
     HOOK CONSOLE_GL
     "console:\n  oauth: {client_id: 'env:UT_TOKEN', client_secret: 'env:UT_TOKEN'}\n",
     "console needs allow_groups"},
    {"console without public_url",
     HOOK "gitlab: {url: 'https://g.example'}\nconsole:\n  oauth: {client_id: 'env:UT_TOKEN', "
          "client_secret: 'env:UT_TOKEN'}\n  allow_groups: [a]\n",
     "console needs public_url"},
    {"console bad role",
     HOOK CONSOLE_GL
     "console:\n  oauth: {client_id: 'env:UT_TOKEN', client_secret: 'env:UT_TOKEN'}\n"
     "  allow_groups: [a]\n  approver_min_access: admin\n",
     "approver_min_access \"admin\" is not a GitLab role"},
    {"redis url from a missing env", HOOK "redis: {url: 'env:UT_NO_REDIS'}\n",
     "environment variable UT_NO_REDIS is not set"},
    {"redis password inline warns", HOOK "redis: {url: 'redis://:hunter2@db:6379/0'}\n",
     "warning: redis url holds a password inline"},
    {"redis user without password is fine", HOOK "redis: {url: 'redis://app@db:6379/0'}\n", NULL},
    {"trusted proxies", HOOK "trusted_proxies: [10.0.0.0/8, '2001:db8::/32', 192.0.2.7]\n", NULL},
    {"trusted proxy with host bits", HOOK "trusted_proxies: [10.0.0.1/8]\n",
     "cfg.yaml:3:19: error: \"10.0.0.1/8\" is not an address or CIDR block"},
    {"trusted proxies not a list", HOOK "trusted_proxies: 10.0.0.0/8\n", "trusted_proxies"},
    {"per-peer cap zero", HOOK "limits: {max_connections_per_peer: 0}\n", "error"},
    {"idle timeout too short", HOOK "limits: {unauthenticated_idle: 10ms}\n",
     "unauthenticated_idle must be at least"},
    {"short context key",
     HOOK "chatops:\n  mattermost: {token: 'env:UT_TOKEN', context_key: 'env:UT_SHORT'}\n",
     "context_key (env:UT_SHORT) must be at least 16 bytes"},
    {"context key is Mattermost's",
     HOOK "chatops:\n  slack: {signing_secret: 'env:UT_TOKEN', context_key: 'env:UT_TOKEN'}\n",
     "context_key belongs to chatops.mattermost"},
};

static struct tg_config *load(const char *yaml, struct tg_diag *diag)
{
    FILE *f = fopen("cfg.yaml", "w");
    fputs(yaml, f);
    fclose(f);
    return tg_config_load("cfg.yaml", diag);
}

static void check_values(void)
{
    struct tg_diag diag;
    tg_diag_init(&diag);
    struct tg_config *c =
        load("listen:\n  - address: '[::1]:9443'\n    tls: {cert: /c.pem, key: k.pem}\n"
             "redis: {url: 'unix:///run/r.sock', prefix: 'x:'}\n"
             "webhooks:\n  - {name: a, token: 'env:UT_TOKEN', events: Push Hook, "
             "signing_token: 'env:UT_SIGN'}\n  - {name: b, token: 'file:secret.txt'}\n"
             "limits: {max_body: 2MiB, redis_timeout: 500ms}\nworkers: 4\n",
             &diag);
    UNIT_CHECK("values load", c != NULL);
    if (c == NULL) {
        tg_diag_print(&diag, stderr);
        tg_diag_dispose(&diag);
        return;
    }
    UNIT_STREQ("ipv6 host", c->listen[0].host, "::1");
    UNIT_STREQ("port", c->listen[0].port, "9443");
    UNIT_STREQ("absolute cert kept", c->listen[0].tls_cert, "/c.pem");
    UNIT_STREQ("prefix", c->redis.prefix, "x:");
    UNIT_CHECK("max_body", c->limits.max_body == 2 * 1048576);
    UNIT_CHECK("redis_timeout", c->limits.redis_timeout_ms == 500);
    UNIT_CHECK("default events_maxlen", c->redis.events_maxlen == 1000000);
    UNIT_CHECK("workers", c->workers == 4);
    UNIT_CHECK("single event", tg_config_webhook_wants(&c->webhooks[0], "Push Hook", 9) &&
                                   !tg_config_webhook_wants(&c->webhooks[0], "Pipeline Hook", 13));
    UNIT_CHECK("default events", tg_config_webhook_wants(&c->webhooks[1], "Tag Push Hook", 13));
    UNIT_CHECK("signing key decoded", c->webhooks[0].signing_key_len == 24);
    UNIT_CHECK("file secret trimmed", c->webhooks[1].token.len == 9);
    UNIT_CHECK("find by token", tg_config_find_webhook(c, "from-file", 9) == &c->webhooks[1]);
    UNIT_CHECK("wrong token", tg_config_find_webhook(c, "from-fil", 8) == NULL);
    UNIT_CHECK("no secret in ref", strcmp(c->webhooks[0].token.ref, "env:UT_TOKEN") == 0);
    tg_config_unref(c);
    tg_diag_dispose(&diag);
}

/* The keys issue 11 added: defaults, values, and the Mattermost context key's derivation. */
static void check_hardening(void)
{
    struct tg_diag diag;
    tg_diag_init(&diag);
    struct tg_config *d =
        load(HOOK "redis: {url: 'env:UT_REDIS'}\nchatops:\n  mattermost: {token: 'env:UT_TOKEN'}\n",
             &diag);
    struct tg_config *k =
        load(HOOK "limits: {max_connections_per_peer: 8, unauthenticated_idle: 2s, api_queue: 9}\n"
                  "trusted_proxies: [10.0.0.0/8]\n"
                  "chatops:\n  mattermost: {token: 'env:UT_TOKEN', context_key: 'env:UT_KEY'}\n",
             &diag);
    UNIT_CHECK("both load", d && k);
    if (d && k) {
        UNIT_STREQ("redis url from env", d->redis.url, "redis://:s3cret@127.0.0.1:6390/2");
        UNIT_CHECK("defaults", d->limits.max_connections_per_peer == 256 &&
                                   d->limits.unauthenticated_idle_ms == 5000 &&
                                   d->limits.api_queue == 256 && d->ntrusted_proxies == 0);
        UNIT_CHECK("values", k->limits.max_connections_per_peer == 8 &&
                                 k->limits.unauthenticated_idle_ms == 2000 &&
                                 k->limits.api_queue == 9 && k->ntrusted_proxies == 1 &&
                                 tg_cidr_match_text(k->trusted_proxies, 1, "10.2.3.4"));
        static const unsigned char zero[32];
        UNIT_CHECK("a derived key", memcmp(d->mattermost.context_key, zero, 32) != 0);
        UNIT_CHECK("the derived key is not the token itself",
                   memcmp(d->mattermost.context_key, "token-value-1", 13) != 0);
        UNIT_CHECK("a configured key differs",
                   memcmp(d->mattermost.context_key, k->mattermost.context_key, 32) != 0);
    }
    tg_config_unref(d), tg_config_unref(k);
    tg_diag_dispose(&diag);
}

/* Base URLs (gitlab.url, defectdojo.url): what joins with API paths and shows in links. */
static void test_base_urls(void)
{
    static const struct {
        const char *url, *err; /* err: NULL when accepted, else a part of the reason */
    } rows[] = {
        {"https://gitlab.example.com", NULL},
        {"https://gitlab.example.com/", NULL},
        {"http://10.0.0.5:8080/gitlab", NULL},
        {"https://[::1]:8443", NULL},
        {"https://", "no host"},
        {"https:///path", "no host"},
        {"https://:443/", "no host"},
        {"ftp://gitlab.example.com", "http:// or https://"},
        {"https://user:pw@gitlab.example.com", "credentials"},
        {"https://token@gitlab.example.com/", "credentials"},
        {"https://gitlab.example.com/?private_token=x", "query"},
        {"https://gitlab.example.com/#x", "query"},
        {"https://gitlab .example.com", "spaces"},
        {"https://gitlab.example.com\t", "spaces"},
        {"https://gitlab.example.com:44x3/", "port"},
        {"https://gitlab.example.com:/", "port"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char err[160] = "";
        int rc = tg_baseurl_check(rows[i].url, err, sizeof err);
        UNIT_CHECK(rows[i].url,
                   rows[i].err ? rc == -1 && strstr(err, rows[i].err) != NULL : rc == 0);
        UNIT_CHECK("the reason never quotes the URL", strstr(err, "pw@") == NULL);
    }
}

int main(void)
{
    char dir[] = "/tmp/tg_ut_configXXXXXX";
    if (mkdtemp(dir) == NULL || chdir(dir) != 0)
        return 1;
    test_base_urls();
    setenv("UT_TOKEN", "token-value-1", 1);
    setenv("UT_SIGN", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
    setenv("UT_BADSIGN", "whsec_!!", 1);
    setenv("UT_REDIS", "redis://:s3cret@127.0.0.1:6390/2", 1);
    setenv("UT_SHORT", "short", 1);
    setenv("UT_KEY", "a-context-key-of-32-bytes-000000", 1);
    FILE *f = fopen("secret.txt", "w");
    fputs("from-file\n", f);
    fclose(f);
    /* tg_config_load also loads policies/ and templates/ beside the config */
    if (mkdir("policies", 0700) || mkdir("templates", 0700))
        return 1;
    f = fopen("policies/p.yaml", "w");
    fputs("version: 1\nenvironments:\n  prod: { branches: [main] }\n", f);
    fclose(f);
    f = fopen("templates/t.yaml", "w");
    fputs("trigger: { project: charts, ref: main, token: 'env:UT_TOKEN' }\n", f);
    fclose(f);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        struct tg_diag diag;
        tg_diag_init(&diag);
        struct tg_config *c = load(r->yaml, &diag);
        char *all = tg_diag_join(&diag);
        if (r->want == NULL)
            UNIT_CHECK(r->name, c != NULL && diag.count == 0);
        else
            UNIT_CHECK(r->name, strstr(all, r->want) != NULL);
        if (r->want && strstr(r->want, "error"))
            UNIT_CHECK(r->name, c == NULL);
        if (r->want && strstr(all, r->want) == NULL)
            fprintf(stderr, "  got: %s\n", all);
        free(all);
        tg_config_unref(c);
        tg_diag_dispose(&diag);
    }
    check_values();
    check_hardening();
    unlink("cfg.yaml"), unlink("secret.txt"), unlink("policies/p.yaml"), unlink("templates/t.yaml");
    rmdir("policies"), rmdir("templates");
    rmdir(dir);
    return unit_summary("test_config");
}
