/* reports_hash.c -- SipHash-2-4 and an open-addressing set of 64-bit keys for the reports.
 *
 * Identity keys (duplicates) and SARIF rule ids are kept as keyed 64-bit hashes, so memory
 * is per finding, not per byte, and a crafted report cannot aim collisions at the table:
 * the key is random per parser.
 */
#include "decide/reports_impl.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_round(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = ROTL(v[1], 13);
    v[1] ^= v[0];
    v[0] = ROTL(v[0], 32);
    v[2] += v[3];
    v[3] = ROTL(v[3], 16);
    v[3] ^= v[2];
    v[0] += v[3];
    v[3] = ROTL(v[3], 21);
    v[3] ^= v[0];
    v[2] += v[1];
    v[1] = ROTL(v[1], 17);
    v[1] ^= v[2];
    v[2] = ROTL(v[2], 32);
}

static void sip_block(uint64_t v[4], uint64_t m)
{
    v[3] ^= m;
    sip_round(v);
    sip_round(v);
    v[0] ^= m;
}

uint64_t rp_siphash(const uint64_t key[2], const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t v[4] = {key[0] ^ 0x736f6d6570736575ULL, key[1] ^ 0x646f72616e646f6dULL,
                     key[0] ^ 0x6c7967656e657261ULL, key[1] ^ 0x7465646279746573ULL};
    uint64_t m;
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        memcpy(&m, s + i, 8);
        sip_block(v, m);
    }
    m = (uint64_t)n << 56;
    for (size_t j = 0; i + j < n; j++)
        m |= (uint64_t)s[i + j] << (8 * j);
    sip_block(v, m);
    v[2] ^= 0xff;
    for (int r = 0; r < 4; r++)
        sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

void rp_hmap_init(struct rp_hmap *m, int with_vals)
{
    memset(m, 0, sizeof *m);
    m->cap = 16;
    m->keys = tg_xcalloc(m->cap, sizeof *m->keys);
    m->vals = with_vals ? tg_xcalloc(m->cap, sizeof *m->vals) : NULL;
}

void rp_hmap_dispose(struct rp_hmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

void rp_hmap_clear(struct rp_hmap *m)
{
    memset(m->keys, 0, m->cap * sizeof *m->keys);
    m->n = 0;
}

/* 0 marks an empty slot, so the key 0 is stored as 1 (a 2^-64 merge, harmless). */
static size_t find(const struct rp_hmap *m, uint64_t key)
{
    size_t i = (size_t)key & (m->cap - 1);
    while (m->keys[i] != 0 && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static void grow(struct rp_hmap *m)
{
    struct rp_hmap old = *m;
    m->cap *= 2;
    m->keys = tg_xcalloc(m->cap, sizeof *m->keys);
    m->vals = old.vals ? tg_xcalloc(m->cap, sizeof *m->vals) : NULL;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.keys[i] == 0)
            continue;
        size_t j = find(m, old.keys[i]);
        m->keys[j] = old.keys[i];
        if (m->vals)
            m->vals[j] = old.vals[i];
    }
    free(old.keys);
    free(old.vals);
}

int rp_hmap_put(struct rp_hmap *m, uint64_t key, uint32_t val, int overwrite)
{
    key = key ? key : 1;
    size_t i = find(m, key);
    int fresh = m->keys[i] == 0;
    if (fresh) {
        m->keys[i] = key;
        m->n++;
    }
    if (m->vals && (fresh || overwrite))
        m->vals[i] = val;
    if (fresh && m->n * 2 > m->cap)
        grow(m);
    return fresh;
}

int rp_hmap_get(const struct rp_hmap *m, uint64_t key, uint32_t *val)
{
    key = key ? key : 1;
    size_t i = find(m, key);
    if (m->keys[i] == 0)
        return 0;
    if (val && m->vals)
        *val = m->vals[i];
    return 1;
}
