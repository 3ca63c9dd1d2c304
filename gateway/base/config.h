/* config.h -- tollgate.yaml parsed once into an immutable struct tg_config.
 *
 * Secrets are given as env:NAME or file:PATH and read at load time (and again at reload);
 * an inline secret is accepted with a warning. Every fault is reported as file:line:col into
 * a tg_diag, and a config with errors is never returned. Defaults live in config_defaults().
 * A loaded config is shared between threads by reference count: readers hold a reference for
 * as long as they use it, and a reload swaps in a new one without disturbing them.
 */
#ifndef TG_CONFIG_H
#define TG_CONFIG_H

#include "base/diag.h"
#include "base/netaddr.h"
#include "base/secret.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct tg_policy_set;
struct tg_template_set;

struct tg_listen {
    char *address; /* as written */
    char *host;
    char *port;
    char *tls_cert; /* both NULL for cleartext */
    char *tls_key;
};

struct tg_webhook {
    char *name;
    struct tg_secret token;         /* X-Gitlab-Token */
    struct tg_secret signing_token; /* value is NULL when unset */
    unsigned char *signing_key;     /* decoded from whsec_<base64> */
    size_t signing_key_len;
    char **events; /* NULL-terminated X-Gitlab-Event values */
};

enum tg_api_scope { TG_SCOPE_READ = 1, TG_SCOPE_APPROVE = 2 };

struct tg_api_token {
    struct tg_secret token;
    char *identity;
    unsigned scopes; /* TG_SCOPE_* bits */
};

/* Chat user id -> identity. */
struct tg_user_map {
    char *chat_id;
    char *identity;
};

struct tg_chat {
    struct tg_secret secret;      /* Slack signing secret / Mattermost command token */
    struct tg_secret webhook_url; /* incoming webhook */
    struct tg_secret bot_token;   /* Slack chat.postMessage (optional) */
    char *channel;
    /* Mattermost: the key that signs button contexts (context_key, or derived from the token). */
    unsigned char context_key[32];
    struct tg_user_map *users;
    size_t nusers;
    int enabled;
};

struct tg_config {
    char *path; /* the file, as given */
    char *dir;  /* relative paths below are resolved against this */

    struct tg_listen *listen;
    size_t nlisten;
    int threads; /* event loops; 0 = one per core */

    struct {
        char *url; /* NULL when not configured */
        char *prefix;
        uint64_t events_maxlen;
        uint64_t dedupe_ttl_ms;
    } redis;

    struct {
        char *url;
        struct tg_secret api_token;
        uint64_t timeout_ms;
        char *ca_file;
    } gitlab;

    struct tg_webhook *webhooks;
    size_t nwebhooks;

    struct {
        uint64_t max_body;
        uint64_t redis_timeout_ms;
        uint64_t signature_tolerance_ms;
        uint64_t max_connections; /* per process */
        uint64_t max_connections_per_peer;
        uint64_t
            unauthenticated_idle_ms; /* a connection without an authenticated request is closed */
        uint64_t api_queue;          /* requests waiting per API lane; beyond: 503 */
        uint64_t http2_max_streams;
    } limits;

    /* Proxies whose X-Forwarded-For / Forwarded name the client (read at start-up only). */
    struct tg_cidr *trusted_proxies;
    size_t ntrusted_proxies;
    enum tg_forwarded_header forwarded_header; /* which of the two the proxies append */

    int workers;
    struct {
        int max_attempts;       /* deliveries that fail this often go to the dead stream */
        uint64_t claim_idle_ms; /* entries idle longer than this are claimed from dead consumers */
    } queue;

    struct {
        uint64_t base_ms;
        uint64_t cap_ms;
        int tries;
        uint64_t timeout_ms; /* one HTTP attempt */
        uint64_t settle_ms;  /* after an unknown outcome: how long GitLab may still create the
                                pipeline (its own request timeout plus clock skew) */
    } trigger;

    char *policies_dir;
    char *templates_dir;
    char *public_url;

    struct {
        char *file;
        int fail_closed;
        uint64_t retention_ms; /* records older than this leave Redis for the archive; 0: kept */
        char *archive; /* the directory of sealed segments (shared by every archiver), or NULL */
    } audit;

    struct tg_api_token *api_tokens;
    size_t napi_tokens;

    struct tg_chat slack;
    struct tg_chat mattermost;

    /* console: sign-in with GitLab (console/console_config.c reads it). */
    struct tg_console_config {
        int enabled;
        struct tg_secret client_id;
        struct tg_secret client_secret;
        char **allow_groups;          /* NULL-terminated GitLab group full paths */
        uint64_t session_ttl_ms;      /* default 12h */
        char *public_url;             /* console.public_url, else the top-level public_url */
        int approver_min_access;      /* GitLab access level for group approvers (30 Developer) */
        uint64_t membership_cache_ms; /* how long a membership answer is reused (60s) */
    } console;

    /* Loaded from policies_dir and templates_dir (NULL until those modules attach them). */
    struct tg_policy_set *policies;
    struct tg_template_set *templates;

    int refs;
};

/* Loads path. Returns a config with one reference, or NULL with every fault in diag
 * (warnings, such as inline secrets, may be present either way). */
struct tg_config *tg_config_load(const char *path, struct tg_diag *diag);
/* Reference counting; tg_config_unref(NULL) does nothing. Safe from any thread. */
struct tg_config *tg_config_ref(struct tg_config *c);
void tg_config_unref(struct tg_config *c);

/* The webhook whose token equals token (constant time, every entry compared), or NULL. */
const struct tg_webhook *tg_config_find_webhook(const struct tg_config *c, const char *token,
                                                size_t len);
/* 1 when event (e.g. "Pipeline Hook") is in the webhook's events list. */
int tg_config_webhook_wants(const struct tg_webhook *w, const char *event, size_t len);
/* The API token entry matching a bearer token (constant time), or NULL. */
const struct tg_api_token *tg_config_find_api_token(const struct tg_config *c, const char *token,
                                                    size_t len);
/* Resolves a path relative to the config's directory; caller frees. */
char *tg_config_path(const struct tg_config *c, const char *p);

/* The current config of a running process, swapped on reload. */
struct tg_config_holder {
    pthread_mutex_t mu;
    struct tg_config *cur;
    uint64_t generation;
};
void tg_config_holder_init(struct tg_config_holder *h,
                           struct tg_config *c); /* takes the reference */
void tg_config_holder_dispose(struct tg_config_holder *h);
/* A new reference to the current config; release with tg_config_unref. */
struct tg_config *tg_config_holder_get(struct tg_config_holder *h);
/* Installs c (takes its reference) and drops the holder's reference to the old one. */
void tg_config_holder_swap(struct tg_config_holder *h, struct tg_config *c);

#endif
