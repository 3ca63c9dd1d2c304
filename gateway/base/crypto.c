/* crypto.c -- SHA-256, HMAC-SHA256, constant-time compare and base64/hex over OpenSSL's EVP. */
#include "base/crypto.h"
#include "base/log.h"
#include "base/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>

#define TG_MODULE "crypto"

/* OpenSSL 3 looks EVP_sha256() up in its provider tables on every use; fetch it once. The
 * fetched method is immutable and shared by every thread. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
    pthread_once(&sha256_once, fetch_sha256);
    return sha256_md ? sha256_md : EVP_sha256();
}

void tg_sha256_init(struct tg_sha256 *h)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, sha256(), NULL) != 1)
        TG_LOG_FATAL("sha256_init", "EVP digest context unavailable");
    h->md = ctx;
}

void tg_sha256_update(struct tg_sha256 *h, const void *p, size_t n)
{
    EVP_DigestUpdate(h->md, p, n);
}

void tg_sha256_final(struct tg_sha256 *h, unsigned char out[TG_SHA256_LEN])
{
    unsigned int len = TG_SHA256_LEN;
    EVP_DigestFinal_ex(h->md, out, &len);
    EVP_MD_CTX_free(h->md);
    h->md = NULL;
}

void tg_sha256(const void *p, size_t n, unsigned char out[TG_SHA256_LEN])
{
    unsigned int len = TG_SHA256_LEN;
    EVP_Digest(p, n, out, &len, sha256(), NULL);
}

void tg_sha256_hex(const void *p, size_t n, char out[TG_SHA256_HEX_LEN + 1])
{
    unsigned char d[TG_SHA256_LEN];
    tg_sha256(p, n, d);
    tg_hex_encode(d, sizeof d, out);
}

int tg_ct_digest_equal(const unsigned char a[TG_SHA256_LEN], const unsigned char b[TG_SHA256_LEN])
{
    return CRYPTO_memcmp(a, b, TG_SHA256_LEN) == 0;
}

int tg_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    unsigned char da[TG_SHA256_LEN], db[TG_SHA256_LEN];
    tg_sha256(a, alen, da);
    tg_sha256(b, blen, db);
    return CRYPTO_memcmp(da, db, TG_SHA256_LEN) == 0 && alen == blen;
}

/* RFC 2104 over two EVP digests, so a message in several parts needs no concatenated copy. */
void tg_hmac_sha256(struct tg_bytes key, const struct tg_bytes *parts, size_t nparts,
                    unsigned char out[TG_SHA256_LEN])
{
    unsigned char k[64] = {0}, pad[64], inner[TG_SHA256_LEN];
    struct tg_sha256 h;
    if (key.n > sizeof k)
        tg_sha256(key.p, key.n, k);
    else
        memcpy(k, key.p, key.n);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ 0x36;
    tg_sha256_init(&h);
    tg_sha256_update(&h, pad, sizeof pad);
    for (size_t i = 0; i < nparts; i++)
        tg_sha256_update(&h, parts[i].p, parts[i].n);
    tg_sha256_final(&h, inner);
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ 0x5c;
    tg_sha256_init(&h);
    tg_sha256_update(&h, pad, sizeof pad);
    tg_sha256_update(&h, inner, sizeof inner);
    tg_sha256_final(&h, out);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
}

void tg_hex_encode(const unsigned char *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

size_t tg_base64_encode(const unsigned char *p, size_t n, char *out)
{
    return (size_t)EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

long tg_base64_decode(const char *s, size_t n, unsigned char *out, size_t outcap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int v = b64val((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outcap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}
