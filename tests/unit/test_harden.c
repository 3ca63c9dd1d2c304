/* test_harden.c -- the pieces that keep strangers out: signed Mattermost button contexts,
 * CIDR blocks and forwarded client addresses (trusted_proxies), per-peer connection counts. */
#include "approvals/button_context.h"
#include "base/netaddr.h"
#include "http/peers.h"
#include "base/scrub.h"
#include "unit.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char KEY[TG_BUTTON_KEY_LEN] = {1, 2, 3};
static const unsigned char OTHER[TG_BUTTON_KEY_LEN] = {1, 2, 4};
#define NOW 1800000000LL

static int check(const unsigned char *key, json_t *c, long long now, const char **why)
{
    struct tg_button_click click;
    return tg_button_context_check(key, c, (uint64_t)now, &click, why);
}

static void check_button_contexts(void)
{
    const char *why;
    json_t *c = tg_button_context_new(KEY, "abcabcabcabc", 3, "approve", NOW + 60);
    struct tg_button_click click;
    UNIT_CHECK("own context passes", tg_button_context_check(KEY, c, NOW, &click, &why) == 0);
    UNIT_CHECK("fields read back",
               !click.deny && click.round == 3 && strcmp(click.id, "abcabcabcabc") == 0);
    UNIT_CHECK("other key",
               check(OTHER, c, NOW, &why) == -1 && strcmp(why, "bad context signature") == 0);
    UNIT_CHECK("expired",
               check(KEY, c, NOW + 61, &why) == -1 && strcmp(why, "expired context") == 0);
    static const struct {
        const char *name, *field;
    } alter[] = {{"id altered", "id"},
                 {"action altered", "action"},
                 {"round altered", "round"},
                 {"expiry pushed out", "expires"}};
    json_t *values[] = {json_string("abcabcabcabd"), json_string("deny"), json_integer(4),
                        json_integer(NOW + 999999)};
    for (size_t i = 0; i < 4; i++) {
        json_t *x = json_deep_copy(c);
        json_object_set_new(x, alter[i].field, values[i]);
        UNIT_CHECK(alter[i].name,
                   check(KEY, x, NOW, &why) == -1 && strcmp(why, "bad context signature") == 0);
        json_decref(x);
    }
    /* F1: the forged context, and the same with a guessed sig. */
    json_t *f1 =
        json_pack("{s:s, s:s, s:s}", "id", "abcabcabcabc", "action", "approve", "secret", "-");
    UNIT_CHECK("F1 context",
               check(KEY, f1, NOW, &why) == -1 && strcmp(why, "malformed context") == 0);
    json_object_set_new(f1, "round", json_integer(1));
    json_object_set_new(f1, "expires", json_integer(NOW + 60));
    json_object_set_new(
        f1, "sig", json_string("0000000000000000000000000000000000000000000000000000000000000000"));
    UNIT_CHECK("guessed sig",
               check(KEY, f1, NOW, &why) == -1 && strcmp(why, "bad context signature") == 0);
    UNIT_CHECK("not an object", check(KEY, NULL, NOW, &why) == -1);
    json_t *bad_id = tg_button_context_new(KEY, "ABC;DROP", 1, "approve", NOW + 60);
    UNIT_CHECK("non-hex id refused even when signed", check(KEY, bad_id, NOW, &why) == -1);
    json_decref(bad_id), json_decref(f1), json_decref(c);
}

static void check_cidrs(void)
{
    struct tg_cidr list[3];
    UNIT_CHECK("v4 block", tg_cidr_parse("10.0.0.0/8", &list[0]) == 0);
    UNIT_CHECK("v6 block", tg_cidr_parse("2001:db8::/32", &list[1]) == 0);
    UNIT_CHECK("bare address", tg_cidr_parse("192.0.2.7", &list[2]) == 0 && list[2].bits == 32);
    struct tg_cidr x;
    static const char *const bad[] = {"10.0.0.1/8",  "10.0.0.0/33", "10.0.0.0/",
                                      "10.0.0.0/8x", "300.0.0.1",   "",
                                      "example.com", "::1/129"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        UNIT_CHECK(bad[i], tg_cidr_parse(bad[i], &x) == -1);
    UNIT_CHECK("in v4", tg_cidr_match_text(list, 3, "10.200.3.4"));
    UNIT_CHECK("out v4", !tg_cidr_match_text(list, 3, "11.0.0.1"));
    UNIT_CHECK("in v6", tg_cidr_match_text(list, 3, "2001:db8:1::5"));
    UNIT_CHECK("mapped v4", tg_cidr_match_text(list, 3, "::ffff:10.1.2.3"));
    UNIT_CHECK("exact", tg_cidr_match_text(list, 3, "192.0.2.7") &&
                            !tg_cidr_match_text(list, 3, "192.0.2.8"));
    struct tg_cidr odd;
    UNIT_CHECK("odd prefix", tg_cidr_parse("172.16.0.0/12", &odd) == 0);
    UNIT_CHECK("odd in", tg_cidr_match_text(&odd, 1, "172.31.255.255") &&
                             !tg_cidr_match_text(&odd, 1, "172.32.0.0"));
    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "10.9.9.9", &sin.sin_addr);
    UNIT_CHECK("socket address", tg_cidr_match_sa(list, 3, (struct sockaddr *)&sin));
}

static void check_forwarded(void)
{
    struct tg_cidr t[1];
    char out[64];
    tg_cidr_parse("10.0.0.0/8", &t[0]);
    static const struct {
        const char *name, *xff, *fwd, *want; /* want NULL: -1 */
        enum tg_forwarded_header which;
    } rows[] = {
        {"one hop", "203.0.113.9", NULL, "203.0.113.9", TG_FWD_AUTO},
        {"client spoofs a left entry", "1.1.1.1, 203.0.113.9", NULL, "203.0.113.9", TG_FWD_AUTO},
        {"inner proxies skipped", "203.0.113.9, 10.0.0.2, 10.0.0.3", NULL, "203.0.113.9",
         TG_FWD_AUTO},
        {"all trusted: the leftmost", "10.0.0.5, 10.0.0.2", NULL, "10.0.0.5", TG_FWD_AUTO},
        {"garbage hop", "203.0.113.9, nonsense", NULL, NULL, TG_FWD_AUTO},
        {"absent", NULL, NULL, NULL, TG_FWD_AUTO},
        {"both present, none named: ambiguous", "1.2.3.4", "for=192.0.2.60", NULL, TG_FWD_AUTO},
        {"both present, Forwarded named", "1.2.3.4", "for=192.0.2.60;proto=http;by=203.0.113.43",
         "192.0.2.60", TG_FWD_FORWARDED},
        {"both present, X-Forwarded-For named", "1.2.3.4", "for=192.0.2.60", "1.2.3.4", TG_FWD_XFF},
        {"X-Forwarded-For named, absent", NULL, "for=192.0.2.60", NULL, TG_FWD_XFF},
        {"two headers joined: the proxy's hop is right-most", "6.6.6.6,203.0.113.9,10.0.0.2", NULL,
         "203.0.113.9", TG_FWD_AUTO},
        {"more than 32 hops: the right end still counts",
         "1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,"
         "1.1.1.1,"
         "1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,"
         "1.1.1.1,"
         "1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1,1.1.1.1, 198.51.100.7, "
         "10.0.0.9",
         NULL, "198.51.100.7", TG_FWD_AUTO},
        {"empty right hop", "203.0.113.9,", NULL, NULL, TG_FWD_AUTO},
        {"Forwarded v6 with port", NULL, "for=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17",
         TG_FWD_AUTO},
        {"Forwarded list", NULL, "for=192.0.2.43, for=10.1.1.1", "192.0.2.43", TG_FWD_AUTO},
        {"Forwarded v4 with port", NULL, "For=\"192.0.2.43:1234\"", "192.0.2.43", TG_FWD_AUTO},
        {"Forwarded obfuscated", NULL, "for=_hidden", NULL, TG_FWD_AUTO},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        struct tg_forwarded_query q = {rows[i].xff, rows[i].fwd, rows[i].which, t, 1};
        int rc = tg_forwarded_client(&q, out, sizeof out);
        UNIT_CHECK(rows[i].name,
                   rows[i].want ? rc == 0 && strcmp(out, rows[i].want) == 0 : rc == -1);
    }
}

static void check_scrub(void)
{
    static const struct {
        const char *name, *in, *want; /* want NULL: unchanged */
    } rows[] = {
        {"trigger token in a GitLab error", "HTTP 400: token glptt-0123456789abcdef0123 is invalid",
         "HTTP 400: token glptt-[REDACTED] is invalid"},
        {"personal access token", "glpat-z_sxgtrfAxKr8q1TPY8Y", "glpat-[REDACTED]"},
        {"runner tokens, longer prefix first", "glrtr-abcdefgh12 and glrt-abcdefgh12",
         "glrtr-[REDACTED] and glrt-[REDACTED]"},
        {"deploy, oauth, job, feed, mail, agent, scim, flags",
         "gldt-aaaaaaaaaa gloas-aaaaaaaaaa glcbt-64_aaaaaaaaaa glft-aaaaaaaaaa glimt-aaaaaaaaaa "
         "glagent-aaaaaaaaaa glsoat-aaaaaaaaaa glffct-aaaaaaaaaa",
         "gldt-[REDACTED] gloas-[REDACTED] glcbt-[REDACTED] glft-[REDACTED] glimt-[REDACTED] "
         "glagent-[REDACTED] glsoat-[REDACTED] glffct-[REDACTED]"},
        {"legacy runner registration", "GR1348941abcdefghijkl", "GR1348941[REDACTED]"},
        {"instance prefix", "mycompany-glpat-abcdefghij1234", "mycompany-glpat-[REDACTED]"},
        {"slack", "\"token\":\"xoxb-1234-5678-abcdefgh\"", "\"token\":\"xoxb-[REDACTED]\""},
        {"standard webhooks secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_[REDACTED]"},
        {"bearer value", "Authorization: Bearer tg-api-alice-0001",
         "Authorization: Bearer [REDACTED]"},
        {"bearer any case", "bearer abcdefgh.ijk", "bearer [REDACTED]"},
        {"too short to be a token", "glpat-abc and xoxb-1", NULL},
        {"inside a word: the prefix is distinctive", "notglpat-abcdefghijkl",
         "notglpat-[REDACTED]"},
        {"after a JSON-escaped newline", "line one\\nglpat-abcdefghijkl",
         "line one\\nglpat-[REDACTED]"},
        {"after a letter", "xxoxb-1234-5678-abcdefgh", "xxoxb-[REDACTED]"},
        {"after =", "private_token=glpat-abcdefghijkl&x=1", "private_token=glpat-[REDACTED]&x=1"},
        {"URL-encoded =", "private_token%3Dglpat-abcdefghijkl", "private_token%3Dglpat-[REDACTED]"},
        {"URL-encoded dash", "xoxb%2D1234%2D5678%2Dabcdefgh", "xoxb%2D[REDACTED]"},
        {"URL-encoded bearer", "Authorization%3A%20Bearer%20eyJhbGciOiJIUzI1NiJ9.x",
         "Authorization%3A%20Bearer%20[REDACTED]"},
        {"bearer and a tab", "Bearer\teyJhbGciOiJIUzI1NiJ9", "Bearer\t[REDACTED]"},
        {"bearer and an escaped tab", "Bearer\\teyJhbGciOiJIUzI1NiJ9", "Bearer\\t[REDACTED]"},
        {"bearer and a colon", "bearer:abcdefghijkl", "bearer:[REDACTED]"},
        {"after a digit", "9glptt-0123456789abcdef", "9glptt-[REDACTED]"},
        {"a word ending in bearer", "the forbearer abcdefghijkl", NULL},
        {"prose", "the Bearer of bad news", NULL},
        {"nothing", "deploy shop/cart to production", NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        size_t n;
        char *out = tg_scrub(rows[i].in, strlen(rows[i].in), &n);
        if (rows[i].want)
            UNIT_CHECK(rows[i].name, out && strcmp(out, rows[i].want) == 0 && n == strlen(out));
        else
            UNIT_CHECK(rows[i].name, out == NULL);
        if (out && rows[i].want && strcmp(out, rows[i].want) != 0)
            fprintf(stderr, "  got %s\n", out);
        free(out);
    }
    char buf[64] = "err glptt-0123456789abcdef";
    UNIT_CHECK("in place",
               tg_scrub_inplace(buf, sizeof buf) == 1 && strcmp(buf, "err glptt-[REDACTED]") == 0);
    UNIT_CHECK("in place, clean", tg_scrub_inplace(buf, sizeof buf) == 0);
}

static void check_peers(void)
{
    struct tg_peers *p = tg_peers_new(2);
    UNIT_CHECK("first", tg_peers_acquire(p, "192.0.2.1") == 0);
    UNIT_CHECK("second", tg_peers_acquire(p, "192.0.2.1") == 0);
    UNIT_CHECK("third refused", tg_peers_acquire(p, "192.0.2.1") == -1);
    UNIT_CHECK("another peer", tg_peers_acquire(p, "192.0.2.2") == 0);
    tg_peers_release(p, "192.0.2.1");
    UNIT_CHECK("a slot came back", tg_peers_acquire(p, "192.0.2.1") == 0);
    tg_peers_release(p, "192.0.2.2");
    tg_peers_release(p, "192.0.2.2"); /* more releases than acquires do not go negative */
    UNIT_CHECK("after over-release", tg_peers_acquire(p, "192.0.2.2") == 0 &&
                                         tg_peers_acquire(p, "192.0.2.2") == 0 &&
                                         tg_peers_acquire(p, "192.0.2.2") == -1);
    tg_peers_free(p);
}

int main(void)
{
    check_button_contexts();
    check_cidrs();
    check_forwarded();
    check_peers();
    check_scrub();
    return unit_summary("test_harden");
}
