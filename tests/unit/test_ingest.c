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

static h2o_iovec_t iov(const char *s)
{
    return s ? h2o_iovec_init(s, strlen(s)) : h2o_iovec_init(NULL, 0);
}

static int key_of(const char *idem, const char *wid, const char *event, const char *body,
                  char key[129])
{
    struct tg_delivery_ids ids = {iov(idem), iov(wid), iov(event), iov(body)};
    return tg_ingest_dedupe_key(&ids, key);
}

static int distinct(const char *e1, const char *b1, const char *e2, const char *b2)
{
    char k1[129], k2[129];
    key_of(NULL, NULL, e1, b1, k1);
    key_of(NULL, NULL, e2, b2, k2);
    return strcmp(k1, k2) != 0;
}

int main(void)
{
    char key[129], long_key[200];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        int rc = key_of(r->idem, r->wid, r->event, r->body, key);
        UNIT_CHECK(r->name, rc == r->rc);
        if (r->want)
            UNIT_STREQ(r->name, key, r->want);
    }
    memset(long_key, 'k', 128);
    UNIT_CHECK("128 chars accepted",
               tg_ingest_dedupe_key(&(struct tg_delivery_ids){h2o_iovec_init(long_key, 128),
                                                              iov(NULL), iov("e"), iov("{}")},
                                    key) == 0);
    UNIT_CHECK("129 chars refused",
               tg_ingest_dedupe_key(&(struct tg_delivery_ids){h2o_iovec_init(long_key, 129),
                                                              iov(NULL), iov("e"), iov("{}")},
                                    key) == -1);
    UNIT_CHECK("event type is part of the hash", distinct("Pipeline Hook", "{}", "Job Hook", "{}"));
    UNIT_CHECK("body is part of the hash",
               distinct("Pipeline Hook", "{\"a\":1}", "Pipeline Hook", "{\"a\":2}"));
    UNIT_CHECK("boundary is unambiguous", distinct("Pipeline Hook", "x{}", "Pipeline Hookx", "{}"));
    return unit_summary("test_ingest");
}
