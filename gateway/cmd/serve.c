/* serve.c -- `tollgate serve`: the gateway process and its life cycle.
 *
 * The main thread owns the signals: every other thread blocks them, and the main thread
 * waits for them synchronously, so no code runs in signal context. SIGHUP reloads the
 * configuration (a bad one is refused and the old one stays); SIGTERM and SIGINT stop
 * accepting, let every in-flight request get its real answer, let the workers finish the
 * event in hand, and exit 0.
 */
#include "cmd/commands.h"
#include "approvals/approval.h"
#include "api/deploy_api.h"
#include "api/environments_api.h"
#include "console/console.h"
#include "base/config.h"
#include "http/health.h"
#include "http/ingest.h"
#include "base/log.h"
#include "audit/maint.h"
#include "base/metrics.h"
#include "decide/policy.h"
#include "deliver/queue.h"
#include "http/server.h"
#include "http/tally.h"
#include "api/api.h"
#include "api/audit_api.h"
#include "base/util.h"
#include "console/pages.h"
#include "deliver/worker.h"
#include "forward/dojo_config.h"
#include "forward/forwarder.h"

#include "base/httpclient.h"
#include "base/httpclient.h"

#include <errno.h>
#include <malloc.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TG_MODULE "serve"

struct serve_opts {
    const char *config_path;
    const char *redis_url; /* --redis overrides redis.url */
    int verbose;
};

struct gateway {
    struct serve_opts opts;
    struct tg_config_holder config;
    struct tg_config *boot; /* the start-up config, which the server keeps reading */
    struct tg_server *server;
    struct tg_ingest *ingest;
    struct tg_health *health;
    struct tg_workers *workers;
    struct tg_forwarders *forwarders;
    struct tg_api_pool *api;
    struct tg_tally *tally;
    struct tg_maint *maint;
};

static int serve_usage(FILE *out)
{
    fprintf(out, "usage: tollgate serve -c FILE [-v] [--redis URL]\n"
                 "  Runs the gateway: HTTP listeners and queue workers.\n"
                 "  -c FILE       configuration (tollgate.yaml)\n"
                 "  -v            debug logging\n"
                 "  --redis URL   use this Redis instead of redis.url\n"
                 "Signals: SIGHUP reloads the configuration; SIGTERM/SIGINT stop gracefully.\n");
    return out == stdout ? 0 : 2;
}

static int parse_opts(int argc, char **argv, struct serve_opts *o)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"redis", required_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "c:vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config_path = optarg;
            break;
        case 'r':
            o->redis_url = optarg;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'h':
            return serve_usage(stdout) ? -1 : 1;
        default:
            return -1;
        }
    }
    return o->config_path && optind == argc ? 0 : -1;
}

/* Loads the config the way serve uses it (with --redis applied); logs faults. */
static struct tg_config *load_config(const struct serve_opts *o)
{
    struct tg_diag diag;
    tg_diag_init(&diag);
    struct tg_config *c = tg_config_load(o->config_path, &diag);
    for (size_t i = 0; i < diag.count; i++)
        TG_LOG(diag.msgs[i].is_error ? TG_LOG_ERROR : TG_LOG_WARN, "config", "%s",
               diag.msgs[i].text);
    tg_diag_dispose(&diag);
    if (c && o->redis_url) {
        free(c->redis.url);
        c->redis.url = tg_xstrdup(o->redis_url);
    }
    return c;
}

static void reload(struct gateway *g)
{
    struct tg_config *c = load_config(&g->opts);
    if (c == NULL) {
        tg_metrics_inc(TG_M_CONFIG_RELOAD_FAILURES);
        TG_LOG(TG_LOG_ERROR, "reload_refused", "%s has errors; the running configuration stays",
               g->opts.config_path);
        return;
    }
    const struct tg_config *b = g->boot;
    if (c->nlisten != b->nlisten || c->limits.max_body != b->limits.max_body ||
        c->threads != b->threads ||
        strcmp(c->redis.url ? c->redis.url : "", b->redis.url ? b->redis.url : "") != 0)
        TG_LOG(TG_LOG_WARN, "restart_needed",
               "listen, threads, redis.url and limits.max_body take effect only after a restart");
    json_t *details = json_pack("{s:s, s:s?}", "file", g->opts.config_path, "policy_hash",
                                c->policies ? tg_policy_set_hash(c->policies) : NULL);
    tg_config_holder_swap(&g->config, c);
    tg_metrics_inc(TG_M_CONFIG_RELOADS);
    TG_LOG(TG_LOG_INFO, "config_reloaded", "%s", g->opts.config_path);
    struct tg_audit_record r = {.action = "config_reloaded", .details = details};
    tg_maint_record(g->maint, &r);
    json_decref(details);
    tg_approval_policy_loaded(
        c); /* after the reload's record; the holder keeps c alive (only this thread swaps) */
}

static int start(struct gateway *g)
{
    static const char *const scripts[] = {[TG_INGEST_SCRIPT] = tg_queue_enqueue_lua};
    if (g->boot->redis.url == NULL) {
        TG_LOG(TG_LOG_ERROR, "no_redis",
               "redis.url is not set (give --redis URL, or use `make run`, which starts a "
               "private Redis)");
        return -1;
    }
    g->server = tg_server_new(g->boot, scripts, TG_ARRAY_SIZE(scripts));
    if (g->server == NULL)
        return -1;
    g->tally = tg_tally_new();
    g->maint = tg_maint_new(&g->config, g->tally);
    tg_approval_policy_loaded(g->boot);
    g->ingest = tg_ingest_new(g->server, &g->config, g->tally);
    g->api = tg_api_pool_new(&g->config, 2, g->boot->limits.api_queue);
    /* API and ChatOps routes (authenticated on the loops, run on the api pool): */
    tg_deploy_api_register(g->server, g->api, g->tally);
    tg_console_register(g->server, g->api); /* before any /ui/ prefix: h2o takes the first */
    tg_audit_api_register(g->server, g->api, g->tally);
    tg_environments_api_register(g->server, g->api, g->tally);
    g->health = tg_health_new(g->server);
    tg_console_pages_register(g->server); /* last of the /ui/ routes: h2o takes the first match */
    g->workers = tg_workers_start(&g->config, g->boot->workers);
    tg_health_add_probe(g->health, tg_workers_probe, g->workers);
    g->forwarders = tg_forwarders_start(
        &g->config, g->boot->workers > 0 && g->boot->defectdojo ? g->boot->defectdojo->workers : 0);
    return tg_server_start(g->server);
}

/* Waits for signals until asked to stop, doing the housekeeping in between. */
static void wait_for_stop(struct gateway *g, const sigset_t *set)
{
    struct timespec tick = {5, 0};
    for (;;) {
        int sig = sigtimedwait(set, NULL, &tick);
        if (sig < 0 && errno == EAGAIN) {
            tg_maint_tick(g->maint);
        } else if (sig == SIGHUP) {
            reload(g);
        } else if (sig == SIGTERM || sig == SIGINT) {
            TG_LOG(TG_LOG_INFO, "stopping", "signal %d: finishing in-flight requests", sig);
            return;
        } else if (sig < 0 && errno != EINTR) {
            TG_LOG_ERRNO(TG_LOG_ERROR, "sigwait", "cannot wait for signals");
            return;
        }
    }
}

static void teardown(struct gateway *g)
{
    tg_workers_stop(g->workers);
    tg_forwarders_stop(g->forwarders);
    if (g->maint)
        tg_maint_final(g->maint);
    tg_maint_free(g->maint);
    tg_api_pool_free(g->api);
    tg_tally_free(g->tally);
    tg_ingest_free(g->ingest);
    tg_health_free(g->health);
    tg_server_free(g->server);
    tg_config_unref(g->boot);
    tg_config_holder_dispose(&g->config);
}

int tg_cmd_serve(int argc, char **argv)
{
    struct gateway g = {0};
    sigset_t set;
    int rc = parse_opts(argc, argv, &g.opts);
    if (rc)
        return rc > 0 ? 0 : serve_usage(stderr);
    tg_log_setup(2, g.opts.verbose ? TG_LOG_DEBUG : TG_LOG_INFO);
    g.boot = load_config(&g.opts);
    if (g.boot == NULL)
        return 2;
    tg_config_holder_init(&g.config, tg_config_ref(g.boot));
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* inherited by every thread started below */
    signal(SIGPIPE, SIG_IGN);
    tg_httpc_global_init(); /* before any thread: libcurl's set-up is not thread-safe */
    /* Request bodies and buffers of a burst are freed at once; let glibc give big blocks back,
     * and share two arenas instead of keeping one per thread at its own peak (measured with
     * bench/ingest.sh: peak RSS 36.8 MB without these, 31.3 MB with them, same throughput). */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    mallopt(M_TRIM_THRESHOLD, 256 * 1024);
    mallopt(M_ARENA_MAX, 2);
    rc = start(&g);
    if (rc == 0) {
        TG_LOG(TG_LOG_INFO, "started", "tollgate serving with %s", g.opts.config_path);
        wait_for_stop(&g, &set);
        tg_api_pool_stop(g.api); /* its last answers still need the loops */
        tg_server_stop(g.server);
        TG_LOG(TG_LOG_INFO, "stopped", "all in-flight requests answered");
    }
    teardown(&g);
    tg_httpc_global_cleanup();
    return rc == 0 ? 0 : 1;
}
