/* worker.h -- the threads that consume the queue: new events, stale claims, due retries,
 * expired trigger leases.
 *
 * Each thread owns a blocking Redis connection (reconnected with backoff), a GitLab client
 * and an audit writer, and takes a reference to the current config for each unit of work,
 * so a reload applies from the next event on.
 */
#ifndef TG_WORKER_H
#define TG_WORKER_H

#include "base/config.h"

struct tg_workers;

/* Starts n threads (n may be 0: ingest only). config is borrowed and must outlive them. */
struct tg_workers *tg_workers_start(struct tg_config_holder *config, int n);
/* Asks every thread to finish its current unit of work and joins them; frees. NULL no-op. */
void tg_workers_stop(struct tg_workers *ws);
/* Readiness probe for health.h: NULL when every thread has a working Redis connection. */
const char *tg_workers_probe(void *ws);

#endif
