/* test_crypto.c -- constant-time compare, SHA-256, HMAC and base64 against known values. */
#include "base/crypto.h"
#include "unit.h"

#include <string.h>

struct eq_row {
    const char *name, *a, *b;
    int want;
};

static const struct eq_row eq_rows[] = {
    {"equal", "s3cret-token", "s3cret-token", 1},
    {"last byte differs", "s3cret-token", "s3cret-tokem", 0},
    {"first byte differs", "s3cret-token", "t3cret-token", 0},
    {"prefix", "s3cret-token", "s3cret", 0},
    {"longer", "s3cret", "s3cret-token", 0},
    {"both empty", "", "", 1},
    {"one empty", "", "x", 0},
};

struct hmac_row {
    const char *name, *key, *msg, *hex;
};

/* RFC 4231 test case 2, the Slack documentation example (notes/chatops-audit.md 1.2), and a
 * key longer than the block size (which HMAC hashes first; value from Python's hmac). */
static const struct hmac_row hmac_rows[] = {
    {"rfc4231 case 2", "Jefe", "what do ya want for nothing?",
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
    {"slack example", "8f742231b10e8888abcd99yyyzzz85a5",
     "v0:1531420618:token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
     "channel_id=G8PSS9T3V"
     "&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
     "response_url="
     "https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%"
     "2F96rGlfmibIGlgcZRskXaIFfN&trigger_id="
     "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
     "a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"},
    {"long key", "0123456789012345678901234567890123456789012345678901234567890123456789", "m",
     "a7e395b7f3345b0a557a861a727f747c16533e241f4cc3bbe3424e51ef1c36eb"},
};

struct b64_row {
    const char *name, *in;
    long want_len;
};

static const struct b64_row b64_rows[] = {
    {"padded", "Zm9vYmFy", 6}, {"one pad", "Zm9vYmE=", 5},   {"two pads", "Zm9vYg==", 4},
    {"unpadded", "Zm9vYg", 4}, {"bad char", "Zm9v*mFy", -1}, {"bad length", "Zm9vY", -1},
    {"empty", "", 0},
};

int main(void)
{
    char hex[65];
    unsigned char mac[32], out[64];
    for (size_t i = 0; i < sizeof eq_rows / sizeof eq_rows[0]; i++) {
        const struct eq_row *r = &eq_rows[i];
        UNIT_CHECK(r->name, tg_ct_equal(r->a, strlen(r->a), r->b, strlen(r->b)) == r->want);
    }
    tg_sha256_hex("", 0, hex);
    UNIT_STREQ("sha256 empty", hex,
               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    for (size_t i = 0; i < sizeof hmac_rows / sizeof hmac_rows[0]; i++) {
        const struct hmac_row *r = &hmac_rows[i];
        const struct tg_bytes key = {r->key, strlen(r->key)};
        const struct tg_bytes parts[] = {{r->msg, strlen(r->msg)}};
        tg_hmac_sha256(key, parts, 1, mac);
        tg_hex_encode(mac, sizeof mac, hex);
        UNIT_STREQ(r->name, hex, r->hex);
        /* the same MAC over the message split in two parts */
        size_t half = strlen(r->msg) / 2;
        const struct tg_bytes parts2[] = {{r->msg, half}, {r->msg + half, strlen(r->msg) - half}};
        unsigned char mac2[32];
        tg_hmac_sha256(key, parts2, 2, mac2);
        UNIT_CHECK(r->name, memcmp(mac, mac2, 32) == 0);
    }
    for (size_t i = 0; i < sizeof b64_rows / sizeof b64_rows[0]; i++) {
        const struct b64_row *r = &b64_rows[i];
        long n = tg_base64_decode(r->in, strlen(r->in), out, sizeof out);
        UNIT_CHECK(r->name, n == r->want_len);
        if (n > 0) {
            char enc[128];
            tg_base64_encode(out, (size_t)n, enc);
            UNIT_CHECK(r->name, strncmp(enc, r->in, strlen(r->in)) == 0);
        }
    }
    UNIT_CHECK("decode too small", tg_base64_decode("Zm9vYmFy", 8, out, 5) == -1);
    return unit_summary("test_crypto");
}
