/* fuzz_signature.c -- webhook-signature header parsing and verification on arbitrary input:
 * the first line of the input is the header, the rest the body. */
#include "http/signature.h"

#include <stdint.h>
#include <string.h>

static int count(void *ctx, const char *v, size_t vl, const char *s, size_t sl)
{
    (void)v, (void)s;
    *(size_t *)ctx += vl + sl;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char key[24] = "0123456789abcdefghijklm";
    const char *p = (const char *)data, *nl = memchr(p, '\n', size);
    size_t hlen = nl ? (size_t)(nl - p) : size, n = 0;
    tg_signature_each(p, hlen, count, &n);
    struct tg_sig_input in = {
        .key = key,
        .keylen = sizeof key,
        .id = "msg_1",
        .idlen = 5,
        .timestamp = "1614265330",
        .timestamplen = 10,
        .header = p,
        .headerlen = hlen,
        .body = nl ? nl + 1 : "",
        .bodylen = nl ? size - hlen - 1 : 0,
        .now_s = 1614265330,
        .tolerance_s = 300,
    };
    enum tg_sig_result r = tg_signature_verify(&in);
    (void)tg_signature_reason(r);
    return 0;
}
