/* queue.h -- the durable event queue in Redis: what ingest writes, what workers read.
 *
 * Stream <prefix>events, one entry per accepted delivery (field order as written):
 *
 *   +-----------------+-------------------------------------------------------------+
 *   | event           | X-Gitlab-Event, e.g. "Pipeline Hook"                        |
 *   | webhook         | name of the configured webhook whose token matched          |
 *   | idempotency_key | Idempotency-Key, else webhook-id, else sha256(event \n body) |
 *   | webhook_uuid    | X-Gitlab-Webhook-UUID ("" when absent)                      |
 *   | event_uuid      | X-Gitlab-Event-UUID                                         |
 *   | instance        | X-Gitlab-Instance                                           |
 *   | received_at     | milliseconds since the epoch                                |
 *   | remote          | the sender's address                                        |
 *   | body            | the raw request body, byte for byte                         |
 *   +-----------------+-------------------------------------------------------------+
 *
 * <prefix>seen:<idempotency key> holds the entry id for dedupe_ttl; the enqueue script
 * checks it and adds the entry in one atomic step, so a redelivery racing the original
 * can never be queued twice.
 */
#ifndef TG_QUEUE_H
#define TG_QUEUE_H

#include <stddef.h>

/* Field names of a stream entry, in the order ingest writes them. */
enum tg_queue_field {
    TG_QF_EVENT,
    TG_QF_WEBHOOK,
    TG_QF_IDEMPOTENCY_KEY,
    TG_QF_WEBHOOK_UUID,
    TG_QF_EVENT_UUID,
    TG_QF_INSTANCE,
    TG_QF_RECEIVED_AT,
    TG_QF_REMOTE,
    TG_QF_BODY,
    TG_QF_COUNT
};
extern const char *const tg_queue_field_names[TG_QF_COUNT];

/* Lua: KEYS[1] seen key, KEYS[2] events stream; ARGV[1] dedupe ttl in ms, ARGV[2] stream
 * MAXLEN (approximate), ARGV[3..] field/value pairs. Returns {0, new id} or {1, first id}. */
extern const char tg_queue_enqueue_lua[];

#endif
