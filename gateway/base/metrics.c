/* metrics.c -- the process's Prometheus registry: relaxed atomics, rendered on demand.
 *
 * Counts are process-wide; a scrape of one process sees only that process. Rendering
 * reads each atomic once, so a scrape is consistent per series, not across series.
 */
#include "base/metrics.h"
#include "base/util.h"

#include <stdatomic.h>
#include <string.h>

struct metric_def {
    const char *name;   /* family name */
    const char *labels; /* "" or a label set such as result="accepted" */
    const char *type;
    const char *help;
};

static const struct metric_def defs[TG_M_COUNT] = {
    [TG_M_DELIVERIES_ACCEPTED] = {"tollgate_deliveries_total", "result=\"accepted\"", "counter",
                                  "Webhook deliveries by result."},
    [TG_M_DELIVERIES_DUPLICATE] = {"tollgate_deliveries_total", "result=\"duplicate\"", "counter",
                                   NULL},
    [TG_M_DELIVERIES_IGNORED] = {"tollgate_deliveries_total", "result=\"ignored\"", "counter",
                                 NULL},
    [TG_M_REJECTED_UNAUTHORIZED] = {"tollgate_deliveries_rejected_total", "reason=\"unauthorized\"",
                                    "counter", "Webhook deliveries refused, by reason."},
    [TG_M_REJECTED_BAD_SIGNATURE] = {"tollgate_deliveries_rejected_total",
                                     "reason=\"bad_signature\"", "counter", NULL},
    [TG_M_REJECTED_MEDIA_TYPE] = {"tollgate_deliveries_rejected_total",
                                  "reason=\"unsupported_media_type\"", "counter", NULL},
    [TG_M_REJECTED_TOO_LARGE] = {"tollgate_deliveries_rejected_total", "reason=\"too_large\"",
                                 "counter", NULL},
    [TG_M_REJECTED_BAD_REQUEST] = {"tollgate_deliveries_rejected_total", "reason=\"bad_request\"",
                                   "counter", NULL},
    [TG_M_REJECTED_UNAVAILABLE] = {"tollgate_deliveries_rejected_total",
                                   "reason=\"redis_unavailable\"", "counter", NULL},
    [TG_M_REDIS_ERRORS] = {"tollgate_redis_errors_total", "", "counter",
                           "Redis commands that failed (error reply, disconnect or timeout)."},
    [TG_M_REDIS_TIMEOUTS] = {"tollgate_redis_timeouts_total", "", "counter",
                             "Redis commands that got no answer within limits.redis_timeout."},
    [TG_M_REDIS_RECONNECTS] = {"tollgate_redis_reconnects_total", "", "counter",
                               "Redis connections re-established after a failure."},
    [TG_M_HTTP_IN_FLIGHT] = {"tollgate_http_requests_in_flight", "", "gauge",
                             "Requests received and not yet answered."},
    [TG_M_HTTP_CONNECTIONS] = {"tollgate_http_connections", "", "gauge",
                               "Open client connections."},
    [TG_M_CONFIG_RELOADS] = {"tollgate_config_reloads_total", "result=\"ok\"", "counter",
                             "Configuration reloads by result."},
    [TG_M_CONFIG_RELOAD_FAILURES] = {"tollgate_config_reloads_total", "result=\"refused\"",
                                     "counter", NULL},
    [TG_M_EVENTS_PROCESSED] = {"tollgate_events_total", "result=\"processed\"", "counter",
                               "Queued events handled by workers, by result."},
    [TG_M_EVENTS_FAILED] = {"tollgate_events_total", "result=\"failed\"", "counter", NULL},
    [TG_M_EVENTS_DEAD] = {"tollgate_events_total", "result=\"dead_lettered\"", "counter", NULL},
    [TG_M_EVENTS_CLAIMED] = {"tollgate_events_total", "result=\"claimed\"", "counter", NULL},
    [TG_M_DECISION_SKIP] = {"tollgate_decisions_total", "verdict=\"skip\"", "counter",
                            "Pipeline decisions by verdict."},
    [TG_M_DECISION_BLOCK] = {"tollgate_decisions_total", "verdict=\"block\"", "counter", NULL},
    [TG_M_DECISION_NEEDS_APPROVAL] = {"tollgate_decisions_total", "verdict=\"needs_approval\"",
                                      "counter", NULL},
    [TG_M_DECISION_DEPLOY] = {"tollgate_decisions_total", "verdict=\"deploy\"", "counter", NULL},
    [TG_M_TRIGGERS_SENT] = {"tollgate_triggers_total", "result=\"triggered\"", "counter",
                            "Downstream trigger outcomes."},
    [TG_M_TRIGGERS_FAILED] = {"tollgate_triggers_total", "result=\"failed\"", "counter", NULL},
    [TG_M_TRIGGERS_RETRIED] = {"tollgate_triggers_total", "result=\"retried\"", "counter", NULL},
    [TG_M_TRIGGERS_SUPERSEDED] = {"tollgate_triggers_total", "result=\"superseded\"", "counter",
                                  NULL},
    [TG_M_TRIGGERS_UNKNOWN] = {"tollgate_triggers_total", "result=\"unknown\"", "counter", NULL},
    [TG_M_AUDIT_RECORDS] = {"tollgate_audit_records_total", "", "counter",
                            "Audit records appended."},
    [TG_M_AUDIT_FAILURES] = {"tollgate_audit_failures_total", "", "counter",
                             "Audit appends that failed."},
    [TG_M_AUDIT_PROBES_FAILED] =
        {"tollgate_audit_probes_failed_total", "", "counter",
         "Health probes of a failing audit sink that found it still failing."},
    [TG_M_AUDIT_ARCHIVE_FAILURES] = {"tollgate_audit_archive_failures_total", "", "counter",
                                     "Archive passes that failed (nothing left Redis)."},
    [TG_M_API_DROPPED] = {"tollgate_api_jobs_not_run_total", "reason=\"client_gone\"", "counter",
                          "API and ChatOps requests not run, by reason."},
    [TG_M_API_QUEUE_FULL] = {"tollgate_api_jobs_not_run_total", "reason=\"queue_full\"", "counter",
                             NULL},
    [TG_M_API_QUEUED] = {"tollgate_api_jobs_queued", "", "gauge",
                         "API and ChatOps requests waiting for a pool thread."},
    [TG_M_CONN_REFUSED_PEER] = {"tollgate_connections_refused_total", "reason=\"per_peer_cap\"",
                                "counter", "Connections closed at accept, by reason."},
    [TG_M_CONN_REFUSED_TOTAL] = {"tollgate_connections_refused_total", "reason=\"max_connections\"",
                                 "counter", NULL},
    [TG_M_CONN_IDLE_CLOSED] = {"tollgate_connections_idle_closed_total", "", "counter",
                               "Connections closed for sending no authenticated request in time."},
    [TG_M_CONN_CUT] = {"tollgate_connections_cut_total", "", "counter",
                       "Connections closed for making too many requests without authenticating."},
    [TG_M_REPLAYS_REFUSED] = {"tollgate_replays_refused_total", "", "counter",
                              "Signed requests refused because they were seen before."},
    [TG_M_API_REJECTED_UNAUTHORIZED] =
        {"tollgate_requests_rejected_total", "route=\"api\",reason=\"unauthorized\"", "counter",
         "API and ChatOps requests refused before any work, by route and reason."},
    [TG_M_CHATOPS_REJECTED_UNAUTHORIZED] = {"tollgate_requests_rejected_total",
                                            "route=\"chatops\",reason=\"unauthorized\"", "counter",
                                            NULL},
    [TG_M_API_REJECTED_TOO_LARGE] = {"tollgate_requests_rejected_total",
                                     "route=\"api\",reason=\"too_large\"", "counter", NULL},
    [TG_M_CHATOPS_REJECTED_TOO_LARGE] = {"tollgate_requests_rejected_total",
                                         "route=\"chatops\",reason=\"too_large\"", "counter", NULL},
    [TG_M_DOJO_FORWARDED] = {"tollgate_defectdojo_forwards_total", "result=\"forwarded\"",
                             "counter", "DefectDojo reimport attempts by result."},
    [TG_M_DOJO_FAILED] = {"tollgate_defectdojo_forwards_total", "result=\"failed\"", "counter",
                          NULL},
    [TG_M_DOJO_RETRIED] = {"tollgate_defectdojo_forwards_total", "result=\"retried\"", "counter",
                           NULL},
    [TG_M_DOJO_DEAD] = {"tollgate_defectdojo_forwards_total", "result=\"dead_lettered\"", "counter",
                        NULL},
    [TG_M_DOJO_OUTBOX] = {"tollgate_defectdojo_outbox_depth", "", "gauge",
                          "DefectDojo forward jobs waiting or running (as last seen)."},
    [TG_M_DOJO_DEAD_LETTERS] = {"tollgate_defectdojo_dead_letters", "", "gauge",
                                "DefectDojo forward jobs in the dead-letter list (as last seen)."},
};

static const char *const route_names[TG_ROUTE_COUNT] = {
    "hooks_gitlab", "healthz", "readyz", "metrics", "api", "chatops", "other"};
static const int statuses[] = {200, 201, 202, 204, 400, 401, 403, 404,
                               405, 409, 413, 415, 429, 500, 502, 503};
#define NSTATUS (sizeof statuses / sizeof statuses[0] + 1) /* the last slot counts any other code */
static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define NBUCKET (sizeof bounds / sizeof bounds[0])

static _Atomic int64_t values[TG_M_COUNT];
static _Atomic uint64_t http_requests[TG_ROUTE_COUNT][NSTATUS];
/* One slot per bound plus one for slower answers; the count is their sum, so +Inf always
 * equals it. */
static _Atomic uint64_t http_buckets[TG_ROUTE_COUNT][NBUCKET + 1];
static _Atomic uint64_t http_sum_us[TG_ROUTE_COUNT];

void tg_metrics_inc(enum tg_metric m)
{
    atomic_fetch_add_explicit(&values[m], 1, memory_order_relaxed);
}

void tg_metrics_add(enum tg_metric m, int64_t delta)
{
    atomic_fetch_add_explicit(&values[m], delta, memory_order_relaxed);
}

uint64_t tg_metrics_get(enum tg_metric m)
{
    return (uint64_t)atomic_load_explicit(&values[m], memory_order_relaxed);
}

static size_t status_slot(int status)
{
    for (size_t i = 0; i < NSTATUS - 1; i++)
        if (statuses[i] == status)
            return i;
    return NSTATUS - 1;
}

void tg_metrics_http(enum tg_route route, int status, uint64_t latency_us)
{
    atomic_fetch_add_explicit(&http_requests[route][status_slot(status)], 1, memory_order_relaxed);
    size_t i = 0;
    while (i < NBUCKET && (double)latency_us > bounds[i] * 1e6)
        i++;
    atomic_fetch_add_explicit(&http_buckets[route][i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&http_sum_us[route], latency_us, memory_order_relaxed);
}

static void render_registry(struct tg_buf *out)
{
    for (size_t i = 0; i < TG_M_COUNT; i++) {
        const struct metric_def *d = &defs[i];
        if (d->help)
            tg_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name, d->type);
        tg_buf_printf(out, "%s%s%s%s %lld\n", d->name, *d->labels ? "{" : "", d->labels,
                      *d->labels ? "}" : "",
                      (long long)atomic_load_explicit(&values[i], memory_order_relaxed));
    }
}

static void render_http(struct tg_buf *out)
{
    tg_buf_puts(out,
                "# HELP tollgate_http_requests_total HTTP requests answered, by route and status.\n"
                "# TYPE tollgate_http_requests_total counter\n");
    for (size_t r = 0; r < TG_ROUTE_COUNT; r++)
        for (size_t s = 0; s < NSTATUS; s++) {
            uint64_t v = atomic_load_explicit(&http_requests[r][s], memory_order_relaxed);
            if (v == 0)
                continue;
            if (s == NSTATUS - 1)
                tg_buf_printf(out,
                              "tollgate_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
                              route_names[r], (unsigned long long)v);
            else
                tg_buf_printf(out,
                              "tollgate_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                              route_names[r], statuses[s], (unsigned long long)v);
        }
}

static void render_histogram(struct tg_buf *out)
{
    tg_buf_puts(out, "# HELP tollgate_http_request_duration_seconds Time from request to answer.\n"
                     "# TYPE tollgate_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r < TG_ROUTE_COUNT; r++) {
        uint64_t cum = 0,
                 seen = atomic_load_explicit(&http_buckets[r][NBUCKET], memory_order_relaxed);
        for (size_t i = 0; i < NBUCKET; i++)
            seen += atomic_load_explicit(&http_buckets[r][i], memory_order_relaxed);
        if (seen == 0)
            continue; /* a route never called has no series yet */
        for (size_t i = 0; i < NBUCKET; i++) {
            cum += atomic_load_explicit(&http_buckets[r][i], memory_order_relaxed);
            tg_buf_printf(
                out, "tollgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                route_names[r], bounds[i], (unsigned long long)cum);
        }
        uint64_t count =
            cum + atomic_load_explicit(&http_buckets[r][NBUCKET], memory_order_relaxed);
        tg_buf_printf(
            out, "tollgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
            route_names[r], (unsigned long long)count);
        tg_buf_printf(out, "tollgate_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n",
                      route_names[r],
                      (double)atomic_load_explicit(&http_sum_us[r], memory_order_relaxed) / 1e6);
        tg_buf_printf(out, "tollgate_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                      route_names[r], (unsigned long long)count);
    }
}

void tg_metrics_render(struct tg_buf *out)
{
    render_registry(out);
    render_http(out);
    render_histogram(out);
}
