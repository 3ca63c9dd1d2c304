/* config.c -- tollgate.yaml parsed once into an immutable struct tg_config.
 *
 * One static function per top-level section; each reports its faults into the diag and
 * carries on, so `tollgate check` shows every problem in one run.
 */
#include "base/config.h"
#include "base/baseurl.h"
#include "approvals/chat_message.h"
#include "base/crypto.h"
#include "decide/policy.h"
#include "base/util.h"
#include "base/redisaddr.h"
#include "base/secret.h"
#include "deliver/template.h"
#include "base/yamlfile.h"
#include "forward/dojo_config.h"
#include "console/console_config.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_EVENTS                                                                             \
    "Pipeline Hook", "Job Hook", "Deployment Hook", "Merge Request Hook", "Push Hook",             \
        "Tag Push Hook"

static void config_defaults(struct tg_config *c)
{
    c->redis.prefix = tg_xstrdup("tg:");
    c->redis.events_maxlen = 1000000;
    c->redis.dedupe_ttl_ms = 7ULL * 86400 * 1000;
    c->gitlab.timeout_ms = 10000;
    c->limits.max_body = 1048576;
    c->limits.redis_timeout_ms = 2000;
    c->limits.signature_tolerance_ms = 300000;
    c->limits.max_connections = 4096;
    c->limits.max_connections_per_peer = 256;
    c->limits.unauthenticated_idle_ms = 5000;
    c->limits.api_queue = 256;
    c->limits.http2_max_streams = 100;
    c->workers = 2;
    c->queue.max_attempts = 5;
    c->queue.claim_idle_ms = 60000;
    c->trigger.base_ms = 1000;
    c->trigger.cap_ms = 300000;
    c->trigger.tries = 8;
    c->trigger.timeout_ms = 15000;
    c->trigger.settle_ms = 90000;
    c->policies_dir = tg_xstrdup("policies");
    c->templates_dir = tg_xstrdup("templates");
}

/* Reads map[key] as a secret, relative file: paths against the config's directory; absence is
 * fine (out stays empty). */
static int get_secret(struct tg_config *c, struct tg_yaml *y, yaml_node_t *map, const char *key,
                      struct tg_secret *out)
{
    return tg_secret_load(y, map, key, c->dir, 0, out);
}

/* The same for a secret that must be there: absence is reported. */
static int need_secret(struct tg_config *c, struct tg_yaml *y, yaml_node_t *map, const char *key,
                       struct tg_secret *out)
{
    return tg_secret_load(y, map, key, c->dir, TG_SECRET_REQUIRED, out);
}

/* ---- sections ---- */

static int split_address(struct tg_listen *l)
{
    const char *a = l->address, *colon = strrchr(a, ':');
    if (colon == NULL || colon[1] == '\0')
        return -1;
    if (a[0] == '[') {
        const char *close = strchr(a, ']');
        if (close == NULL || close + 1 != colon)
            return -1;
        l->host = tg_xstrndup(a + 1, (size_t)(close - a - 1));
    } else {
        l->host = colon == a ? tg_xstrdup("0.0.0.0") : tg_xstrndup(a, (size_t)(colon - a));
    }
    l->port = tg_xstrdup(colon + 1);
    long long port;
    return tg_parse_int(l->port, 1, 65535, &port);
}

static void load_listen_one(struct tg_config *c, struct tg_yaml *y, yaml_node_t *n,
                            struct tg_listen *l)
{
    static const char *const keys[] = {"address", "tls", NULL};
    static const char *const tls_keys[] = {"cert", "key", NULL};
    if (tg_yaml_expect_map(y, n, "listen entry"))
        return;
    tg_yaml_check_keys(y, n, keys, "listen entry");
    tg_yaml_get_str(y, n, "address", &l->address);
    if (l->address == NULL)
        tg_yaml_error(y, n, "listen entry needs an address (host:port)");
    else if (split_address(l))
        tg_yaml_error(y, tg_yaml_get(y, n, "address"), "address \"%s\" is not host:port",
                      l->address);
    yaml_node_t *tls = tg_yaml_get(y, n, "tls");
    if (tls == NULL || tg_yaml_expect_map(y, tls, "tls"))
        return;
    tg_yaml_check_keys(y, tls, tls_keys, "tls");
    char *cert = NULL, *key = NULL;
    tg_yaml_get_str(y, tls, "cert", &cert);
    tg_yaml_get_str(y, tls, "key", &key);
    if (cert == NULL || key == NULL)
        tg_yaml_error(y, tls, "tls needs both cert and key");
    l->tls_cert = cert ? tg_config_path(c, cert) : NULL;
    l->tls_key = key ? tg_config_path(c, key) : NULL;
    free(cert);
    free(key);
}

static void load_listen(struct tg_config *c, struct tg_yaml *y, yaml_node_t *root)
{
    yaml_node_t *n = tg_yaml_get(y, root, "listen");
    if (n == NULL) {
        c->listen = tg_xcalloc(1, sizeof *c->listen);
        c->nlisten = 1;
        c->listen->address = tg_xstrdup("127.0.0.1:8080");
        split_address(c->listen);
        return;
    }
    if (tg_yaml_expect_seq(y, n, "listen"))
        return;
    c->nlisten = tg_yaml_len(n);
    if (c->nlisten == 0)
        tg_yaml_error(y, n, "listen needs at least one address");
    c->listen = tg_xcalloc(c->nlisten, sizeof *c->listen);
    for (size_t i = 0; i < c->nlisten; i++)
        load_listen_one(c, y, tg_yaml_item(y, n, i), &c->listen[i]);
}

/* redis.url: a URL, or env:NAME / file:PATH holding one (its password then stays out of the
 * file). A URL written inline with a password is a warning, like any inline secret. */
static void load_redis_url(struct tg_config *c, struct tg_yaml *y, yaml_node_t *n)
{
    struct tg_secret s = {0};
    tg_yaml_get_str(y, n, "url", &c->redis.url);
    if (c->redis.url &&
        (strncmp(c->redis.url, "env:", 4) == 0 || strncmp(c->redis.url, "file:", 5) == 0)) {
        free(c->redis.url);
        c->redis.url = NULL;
        if (get_secret(c, y, n, "url", &s) == 0 && s.value)
            c->redis.url = tg_xstrndup(s.value, s.len);
        tg_secret_dispose(&s);
        return;
    }
    const char *at = c->redis.url ? strchr(c->redis.url, '@') : NULL;
    const char *scheme = c->redis.url ? strstr(c->redis.url, "://") : NULL;
    if (at && scheme && memchr(scheme + 3, ':', (size_t)(at - scheme - 3)))
        tg_yaml_warn(y, tg_yaml_get(y, n, "url"),
                     "redis url holds a password inline; use env:NAME or file:PATH so it stays out "
                     "of the file");
}

static void load_redis(struct tg_config *c, struct tg_yaml *y, yaml_node_t *root)
{
    static const char *const keys[] = {"url", "prefix", "events_maxlen", "dedupe_ttl", NULL};
    yaml_node_t *n = tg_yaml_get(y, root, "redis");
    long long maxlen = (long long)c->redis.events_maxlen;
    if (n == NULL || tg_yaml_expect_map(y, n, "redis"))
        return;
    tg_yaml_check_keys(y, n, keys, "redis");
    load_redis_url(c, y, n);
    tg_yaml_get_str(y, n, "prefix", &c->redis.prefix);
    tg_yaml_get_int(y, n, "events_maxlen", 1000, 1000000000LL, &maxlen);
    tg_yaml_get_duration(y, n, "dedupe_ttl", &c->redis.dedupe_ttl_ms);
    c->redis.events_maxlen = (uint64_t)maxlen;
    struct tg_redis_addr addr;
    char err[160];
    if (c->redis.url && tg_redis_addr_parse(c->redis.url, &addr, err, sizeof err))
        tg_yaml_error(y, tg_yaml_get(y, n, "url"), "redis url: %s", err);
    else if (c->redis.url)
        tg_redis_addr_dispose(&addr);
    if (c->redis.dedupe_ttl_ms < 1000)
        tg_yaml_error(y, tg_yaml_get(y, n, "dedupe_ttl"), "dedupe_ttl must be at least 1s");
}

static void load_gitlab(struct tg_config *c, struct tg_yaml *y, yaml_node_t *root)
{
    static const char *const keys[] = {"url", "api_token", "timeout", "ca_file", NULL};
    yaml_node_t *n = tg_yaml_get(y, root, "gitlab");
    if (n == NULL || tg_yaml_expect_map(y, n, "gitlab"))
        return;
    tg_yaml_check_keys(y, n, keys, "gitlab");
    tg_yaml_get_str(y, n, "url", &c->gitlab.url);
    get_secret(c, y, n, "api_token", &c->gitlab.api_token);
    tg_yaml_get_duration(y, n, "timeout", &c->gitlab.timeout_ms);
    tg_yaml_get_str(y, n, "ca_file", &c->gitlab.ca_file);
    if (c->gitlab.url) {
        size_t l = strlen(c->gitlab.url);
        while (l > 0 && c->gitlab.url[l - 1] == '/')
            c->gitlab.url[--l] = '\0';
        char why[160];
        if (tg_baseurl_check(c->gitlab.url, why, sizeof why))
            tg_yaml_error(y, tg_yaml_get(y, n, "url"), "gitlab url %s", why);
    }
}

/* whsec_<base64> (or the bare base64) -> key bytes. */
static void decode_signing_key(struct tg_yaml *y, yaml_node_t *n, struct tg_webhook *w)
{
    const char *v = w->signing_token.value;
    size_t len = w->signing_token.len;
    if (v == NULL)
        return;
    if (len > 6 && strncmp(v, "whsec_", 6) == 0) {
        v += 6;
        len -= 6;
    }
    w->signing_key = tg_xmalloc(len);
    long k = tg_base64_decode(v, len, w->signing_key, len);
    if (k < 16) {
        tg_yaml_error(y, n,
                      "signing_token (%s) is not whsec_ followed by base64 of at least 16 bytes",
                      w->signing_token.ref);
        k = 0;
    }
    w->signing_key_len = (size_t)k;
}

static void load_webhook(struct tg_config *c, struct tg_yaml *y, yaml_node_t *n,
                         struct tg_webhook *w)
{
    static const char *const keys[] = {"name", "token", "signing_token", "events", NULL};
    static const char *const default_events[] = {DEFAULT_EVENTS};
    if (tg_yaml_expect_map(y, n, "webhook"))
        return;
    tg_yaml_check_keys(y, n, keys, "webhook");
    tg_yaml_get_str(y, n, "name", &w->name);
    if (w->name == NULL)
        tg_yaml_error(y, n, "webhook needs a name");
    need_secret(c, y, n, "token", &w->token);
    get_secret(c, y, n, "signing_token", &w->signing_token);
    decode_signing_key(y, tg_yaml_get(y, n, "signing_token"), w);
    if (tg_yaml_get(y, n, "events") == NULL) {
        w->events = tg_xcalloc(TG_ARRAY_SIZE(default_events) + 1, sizeof(char *));
        for (size_t i = 0; i < TG_ARRAY_SIZE(default_events); i++)
            w->events[i] = tg_xstrdup(default_events[i]);
    } else {
        tg_yaml_get_strv(y, n, "events", &w->events);
    }
}

static void load_webhooks(struct tg_config *c, struct tg_yaml *y, yaml_node_t *root)
{
    yaml_node_t *n = tg_yaml_get(y, root, "webhooks");
    if (n == NULL) {
        tg_yaml_error(y, root, "webhooks is required: at least one {name, token}");
        return;
    }
    if (tg_yaml_expect_seq(y, n, "webhooks"))
        return;
    c->nwebhooks = tg_yaml_len(n);
    c->webhooks = tg_xcalloc(c->nwebhooks ? c->nwebhooks : 1, sizeof *c->webhooks);
    for (size_t i = 0; i < c->nwebhooks; i++) {
        load_webhook(c, y, tg_yaml_item(y, n, i), &c->webhooks[i]);
        for (size_t j = 0; j < i; j++)
            if (c->webhooks[i].name && c->webhooks[j].name &&
                strcmp(c->webhooks[i].name, c->webhooks[j].name) == 0)
                tg_yaml_error(y, tg_yaml_item(y, n, i), "webhook name \"%s\" is used twice",
                              c->webhooks[i].name);
    }
    if (c->nwebhooks == 0)
        tg_yaml_error(y, n, "webhooks needs at least one entry");
}

static void load_limits(struct tg_config *c, struct tg_yaml *y, yaml_node_t *root)
{
    static const char *const keys[] = {"max_body",
                                       "redis_timeout",
                                       "signature_tolerance",
                                       "max_connections",
                                       "max_connections_per_peer",
                                       "unauthenticated_idle",
                                       "api_queue",
                                       "http2_max_streams",
                                       NULL};
    yaml_node_t *n = tg_yaml_get(y, root, "limits");
    long long conns = (long long)c->limits.max_connections,
              streams = (long long)c->limits.http2_max_streams;
    long long per_peer = (long long)c->limits.max_connections_per_peer,
              queue = (long long)c->limits.api_queue;
    if (n == NULL || tg_yaml_expect_map(y, n, "limits"))
        return;
    tg_yaml_check_keys(y, n, keys, "limits");
    tg_yaml_get_size(y, n, "max_body", &c->limits.max_body);
    tg_yaml_get_duration(y, n, "redis_timeout", &c->limits.redis_timeout_ms);
    tg_yaml_get_duration(y, n, "signature_tolerance", &c->limits.signature_tolerance_ms);
    tg_yaml_get_int(y, n, "max_connections", 1, 1000000, &conns);
    tg_yaml_get_int(y, n, "http2_max_streams", 1, 256, &streams);
    tg_yaml_get_int(y, n, "max_connections_per_peer", 1, 1000000, &per_peer);
    tg_yaml_get_int(y, n, "api_queue", 1, 100000, &queue);
    tg_yaml_get_duration(y, n, "unauthenticated_idle", &c->limits.unauthenticated_idle_ms);
    c->limits.max_connections_per_peer = (uint64_t)per_peer;
    c->limits.api_queue = (uint64_t)queue;
    if (c->limits.unauthenticated_idle_ms < 100)
        tg_yaml_error(y, tg_yaml_get(y, n, "unauthenticated_idle"),
                      "unauthenticated_idle must be at least 100ms");
    c->limits.max_connections = (uint64_t)conns;
    c->limits.http2_max_streams = (uint64_t)streams;
    if (c->limits.max_body < 1024 || c->limits.max_body > 64ULL * 1048576)
        tg_yaml_error(y, tg_yaml_get(y, n, "max_body"), "max_body must be between 1KiB and 64MiB");
    if (c->limits.redis_timeout_ms < 10)
        tg_yaml_error(y, tg_yaml_get(y, n, "redis_timeout"), "redis_timeout must be at least 10ms");
}

static void load_queue_and_trigger(struct tg_config *c, struct tg_yaml *y, yaml_node_t *root)
{
    static const char *const qkeys[] = {"max_attempts", "claim_idle", NULL};
    static const char *const tkeys[] = {"retry_base", "retry_cap", "tries",
                                        "timeout",    "settle",    NULL};
    long long attempts = c->queue.max_attempts, tries = c->trigger.tries;
    yaml_node_t *q = tg_yaml_get(y, root, "queue"), *t = tg_yaml_get(y, root, "trigger");
    if (q && tg_yaml_expect_map(y, q, "queue") == 0) {
        tg_yaml_check_keys(y, q, qkeys, "queue");
        tg_yaml_get_int(y, q, "max_attempts", 1, 1000, &attempts);
        tg_yaml_get_duration(y, q, "claim_idle", &c->queue.claim_idle_ms);
    }
    if (t && tg_yaml_expect_map(y, t, "trigger") == 0) {
        tg_yaml_check_keys(y, t, tkeys, "trigger");
        tg_yaml_get_duration(y, t, "retry_base", &c->trigger.base_ms);
        tg_yaml_get_duration(y, t, "retry_cap", &c->trigger.cap_ms);
        tg_yaml_get_int(y, t, "tries", 1, 100, &tries);
        tg_yaml_get_duration(y, t, "timeout", &c->trigger.timeout_ms);
        tg_yaml_get_duration(y, t, "settle", &c->trigger.settle_ms);
    }
    c->queue.max_attempts = (int)attempts;
    c->trigger.tries = (int)tries;
    if (c->queue.claim_idle_ms <= c->trigger.timeout_ms)
        tg_yaml_error(y, q ? q : root,
                      "queue.claim_idle must be longer than trigger.timeout, or a "
                      "live worker's event could be claimed mid-trigger");
}

/* audit.retention and audit.archive. A retention without an archive is a warning, not an
 * error: a replica that is not the archiver carries the shared policy without the volume. */
static void load_retention(struct tg_config *c, struct tg_yaml *y, yaml_node_t *a)
{
    char *archive = NULL;
    tg_yaml_get_duration(y, a, "retention", &c->audit.retention_ms);
    tg_yaml_get_str(y, a, "archive", &archive);
    c->audit.archive = archive ? tg_config_path(c, archive) : NULL;
    free(archive);
    if (c->audit.retention_ms && c->audit.archive == NULL)
        tg_yaml_warn(
            y, a,
            "audit.retention is set but audit.archive is not: this process never archives, "
            "so another process (the archiver) must have audit.archive, or Redis keeps every "
            "record");
    if (c->audit.archive && c->audit.retention_ms == 0)
        tg_yaml_warn(y, a, "audit.archive is set without audit.retention: nothing is archived");
    /* A warning, not an error: a gateway whose share mounts late must still serve; its
     * archive passes refuse meanwhile (archive_failed). */
    struct stat st;
    int missing = c->audit.archive && stat(c->audit.archive, &st) != 0;
    if (c->audit.archive && (missing || !S_ISDIR(st.st_mode)))
        tg_yaml_warn(y, tg_yaml_get(y, a, "archive"),
                     "audit.archive %s %s: nothing can be archived until it is "
                     "a directory (an unmounted share?)",
                     c->audit.archive, missing ? "cannot be read" : "is not a directory");
}

static void load_misc(struct tg_config *c, struct tg_yaml *y, yaml_node_t *root)
{
    static const char *const audit_keys[] = {"file", "fail_closed", "retention", "archive", NULL};
    long long workers = c->workers, threads = c->threads;
    tg_yaml_get_int(y, root, "workers", 0, 256, &workers);
    tg_yaml_get_int(y, root, "threads", 0, 256, &threads);
    c->workers = (int)workers;
    c->threads = (int)threads;
    tg_yaml_get_str(y, root, "policies", &c->policies_dir);
    tg_yaml_get_str(y, root, "templates", &c->templates_dir);
    tg_yaml_get_str(y, root, "public_url", &c->public_url);
    yaml_node_t *a = tg_yaml_get(y, root, "audit");
    if (a && tg_yaml_expect_map(y, a, "audit") == 0) {
        tg_yaml_check_keys(y, a, audit_keys, "audit");
        char *file = NULL;
        tg_yaml_get_str(y, a, "file", &file);
        c->audit.file = file ? tg_config_path(c, file) : NULL;
        free(file);
        tg_yaml_get_bool(y, a, "fail_closed", &c->audit.fail_closed);
        load_retention(c, y, a);
    }
    if (c->public_url) {
        size_t l = strlen(c->public_url);
        while (l > 0 && c->public_url[l - 1] == '/')
            c->public_url[--l] = '\0';
    }
}

static unsigned parse_scopes(struct tg_yaml *y, yaml_node_t *n, char **v)
{
    unsigned s = 0;
    for (size_t i = 0; v && v[i]; i++) {
        if (strcmp(v[i], "read") == 0)
            s |= TG_SCOPE_READ;
        else if (strcmp(v[i], "approve") == 0)
            s |= TG_SCOPE_APPROVE;
        else
            tg_yaml_error(y, n, "unknown scope \"%s\" (read, approve)", v[i]);
    }
    return s;
}

static void load_api(struct tg_config *c, struct tg_yaml *y, yaml_node_t *root)
{
    static const char *const keys[] = {"tokens", NULL};
    static const char *const tkeys[] = {"token", "identity", "scopes", NULL};
    yaml_node_t *n = tg_yaml_get(y, root, "api"), *tokens;
    if (n == NULL || tg_yaml_expect_map(y, n, "api"))
        return;
    tg_yaml_check_keys(y, n, keys, "api");
    tokens = tg_yaml_get(y, n, "tokens");
    if (tokens == NULL || tg_yaml_expect_seq(y, tokens, "api.tokens"))
        return;
    c->napi_tokens = tg_yaml_len(tokens);
    c->api_tokens = tg_xcalloc(c->napi_tokens ? c->napi_tokens : 1, sizeof *c->api_tokens);
    for (size_t i = 0; i < c->napi_tokens; i++) {
        yaml_node_t *t = tg_yaml_item(y, tokens, i);
        struct tg_api_token *at = &c->api_tokens[i];
        char **scopes = NULL;
        if (tg_yaml_expect_map(y, t, "api token"))
            continue;
        tg_yaml_check_keys(y, t, tkeys, "api token");
        need_secret(c, y, t, "token", &at->token);
        tg_yaml_get_str(y, t, "identity", &at->identity);
        if (at->identity == NULL)
            tg_yaml_error(y, t, "api token needs an identity");
        tg_yaml_get_strv(y, t, "scopes", &scopes);
        at->scopes = scopes ? parse_scopes(y, tg_yaml_get(y, t, "scopes"), scopes) : TG_SCOPE_READ;
        tg_strv_free(scopes);
    }
}

/* The Mattermost button-context key: context_key when given, else HMAC-SHA256(token, label),
 * so that a configured token alone yields a key no caller has seen. */
static void context_key(struct tg_config *c, struct tg_yaml *y, yaml_node_t *n,
                        struct tg_chat *chat)
{
    static const char label[] = "tollgate mattermost button context v1";
    struct tg_secret k = {0};
    get_secret(c, y, n, "context_key", &k);
    const struct tg_secret *from = k.value ? &k : &chat->secret;
    const struct tg_bytes parts[] = {{label, sizeof label - 1}};
    if (k.value && k.len < 16)
        tg_yaml_error(y, tg_yaml_get(y, n, "context_key"),
                      "context_key (%s) must be at least 16 bytes", k.ref);
    if (from->value)
        tg_hmac_sha256((struct tg_bytes){from->value, from->len}, parts, 1, chat->context_key);
    tg_secret_dispose(&k);
}

static void load_chat(struct tg_config *c, struct tg_yaml *y, yaml_node_t *n,
                      const char *secret_key, struct tg_chat *chat)
{
    static const char *const keys[] = {"signing_secret", "token",   "context_key", "webhook_url",
                                       "bot_token",      "channel", "users",       NULL};
    if (n == NULL || tg_yaml_expect_map(y, n, "chatops entry"))
        return;
    tg_yaml_check_keys(y, n, keys, "chatops entry");
    chat->enabled = 1;
    need_secret(c, y, n, secret_key, &chat->secret);
    if (strcmp(secret_key, "token") == 0)
        context_key(c, y, n, chat);
    else if (tg_yaml_get(y, n, "context_key"))
        tg_yaml_error(y, tg_yaml_get(y, n, "context_key"),
                      "context_key belongs to chatops.mattermost");
    get_secret(c, y, n, "webhook_url", &chat->webhook_url);
    get_secret(c, y, n, "bot_token", &chat->bot_token);
    tg_yaml_get_str(y, n, "channel", &chat->channel);
    yaml_node_t *users = tg_yaml_get(y, n, "users");
    if (users == NULL || tg_yaml_expect_map(y, users, "users"))
        return;
    chat->nusers = tg_yaml_len(users);
    chat->users = tg_xcalloc(chat->nusers ? chat->nusers : 1, sizeof *chat->users);
    for (size_t i = 0; i < chat->nusers; i++) {
        const char *k = tg_yaml_scalar(y, tg_yaml_key(y, users, i), "user id");
        const char *v = tg_yaml_scalar(y, tg_yaml_value(y, users, i), "identity");
        chat->users[i].chat_id = tg_xstrdup(k ? k : "");
        chat->users[i].identity = tg_xstrdup(v ? v : "");
    }
}

static void load_chatops(struct tg_config *c, struct tg_yaml *y, yaml_node_t *root)
{
    static const char *const keys[] = {"slack", "mattermost", NULL};
    yaml_node_t *n = tg_yaml_get(y, root, "chatops");
    if (n == NULL || tg_yaml_expect_map(y, n, "chatops"))
        return;
    tg_yaml_check_keys(y, n, keys, "chatops");
    load_chat(c, y, tg_yaml_get(y, n, "slack"), "signing_secret", &c->slack);
    load_chat(c, y, tg_yaml_get(y, n, "mattermost"), "token", &c->mattermost);
}

static void load_trusted_proxies(struct tg_config *c, struct tg_yaml *y, yaml_node_t *root)
{
    yaml_node_t *n = tg_yaml_get(y, root, "trusted_proxies");
    if (n == NULL || tg_yaml_expect_seq(y, n, "trusted_proxies"))
        return;
    c->ntrusted_proxies = tg_yaml_len(n);
    c->trusted_proxies =
        tg_xcalloc(c->ntrusted_proxies ? c->ntrusted_proxies : 1, sizeof *c->trusted_proxies);
    for (size_t i = 0; i < c->ntrusted_proxies; i++) {
        yaml_node_t *item = tg_yaml_item(y, n, i);
        const char *v = tg_yaml_scalar(y, item, "trusted proxy");
        if (v && tg_cidr_parse(v, &c->trusted_proxies[i]))
            tg_yaml_error(y, item,
                          "\"%s\" is not an address or CIDR block (10.0.0.0/8, 2001:db8::/32; host "
                          "bits zero)",
                          v);
    }
    yaml_node_t *h = tg_yaml_get(y, root, "forwarded_header");
    const char *which = h ? tg_yaml_scalar(y, h, "forwarded_header") : NULL;
    if (which && strcmp(which, "x-forwarded-for") == 0)
        c->forwarded_header = TG_FWD_XFF;
    else if (which && strcmp(which, "forwarded") == 0)
        c->forwarded_header = TG_FWD_FORWARDED;
    else if (which)
        tg_yaml_error(y, h, "forwarded_header must be x-forwarded-for or forwarded");
}

/* The policies and templates the config names. Loaded even after errors above, so that
 * `tollgate check` reports every fault in one run. */
static void load_sets(struct tg_config *c, struct tg_diag *diag)
{
    char *policies = tg_config_path(c, c->policies_dir),
         *templates = tg_config_path(c, c->templates_dir);
    c->policies = tg_policy_load_dir(policies, diag);
    c->templates = tg_template_load_dir(templates, diag);
    tg_chat_texts_check(templates, diag);
    free(policies);
    free(templates);
}

/* ---- public ---- */

struct tg_config *tg_config_load(const char *path, struct tg_diag *diag)
{
    static const char *const keys[] = {
        "listen",          "threads",          "redis",      "gitlab",  "webhooks",
        "limits",          "workers",          "queue",      "trigger", "policies",
        "templates",       "public_url",       "audit",      "api",     "chatops",
        "trusted_proxies", "forwarded_header", "defectdojo", "console", NULL};
    struct tg_yaml y;
    size_t errors_before = diag->errors;
    if (tg_yaml_open(&y, path, diag))
        goto fail_yaml;
    struct tg_config *c = tg_xcalloc(1, sizeof *c);
    char *tmp = tg_xstrdup(path);
    c->path = tg_xstrdup(path);
    c->dir = tg_xstrdup(dirname(tmp));
    free(tmp);
    c->refs = 1;
    config_defaults(c);
    yaml_node_t *root = tg_yaml_root(&y);
    if (tg_yaml_expect_map(&y, root, "the configuration") == 0) {
        tg_yaml_check_keys(&y, root, keys, "the configuration");
        load_listen(c, &y, root);
        load_redis(c, &y, root);
        load_gitlab(c, &y, root);
        load_webhooks(c, &y, root);
        load_limits(c, &y, root);
        load_queue_and_trigger(c, &y, root);
        load_misc(c, &y, root);
        load_api(c, &y, root);
        load_chatops(c, &y, root);
        load_trusted_proxies(c, &y, root);
        c->defectdojo = tg_dojo_config_load(&y, tg_yaml_get(&y, root, "defectdojo"), c->dir);
        tg_console_config_load(c, &y, root);
    }
    tg_yaml_close(&y);
    load_sets(c, diag);
    if (diag->errors == errors_before)
        return c;
    tg_config_unref(c);
    return NULL;
fail_yaml:
    tg_yaml_close(&y);
    return NULL;
}

static void chat_dispose(struct tg_chat *chat)
{
    tg_secret_dispose(&chat->secret);
    tg_secret_dispose(&chat->webhook_url);
    tg_secret_dispose(&chat->bot_token);
    memset(chat->context_key, 0, sizeof chat->context_key);
    free(chat->channel);
    for (size_t i = 0; i < chat->nusers; i++) {
        free(chat->users[i].chat_id);
        free(chat->users[i].identity);
    }
    free(chat->users);
}

static void config_free(struct tg_config *c)
{
    for (size_t i = 0; i < c->nlisten; i++) {
        struct tg_listen *l = &c->listen[i];
        free(l->address);
        free(l->host);
        free(l->port);
        free(l->tls_cert);
        free(l->tls_key);
    }
    for (size_t i = 0; i < c->nwebhooks; i++) {
        struct tg_webhook *w = &c->webhooks[i];
        free(w->name);
        tg_secret_dispose(&w->token);
        tg_secret_dispose(&w->signing_token);
        free(w->signing_key);
        tg_strv_free(w->events);
    }
    for (size_t i = 0; i < c->napi_tokens; i++) {
        tg_secret_dispose(&c->api_tokens[i].token);
        free(c->api_tokens[i].identity);
    }
    chat_dispose(&c->slack);
    chat_dispose(&c->mattermost);
    tg_console_config_dispose(&c->console);
    tg_secret_dispose(&c->gitlab.api_token);
    tg_policy_set_free(c->policies);
    tg_template_set_free(c->templates);
    tg_dojo_config_free(c->defectdojo);
    free(c->listen);
    free(c->webhooks);
    free(c->api_tokens);
    free(c->trusted_proxies);
    free(c->redis.url);
    free(c->redis.prefix);
    free(c->gitlab.url);
    free(c->gitlab.ca_file);
    free(c->policies_dir);
    free(c->templates_dir);
    free(c->public_url);
    free(c->audit.file);
    free(c->audit.archive);
    free(c->path);
    free(c->dir);
    free(c);
}

struct tg_config *tg_config_ref(struct tg_config *c)
{
    __atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
    return c;
}

void tg_config_unref(struct tg_config *c)
{
    if (c && __atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) == 0)
        config_free(c);
}

const struct tg_webhook *tg_config_find_webhook(const struct tg_config *c, const char *token,
                                                size_t len)
{
    const struct tg_webhook *found = NULL;
    unsigned char d[TG_SHA256_LEN];
    tg_sha256(token, len, d); /* once: each entry keeps its own digest from load time */
    for (size_t i = 0; i < c->nwebhooks; i++) /* no early exit: time does not tell which matched */
        if (tg_secret_matches(&c->webhooks[i].token, d) && found == NULL)
            found = &c->webhooks[i];
    return found;
}

int tg_config_webhook_wants(const struct tg_webhook *w, const char *event, size_t len)
{
    for (char **e = w->events; e && *e; e++)
        if (strlen(*e) == len && memcmp(*e, event, len) == 0)
            return 1;
    return 0;
}

const struct tg_api_token *tg_config_find_api_token(const struct tg_config *c, const char *token,
                                                    size_t len)
{
    const struct tg_api_token *found = NULL;
    unsigned char d[TG_SHA256_LEN];
    tg_sha256(token, len, d);
    for (size_t i = 0; i < c->napi_tokens; i++)
        if (tg_secret_matches(&c->api_tokens[i].token, d) && found == NULL)
            found = &c->api_tokens[i];
    return found;
}

char *tg_config_path(const struct tg_config *c, const char *p)
{
    if (p[0] == '/' || c->dir == NULL || strcmp(c->dir, ".") == 0)
        return tg_xstrdup(p);
    return tg_xasprintf("%s/%s", c->dir, p);
}

void tg_config_holder_init(struct tg_config_holder *h, struct tg_config *c)
{
    pthread_mutex_init(&h->mu, NULL);
    h->cur = c;
    h->generation = 1;
}

void tg_config_holder_dispose(struct tg_config_holder *h)
{
    tg_config_unref(h->cur);
    h->cur = NULL;
    pthread_mutex_destroy(&h->mu);
}

struct tg_config *tg_config_holder_get(struct tg_config_holder *h)
{
    pthread_mutex_lock(&h->mu);
    struct tg_config *c = tg_config_ref(h->cur);
    pthread_mutex_unlock(&h->mu);
    return c;
}

void tg_config_holder_swap(struct tg_config_holder *h, struct tg_config *c)
{
    pthread_mutex_lock(&h->mu);
    struct tg_config *old = h->cur;
    h->cur = c;
    h->generation++;
    pthread_mutex_unlock(&h->mu);
    tg_config_unref(old);
}
