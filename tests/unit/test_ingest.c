/* test_ingest.c -- dedupe keys: Idempotency-Key first, then webhook-id, then a hash. */
#include "http/ingest.h"
#include "unit.h"

#include <string.h>

struct row {
    const char *name;
    const char *idem, *wid, *event, *body;
    int rc;
    const char *want; /* expected key, or NULL to skip */
};

static const struct row rows[] = {
    {"idempotency key wins", "0f3c-uuid", "msg_1", "Pipeline Hook", "{}", 0, "0f3c-uuid"},
    {"webhook-id next", NULL, "msg_1", "Pipeline Hook", "{}", 0, "msg_1"},
    /* python3 -c 'import hashlib; print(hashlib.sha256(b"Pipeline Hook\\n{}").hexdigest())' */
    {"hash of event and body", NULL, NULL, "Pipeline Hook", "{}", 0,
     "2d55aad1e1293e7c61f1850974cbe6744362fad36ea22154dcb74d76705e6354"},
    {"key with space", "a b", NULL, "Push Hook", "{}", -1, NULL},
    {"key with control byte", "a\x01", NULL, "Push Hook", "{}", -1, NULL},
    {"empty key", "", NULL, "Push Hook", "{}", -1, NULL},
};

static int distinct(const char *e1, const char *b1, const char *e2, const char *b2)
{
    char k1[129], k2[129];
    tg_ingest_dedupe_key(NULL, 0, NULL, 0, e1, strlen(e1), b1, strlen(b1), k1);
    tg_ingest_dedupe_key(NULL, 0, NULL, 0, e2, strlen(e2), b2, strlen(b2), k2);
    return strcmp(k1, k2) != 0;
}

int main(void)
{
    char key[129], long_key[200];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        int rc = tg_ingest_dedupe_key(r->idem, r->idem ? strlen(r->idem) : 0, r->wid,
                                      r->wid ? strlen(r->wid) : 0, r->event, strlen(r->event),
                                      r->body, strlen(r->body), key);
        UNIT_CHECK(r->name, rc == r->rc);
        if (r->want)
            UNIT_STREQ(r->name, key, r->want);
    }
    memset(long_key, 'k', 128);
    UNIT_CHECK("128 chars accepted",
               tg_ingest_dedupe_key(long_key, 128, NULL, 0, "e", 1, "{}", 2, key) == 0);
    UNIT_CHECK("129 chars refused",
               tg_ingest_dedupe_key(long_key, 129, NULL, 0, "e", 1, "{}", 2, key) == -1);
    UNIT_CHECK("event type is part of the hash", distinct("Pipeline Hook", "{}", "Job Hook", "{}"));
    UNIT_CHECK("body is part of the hash",
               distinct("Pipeline Hook", "{\"a\":1}", "Pipeline Hook", "{\"a\":2}"));
    UNIT_CHECK("boundary is unambiguous", distinct("Pipeline Hook", "x{}", "Pipeline Hookx", "{}"));
    return unit_summary("test_ingest");
}
