/* signature.c -- Standard Webhooks signature verification (webhook-id/-timestamp/-signature). */
#include "http/signature.h"
#include "base/crypto.h"
#include "base/util.h"

#include <string.h>

struct match_ctx {
    const unsigned char *mac;
    int saw_v1;
};

int tg_signature_each(const char *header, size_t len, tg_sig_entry_fn fn, void *ctx)
{
    size_t i = 0;
    while (i < len) {
        while (i < len && header[i] == ' ')
            i++;
        size_t start = i;
        while (i < len && header[i] != ' ')
            i++;
        if (i == start)
            break;
        const char *entry = header + start, *comma = memchr(entry, ',', i - start);
        int rc = comma ? fn(ctx, entry, (size_t)(comma - entry), comma + 1,
                            (size_t)(header + i - comma - 1))
                       : fn(ctx, "", 0, entry, i - start);
        if (rc)
            return rc;
    }
    return 0;
}

static int match_entry(void *ctx_, const char *version, size_t vlen, const char *value, size_t len)
{
    struct match_ctx *ctx = ctx_;
    unsigned char sig[64];
    if (vlen != 2 || memcmp(version, "v1", 2) != 0)
        return 0;
    long n = tg_base64_decode(value, len, sig, sizeof sig);
    if (n < 0)
        return 0;
    ctx->saw_v1 = 1;
    return tg_ct_equal(sig, (size_t)n, ctx->mac, TG_SHA256_LEN);
}

static int valid_id(const char *id, size_t len)
{
    if (len == 0 || len > 256)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (id[i] == '.' || (unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7f)
            return 0;
    return 1;
}

static int parse_timestamp(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0 || len > 12)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

enum tg_sig_result tg_signature_verify(const struct tg_sig_input *in)
{
    uint64_t ts;
    unsigned char mac[TG_SHA256_LEN];
    if (in->id == NULL || in->timestamp == NULL || in->header == NULL)
        return TG_SIG_MISSING;
    if (!valid_id(in->id, in->idlen) || parse_timestamp(in->timestamp, in->timestamplen, &ts))
        return TG_SIG_MALFORMED;
    uint64_t skew = ts > in->now_s ? ts - in->now_s : in->now_s - ts;
    if (skew > in->tolerance_s)
        return TG_SIG_STALE;
    const struct tg_bytes parts[] = {{in->id, in->idlen},
                                     {".", 1},
                                     {in->timestamp, in->timestamplen},
                                     {".", 1},
                                     {in->body ? in->body : "", in->bodylen}};
    tg_hmac_sha256((struct tg_bytes){in->key, in->keylen}, parts, 5, mac);
    struct match_ctx ctx = {mac, 0};
    if (tg_signature_each(in->header, in->headerlen, match_entry, &ctx))
        return TG_SIG_OK;
    return ctx.saw_v1 ? TG_SIG_MISMATCH : TG_SIG_MALFORMED;
}

const char *tg_signature_reason(enum tg_sig_result r)
{
    switch (r) {
    case TG_SIG_OK:
        return "signature valid";
    case TG_SIG_MISSING:
        return "webhook-id, webhook-timestamp and webhook-signature are required";
    case TG_SIG_MALFORMED:
        return "webhook signature headers are malformed";
    case TG_SIG_STALE:
        return "webhook-timestamp is outside the allowed window";
    case TG_SIG_MISMATCH:
        return "no webhook-signature entry matches";
    }
    return "unknown";
}
