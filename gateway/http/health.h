/* health.h -- GET /healthz, /readyz and /metrics for orchestrators and Prometheus.
 *
 * /healthz answers 200 while the process serves HTTP; /readyz answers 200 only when every
 * event loop's Redis connection is ready (connected, scripts loaded) and the readiness
 * probes added with tg_health_add_probe pass, else 503 naming what is not ready.
 */
#ifndef TG_HEALTH_H
#define TG_HEALTH_H

#include "http/server.h"

struct tg_health;

/* Returns NULL (with the reason in detail) when ready. */
typedef const char *(*tg_health_probe_fn)(void *data);

struct tg_health *tg_health_new(struct tg_server *s);
void tg_health_free(struct tg_health *h);
/* Adds a readiness condition; data is borrowed. Call before the server starts. */
void tg_health_add_probe(struct tg_health *h, tg_health_probe_fn fn, void *data);

#endif
