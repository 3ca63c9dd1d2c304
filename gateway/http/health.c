/* health.c -- GET /healthz, /readyz and /metrics. */
#include "http/health.h"
#include "base/buf.h"
#include "http/http.h"
#include "base/metrics.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PROBES 8

struct probe {
    tg_health_probe_fn fn;
    void *data;
};

struct tg_health {
    struct tg_server *server;
    struct probe probes[MAX_PROBES];
    size_t nprobes;
};

static int on_healthz(void *data, h2o_req_t *req)
{
    (void)data;
    tg_http_reply(
        req, TG_ROUTE_HEALTHZ,
        &(struct tg_http_answer){200, "application/json", H2O_STRLIT("{\"status\":\"ok\"}\n")});
    return 0;
}

static int on_readyz(void *data, h2o_req_t *req)
{
    struct tg_health *h = data;
    const char *why = tg_server_redis_ready(h->server)
                          ? NULL
                          : "redis is not connected or its scripts are not loaded";
    for (size_t i = 0; why == NULL && i < h->nprobes; i++)
        why = h->probes[i].fn(h->probes[i].data);
    if (why) {
        tg_http_error(req, TG_ROUTE_READYZ, 503, "not_ready", why);
        return 0;
    }
    tg_http_reply(
        req, TG_ROUTE_READYZ,
        &(struct tg_http_answer){200, "application/json", H2O_STRLIT("{\"status\":\"ready\"}\n")});
    return 0;
}

static int on_metrics(void *data, h2o_req_t *req)
{
    struct tg_buf b;
    (void)data;
    tg_buf_init(&b);
    tg_metrics_render(&b);
    tg_http_reply(req, TG_ROUTE_METRICS,
                  &(struct tg_http_answer){200, "text/plain; version=0.0.4", b.data, b.len});
    tg_buf_dispose(&b);
    return 0;
}

struct tg_health *tg_health_new(struct tg_server *s)
{
    struct tg_health *h = tg_xcalloc(1, sizeof *h);
    h->server = s;
    tg_server_route(s, "/healthz", on_healthz, h);
    tg_server_route(s, "/readyz", on_readyz, h);
    tg_server_route(s, "/metrics", on_metrics, h);
    return h;
}

void tg_health_free(struct tg_health *h)
{
    free(h);
}

void tg_health_add_probe(struct tg_health *h, tg_health_probe_fn fn, void *data)
{
    if (h->nprobes < MAX_PROBES)
        h->probes[h->nprobes++] = (struct probe){fn, data};
}
