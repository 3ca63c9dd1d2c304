/* ingest.h -- POST /hooks/gitlab: authenticate, validate, dedupe and enqueue a delivery.
 *
 * Answers 202 only after Redis confirmed the entry (or recognised a duplicate); every other
 * path answers with the reason and queues nothing. Runs on the loop threads.
 */
#ifndef TG_INGEST_H
#define TG_INGEST_H

#include "base/config.h"
#include "http/server.h"

#include <stddef.h>

/* Index of the enqueue script among the scripts given to tg_server_new. */
#define TG_INGEST_SCRIPT 0

struct tg_ingest;

struct tg_tally;

/* Routes /hooks/gitlab to the ingest handler. config and tally (where refused and ignored
 * deliveries are counted for the audit trail) are borrowed and must outlive the server;
 * free with tg_ingest_free after the server stopped. */
struct tg_ingest *tg_ingest_new(struct tg_server *s, struct tg_config_holder *config,
                                struct tg_tally *tally);
void tg_ingest_free(struct tg_ingest *in);

/* What names a delivery; base NULL for an absent header. */
struct tg_delivery_ids {
    h2o_iovec_t idempotency_key; /* Idempotency-Key */
    h2o_iovec_t webhook_id;      /* webhook-id (Standard Webhooks) */
    h2o_iovec_t event;           /* X-Gitlab-Event */
    h2o_iovec_t body;
};

/* The dedupe key of a delivery into out (at most 129 bytes with the NUL): the
 * Idempotency-Key if present, else webhook-id, else the hex SHA-256 of event "\n" body.
 * Returns 0, or -1 when a given key is not 1-128 printable characters. */
int tg_ingest_dedupe_key(const struct tg_delivery_ids *ids, char out[129]);

#endif
