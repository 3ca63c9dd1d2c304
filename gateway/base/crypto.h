/* crypto.h -- SHA-256, HMAC-SHA256, constant-time compare and base64/hex, over OpenSSL's EVP.
 *
 * Every secret comparison in Tollgate goes through tg_ct_equal. Functions here keep no state
 * and are safe from any thread.
 */
#ifndef TG_CRYPTO_H
#define TG_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define TG_SHA256_LEN     32
#define TG_SHA256_HEX_LEN 64

/* Constant-time equality of two byte strings of possibly different lengths: both sides are
 * hashed first, so neither the position of the first difference nor the secret's length
 * leaks through timing. Returns 1 when equal. */
int tg_ct_equal(const void *a, size_t alen, const void *b, size_t blen);
/* Constant-time equality of two SHA-256 digests. */
int tg_ct_digest_equal(const unsigned char a[TG_SHA256_LEN], const unsigned char b[TG_SHA256_LEN]);

/* Incremental SHA-256; a context lives on the caller's stack. */
struct tg_sha256 {
    void *md; /* EVP_MD_CTX */
};
void tg_sha256_init(struct tg_sha256 *h);
void tg_sha256_update(struct tg_sha256 *h, const void *p, size_t n);
void tg_sha256_final(struct tg_sha256 *h, unsigned char out[TG_SHA256_LEN]);

void tg_sha256(const void *p, size_t n, unsigned char out[TG_SHA256_LEN]);
/* Lower-case hex digest into out (65 bytes with the NUL). */
void tg_sha256_hex(const void *p, size_t n, char out[TG_SHA256_HEX_LEN + 1]);

/* A span of bytes (borrowed). */
struct tg_bytes {
    const void *p;
    size_t n;
};

/* HMAC-SHA256 under key over the concatenation of nparts spans. */
void tg_hmac_sha256(struct tg_bytes key, const struct tg_bytes *parts, size_t nparts,
                    unsigned char out[TG_SHA256_LEN]);

void tg_hex_encode(const unsigned char *p, size_t n, char *out); /* out: 2n+1 bytes */
/* Standard base64 with padding; out needs 4*ceil(n/3)+1 bytes. Returns the length written. */
size_t tg_base64_encode(const unsigned char *p, size_t n, char *out);
/* Strict standard base64 (padding optional). Returns the decoded length, or -1 on bad input
 * or when out (outcap bytes) is too small. */
long tg_base64_decode(const char *s, size_t n, unsigned char *out, size_t outcap);

#endif
