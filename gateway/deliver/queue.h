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
 * <prefix>seen~h:<SHA-256 hex of the idempotency key> holds the entry id for dedupe_ttl; the
 * enqueue script checks it and adds the entry in one atomic step, so a redelivery racing the
 * original can never be queued twice. An entry a worker queues again (tg_queue_push) carries
 * a key Tollgate made itself, kept as is in <prefix>seen:<key>.
 *
 * This module owns every key above plus <prefix>workers (the consumer group), <prefix>errors
 * and <prefix>dead: nobody else spells them (docs/ARCHITECTURE.md, "Redis keyspace").
 */
#ifndef TG_QUEUE_H
#define TG_QUEUE_H

#include <hiredis.h>
#include <stddef.h>
#include <stdint.h>

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

/* The fixed keys of the queue. */
enum tg_queue_key {
    TG_QK_EVENTS, /* the stream */
    TG_QK_GROUP,  /* the consumer group's name */
    TG_QK_ERRORS, /* hash: entry id -> last failure */
    TG_QK_DEAD,   /* stream of dead letters */
};
/* "<prefix><name>" of key k into out. */
void tg_queue_key(char *out, size_t outlen, const char *prefix, enum tg_queue_key k);

/* The field/value pairs of an entry (field[i] NULL reads as ""), in the order of enum
 * tg_queue_field, into argv/lens (2 * TG_QF_COUNT slots each). Returns 2 * TG_QF_COUNT. */
int tg_queue_pairs(const char **argv, size_t *lens, const char *const *field, const size_t *len);

/* ---- the consumer side (worker threads, blocking connections) ----
 * Workers read in group <prefix>workers as consumer host:pid. An entry is acknowledged only
 * after its outcome is recorded; one that keeps failing stays pending, is claimed again by
 * some worker once idle past queue.claim_idle, and after queue.max_attempts deliveries goes
 * to <prefix>dead with the last failure's reason. <prefix>errors (hash: entry id -> reason)
 * keeps that reason between attempts. */

struct tg_queue_entry {
    char id[64];
    const char *field[TG_QF_COUNT]; /* borrowed from reply; "" when absent */
    size_t len[TG_QF_COUNT];
    long long deliveries; /* 1 for a first read */
    redisReply *reply;    /* owned */
};

void tg_queue_entry_dispose(struct tg_queue_entry *e);

/* Creates the consumer group at the start of the stream if it is missing. 0 or -1. */
int tg_queue_ensure_group(redisContext *c, const char *prefix);
/* The next new entry for this consumer, waiting up to block_ms. 1 got one, 0 none, -1 error. */
int tg_queue_read(redisContext *c, const char *prefix, const char *consumer, int block_ms,
                  struct tg_queue_entry *out);
/* Takes over one entry idle longer than min_idle_ms (from a dead or stuck consumer), with its
 * delivery count. 1 got one, 0 none, -1 error. */
struct tg_queue_claim {
    const char *consumer;
    uint64_t min_idle_ms;
    char *cursor; /* at least 64 bytes, start "0-0": the scan position, carried between calls */
};
int tg_queue_claim(redisContext *c, const char *prefix, const struct tg_queue_claim *q,
                   struct tg_queue_entry *out);
/* Acknowledges an entry and forgets its failure reason. 0 or -1. */
int tg_queue_ack(redisContext *c, const char *prefix, const char *id);
/* Remembers why processing failed this time. 0 or -1. */
int tg_queue_note_failure(redisContext *c, const char *prefix, const char *id, const char *reason);
/* The reason noted for id into out ("" when none). */
void tg_queue_last_failure(redisContext *c, const char *prefix, const char *id, char *out,
                           size_t outlen);
/* Copies the entry to <prefix>dead with reason and delivery count, then acknowledges it. */
int tg_queue_dead_letter(redisContext *c, const char *prefix, const struct tg_queue_entry *e,
                         const char *reason);

/* ---- dead letters, for operators (`tollgate dead`) ----
 * A dead entry holds reason, deliveries, original_id and the queue fields. */
/* Calls fn for each dead entry, oldest first, with its id and its field/value pairs (kv[0],
 * kv[1], ...; nkv strings). Returns how many, or -1 when Redis failed. */
typedef void (*tg_queue_dead_fn)(void *arg, const char *id, const char *const *kv, size_t nkv);
int tg_queue_dead_list(redisContext *c, const char *prefix, tg_queue_dead_fn fn, void *arg);
/* 1 when dead entry id exists, 0 when not, -1 when Redis failed. */
int tg_queue_dead_exists(redisContext *c, const char *prefix, const char *id);
/* Queues dead entry id's fields again (a new stream id into new_id) and removes it from the
 * dead letters. Returns 1 requeued, 0 no such entry, -1 Redis failed. */
int tg_queue_dead_requeue(redisContext *c, const char *prefix, const char *id, char *new_id,
                          size_t idlen);
/* Removes dead entry id. Returns 0, or -1 when Redis failed. */
int tg_queue_dead_drop(redisContext *c, const char *prefix, const char *id);

/* ---- a worker puts an entry back (a parent pipeline re-opened by its child, lifecycle.c) ----
 * The fields of enum tg_queue_field (field[TG_QF_IDEMPOTENCY_KEY] is the fresh key the seen
 * dedupe applies to), queued through the same script as ingest. */
struct tg_queue_push {
    const char *field[TG_QF_COUNT];
    size_t len[TG_QF_COUNT];
    uint64_t dedupe_ttl_ms;
    uint64_t maxlen;
    int outside_key; /* the idempotency key came from outside: its seen key names its hash */
};
/* 1 queued, 0 a duplicate of an entry queued under that key within dedupe_ttl_ms (nothing
 * queued), -1 Redis failed. */
int tg_queue_push(redisContext *c, const char *prefix, const struct tg_queue_push *p);

/* The keys and arguments of one enqueue script call (tg_queue_push's, and ingest's on the
 * loop through its own asynchronous connection). argv/len point into the struct itself. */
#define TG_QUEUE_ENQUEUE_KEYS 3
#define TG_QUEUE_ENQUEUE_ARGC (5 + 2 * TG_QF_COUNT)
struct tg_queue_enqueue {
    const char *argv[TG_QUEUE_ENQUEUE_ARGC];
    size_t len[TG_QUEUE_ENQUEUE_ARGC];
    char seen[600], events[128], inbox[128], ttl[24], maxlen[24];
};
void tg_queue_enqueue_args(struct tg_queue_enqueue *e, const char *prefix,
                           const struct tg_queue_push *p);

/* Lua: KEYS[1] seen key, KEYS[2] events stream, KEYS[3] audit inbox; ARGV[1] dedupe ttl in
 * ms, ARGV[2] stream MAXLEN (approximate), ARGV[3..] the entry's field/value pairs, read by
 * name (their order is the stream's, never the script's concern). Returns {0, new id} or
 * {1, first id}; a duplicate also leaves a note in the audit inbox (action, details JSON),
 * which workers chain. */
extern const char tg_queue_enqueue_lua[];

#endif
