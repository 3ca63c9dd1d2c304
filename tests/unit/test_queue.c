/* test_queue.c -- the queue's keys and the enqueue script's arguments: every field travels as
 * a name/value pair and the script reads fields by name, so reordering enum tg_queue_field
 * cannot make it read the wrong one (the values themselves: test_audit.py's duplicate test). */
#include "deliver/queue.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

/* Every ARGV index the script names is one of the fixed header's (1, 2) or the pair loop's
 * (i, i + 1): a positional index into the pairs would depend on the enum's order. */
static int script_reads_fields_by_name(const char *lua)
{
    for (const char *p = strstr(lua, "ARGV["); p; p = strstr(p + 1, "ARGV[")) {
        const char *ix = p + 5;
        if (strncmp(ix, "1]", 2) && strncmp(ix, "2]", 2) && strncmp(ix, "i]", 2) &&
            strncmp(ix, "i + 1]", 6))
            return 0;
    }
    return 1;
}

static void check_args(int outside_key)
{
    static const char *const values[TG_QF_COUNT] = {[TG_QF_EVENT] = "Pipeline Hook",
                                                    [TG_QF_WEBHOOK] = "default",
                                                    [TG_QF_IDEMPOTENCY_KEY] = "idem-1",
                                                    [TG_QF_WEBHOOK_UUID] = "wu",
                                                    [TG_QF_EVENT_UUID] = "eu",
                                                    [TG_QF_INSTANCE] = "https://gitlab.example",
                                                    [TG_QF_RECEIVED_AT] = "1700000000000",
                                                    [TG_QF_REMOTE] = "10.0.0.1",
                                                    [TG_QF_BODY] = "{}"};
    struct tg_queue_push p = {.dedupe_ttl_ms = 5000, .maxlen = 1000, .outside_key = outside_key};
    struct tg_queue_enqueue e;
    for (int i = 0; i < TG_QF_COUNT; i++) {
        p.field[i] = values[i];
        p.len[i] = strlen(values[i]);
    }
    tg_queue_enqueue_args(&e, "tg:", &p);
    UNIT_STREQ("seen key", e.argv[0],
               outside_key ? "tg:seen~h:" /* sha256("idem-1") */
                             "d05b61bd4b70e0d9a197ac9360f8c24e4eaed5336d31aafd5e16d829c6576df3"
                           : "tg:seen:idem-1");
    UNIT_STREQ("events", e.argv[1], "tg:events");
    UNIT_STREQ("inbox", e.argv[2], "tg:audit:inbox");
    UNIT_STREQ("ttl", e.argv[3], "5000");
    UNIT_STREQ("maxlen", e.argv[4], "1000");
    /* each value sits right after its own name, whatever position the enum gives it */
    for (int i = 5; i + 1 < TG_QUEUE_ENQUEUE_ARGC; i += 2) {
        int f = 0;
        while (f < TG_QF_COUNT && strcmp(e.argv[i], tg_queue_field_names[f]) != 0)
            f++;
        UNIT_CHECK("a field name", f < TG_QF_COUNT);
        if (f < TG_QF_COUNT)
            UNIT_STREQ(tg_queue_field_names[f], e.argv[i + 1], values[f]);
    }
}

int main(void)
{
    char key[64];
    tg_queue_key(key, sizeof key, "tg:", TG_QK_EVENTS);
    UNIT_STREQ("events key", key, "tg:events");
    tg_queue_key(key, sizeof key, "tg:", TG_QK_GROUP);
    UNIT_STREQ("group", key, "tg:workers");
    tg_queue_key(key, sizeof key, "tg:", TG_QK_ERRORS);
    UNIT_STREQ("errors", key, "tg:errors");
    tg_queue_key(key, sizeof key, "tg:", TG_QK_DEAD);
    UNIT_STREQ("dead", key, "tg:dead");
    UNIT_CHECK("the enqueue script reads fields by name",
               script_reads_fields_by_name(tg_queue_enqueue_lua));
    UNIT_CHECK("a positional read is caught", !script_reads_fields_by_name("return ARGV[8]"));
    check_args(1);
    check_args(0);
    return unit_summary("test_queue");
}
