/* signature.h -- Standard Webhooks signatures, as GitLab's signing tokens send them.
 *
 * webhook-signature carries one or more space-separated "v1,<base64 HMAC-SHA256>" entries
 * (several during key rotation) over "<webhook-id>.<webhook-timestamp>.<raw body>"; any
 * matching v1 entry verifies, other versions are ignored. Comparisons are constant time.
 */
#ifndef TG_SIGNATURE_H
#define TG_SIGNATURE_H

#include <stddef.h>
#include <stdint.h>

struct tg_sig_input {
    const unsigned char *key; /* decoded from whsec_ */
    size_t keylen;
    const char *id, *timestamp, *header, *body; /* not NUL-terminated; NULL when absent */
    size_t idlen, timestamplen, headerlen, bodylen;
    uint64_t now_s;
    uint64_t tolerance_s; /* |now - timestamp| above this is stale */
};

enum tg_sig_result {
    TG_SIG_OK,
    TG_SIG_MISSING,   /* a header is absent */
    TG_SIG_MALFORMED, /* id, timestamp or every signature entry unparsable */
    TG_SIG_STALE,     /* timestamp outside the tolerance */
    TG_SIG_MISMATCH,  /* well-formed, but no entry matches */
};

enum tg_sig_result tg_signature_verify(const struct tg_sig_input *in);
/* A short fixed description of a result, safe to log and to send back. */
const char *tg_signature_reason(enum tg_sig_result r);

/* Calls fn for each space-separated "version,value" entry of a signature header, in order;
 * entries without a comma are passed with an empty version. Stops early when fn returns
 * non-zero and returns that value; else 0. */
typedef int (*tg_sig_entry_fn)(void *ctx, const char *version, size_t vlen, const char *value,
                               size_t len);
int tg_signature_each(const char *header, size_t len, tg_sig_entry_fn fn, void *ctx);

#endif
