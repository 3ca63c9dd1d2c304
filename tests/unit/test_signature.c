/* test_signature.c -- Standard Webhooks verification against the published test vectors. */
#include "base/crypto.h"
#include "http/signature.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

/* standard-webhooks/standard-webhooks: libraries/go/webhook_test.go TestWebhookSign. */
#define KEY_B64 "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define MSG_ID  "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define TS      "1614265330"
#define BODY    "{\"test\": 2432232314}"
#define GOOD    "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

struct row {
    const char *name;
    const char *id, *ts, *header, *body;
    unsigned long long now;
    enum tg_sig_result want;
};

static const struct row rows[] = {
    {"vector", MSG_ID, TS, GOOD, BODY, 1614265330, TG_SIG_OK},
    {"vector within window", MSG_ID, TS, GOOD, BODY, 1614265330 + 300, TG_SIG_OK},
    {"stale by 301s", MSG_ID, TS, GOOD, BODY, 1614265330 + 301, TG_SIG_STALE},
    {"future by 301s", MSG_ID, TS, GOOD, BODY, 1614265330 - 301, TG_SIG_STALE},
    {"last char changed", MSG_ID, TS, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", BODY,
     1614265330, TG_SIG_MISMATCH},
    {"other signature", MSG_ID, TS, "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=", BODY,
     1614265330, TG_SIG_MISMATCH},
    {"rotation list", MSG_ID, TS,
     "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= "
     "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= " GOOD
     " v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
     BODY, 1614265330, TG_SIG_OK},
    {"body changed", MSG_ID, TS, GOOD, "{\"test\": 2432232315}", 1614265330, TG_SIG_MISMATCH},
    {"id changed", "msg_p5jXN8AQM9LWM0D4loKWxJeK", TS, GOOD, BODY, 1614265330, TG_SIG_MISMATCH},
    {"only v2", MSG_ID, TS, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", BODY, 1614265330,
     TG_SIG_MALFORMED},
    {"no comma", MSG_ID, TS, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", BODY, 1614265330,
     TG_SIG_MALFORMED},
    {"bad base64", MSG_ID, TS, "v1,!!!!", BODY, 1614265330, TG_SIG_MALFORMED},
    {"empty header", MSG_ID, TS, "", BODY, 1614265330, TG_SIG_MALFORMED},
    {"dot in id", "msg.1", TS, GOOD, BODY, 1614265330, TG_SIG_MALFORMED},
    {"timestamp not a number", MSG_ID, "16142653x0", GOOD, BODY, 1614265330, TG_SIG_MALFORMED},
    {"missing id", NULL, TS, GOOD, BODY, 1614265330, TG_SIG_MISSING},
    {"missing timestamp", MSG_ID, NULL, GOOD, BODY, 1614265330, TG_SIG_MISSING},
    {"missing signature", MSG_ID, TS, NULL, BODY, 1614265330, TG_SIG_MISSING},
};

static size_t count_entries(const char *h)
{
    size_t n = 0;
    for (const char *p = h; *p;) {
        while (*p == ' ')
            p++;
        if (*p)
            n++;
        while (*p && *p != ' ')
            p++;
    }
    return n;
}

static int count_cb(void *ctx, const char *v, size_t vl, const char *s, size_t sl)
{
    (void)v, (void)vl, (void)s, (void)sl;
    (*(size_t *)ctx)++;
    return 0;
}

int main(void)
{
    unsigned char key[64];
    long keylen = tg_base64_decode(KEY_B64, strlen(KEY_B64), key, sizeof key);
    UNIT_CHECK("key decodes to 24 bytes", keylen == 24);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        struct tg_sig_input in = {
            .key = key,
            .keylen = (size_t)keylen,
            .id = r->id,
            .idlen = r->id ? strlen(r->id) : 0,
            .timestamp = r->ts,
            .timestamplen = r->ts ? strlen(r->ts) : 0,
            .header = r->header,
            .headerlen = r->header ? strlen(r->header) : 0,
            .body = r->body,
            .bodylen = strlen(r->body),
            .now_s = r->now,
            .tolerance_s = 300,
        };
        UNIT_CHECK(r->name, tg_signature_verify(&in) == r->want);
        if (r->header) {
            size_t n = 0;
            tg_signature_each(r->header, strlen(r->header), count_cb, &n);
            UNIT_CHECK(r->name, n == count_entries(r->header));
        }
    }
    return unit_summary("test_signature");
}
