/* queue.c -- the durable event queue in Redis (layout drawn in queue.h). */
#include "queue.h"

const char *const tg_queue_field_names[TG_QF_COUNT] = {
    "event", "webhook", "idempotency_key", "webhook_uuid", "event_uuid",
    "instance", "received_at", "remote", "body",
};

const char tg_queue_enqueue_lua[] =
    "local id = redis.call('GET', KEYS[1])\n"
    "if id then return {1, id} end\n"
    "id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', unpack(ARGV, 3))\n"
    "redis.call('SET', KEYS[1], id, 'PX', ARGV[1])\n"
    "return {0, id}\n";
