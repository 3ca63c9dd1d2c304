/* metrics.h -- the process's Prometheus registry: counters, gauges and one latency histogram.
 *
 * The registry is a process global of atomics (listed in main.c), so any thread counts
 * without locks. Adding a metric is one enum value here and one row in metrics.c's table.
 */
#ifndef TG_METRICS_H
#define TG_METRICS_H

#include "base/buf.h"

#include <stdint.h>

enum tg_metric {
    TG_M_DELIVERIES_ACCEPTED,
    TG_M_DELIVERIES_DUPLICATE,
    TG_M_DELIVERIES_IGNORED,
    TG_M_REJECTED_UNAUTHORIZED,
    TG_M_REJECTED_BAD_SIGNATURE,
    TG_M_REJECTED_MEDIA_TYPE,
    TG_M_REJECTED_TOO_LARGE,
    TG_M_REJECTED_BAD_REQUEST,
    TG_M_REJECTED_UNAVAILABLE,
    TG_M_REDIS_ERRORS,
    TG_M_REDIS_TIMEOUTS,
    TG_M_REDIS_RECONNECTS,
    TG_M_HTTP_IN_FLIGHT,   /* gauge */
    TG_M_HTTP_CONNECTIONS, /* gauge */
    TG_M_CONFIG_RELOADS,
    TG_M_CONFIG_RELOAD_FAILURES,
    TG_M_EVENTS_PROCESSED,
    TG_M_EVENTS_FAILED,
    TG_M_EVENTS_DEAD,
    TG_M_EVENTS_CLAIMED,
    TG_M_DECISION_SKIP,
    TG_M_DECISION_BLOCK,
    TG_M_DECISION_NEEDS_APPROVAL,
    TG_M_DECISION_DEPLOY,
    TG_M_TRIGGERS_SENT,
    TG_M_TRIGGERS_FAILED,
    TG_M_TRIGGERS_RETRIED,
    TG_M_TRIGGERS_SUPERSEDED,
    TG_M_TRIGGERS_UNKNOWN,
    TG_M_AUDIT_RECORDS,
    TG_M_AUDIT_FAILURES,
    TG_M_AUDIT_PROBES_FAILED,
    TG_M_AUDIT_ARCHIVE_FAILURES,
    TG_M_API_DROPPED,        /* the client went away before a pool thread picked the job up */
    TG_M_API_QUEUE_FULL,     /* answered 503: the lane's queue was full */
    TG_M_API_QUEUED,         /* gauge: API/ChatOps requests waiting for a pool thread */
    TG_M_CONN_REFUSED_PEER,  /* closed at accept: the peer holds limits.max_connections_per_peer */
    TG_M_CONN_REFUSED_TOTAL, /* closed at accept: limits.max_connections reached */
    TG_M_CONN_IDLE_CLOSED, /* closed: no authenticated request within limits.unauthenticated_idle */
    TG_M_REPLAYS_REFUSED,  /* a signed request seen before (Slack nonce, signed webhook-id) */
    TG_M_CONN_CUT,         /* closed: too many requests without an authenticated one */
    TG_M_API_REJECTED_UNAUTHORIZED, /* API and ChatOps refusals: not webhook deliveries */
    TG_M_CHATOPS_REJECTED_UNAUTHORIZED,
    TG_M_API_REJECTED_TOO_LARGE,
    TG_M_CHATOPS_REJECTED_TOO_LARGE,
    TG_M_DOJO_FORWARDED, /* DefectDojo forwards (forward/), by result */
    TG_M_DOJO_FAILED,
    TG_M_DOJO_RETRIED,
    TG_M_DOJO_DEAD,
    TG_M_DOJO_OUTBOX,       /* gauge: forward jobs waiting or running (Redis-wide) */
    TG_M_DOJO_DEAD_LETTERS, /* gauge: forward jobs in the dead-letter list */
    TG_M_COUNT
};

/* Routes that get their own label on the HTTP metrics. */
enum tg_route {
    TG_ROUTE_HOOKS,
    TG_ROUTE_HEALTHZ,
    TG_ROUTE_READYZ,
    TG_ROUTE_METRICS,
    TG_ROUTE_API,
    TG_ROUTE_CHATOPS,
    TG_ROUTE_OTHER,
    TG_ROUTE_COUNT
};

void tg_metrics_inc(enum tg_metric m);
void tg_metrics_add(enum tg_metric m, int64_t delta); /* gauges go down with a negative delta */
uint64_t tg_metrics_get(enum tg_metric m);
/* Counts one answered request: its route, status and latency in microseconds. */
void tg_metrics_http(enum tg_route route, int status, uint64_t latency_us);
/* Appends the whole registry in Prometheus text format 0.0.4. */
void tg_metrics_render(struct tg_buf *out);

#endif
