/* test_console.c -- the console's pure parts: PKCE (RFC 7636 appendix B), tokens, the Cookie
 * header, session records, CSRF, next paths, userinfo claims, group checks, GitLab's user list
 * and access levels. */
#include "console/console_auth.h"
#include "console/console_config.h"
#include "console/membership.h"
#include "console/oauth.h"
#include "console/session.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

/* RFC 7636 appendix B: the 32 octets, their base64url (the verifier) and its S256 challenge. */
static void test_pkce(void)
{
    static const unsigned char octets[32] = {116, 24,  223, 180, 151, 153, 224, 37,  79,  250, 96,
                                             125, 216, 173, 187, 186, 22,  212, 37,  77,  105, 214,
                                             191, 240, 91,  88,  5,   88,  83,  132, 141, 121};
    char verifier[64], challenge[TG_CONSOLE_TOKEN_LEN + 1];
    UNIT_CHECK("base64url length", tg_oauth_base64url(octets, sizeof octets, verifier) == 43);
    UNIT_STREQ("rfc7636 verifier", verifier, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
    tg_oauth_challenge(verifier, challenge);
    UNIT_STREQ("rfc7636 challenge", challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

static void test_tokens(void)
{
    char a[TG_CONSOLE_TOKEN_LEN + 1], b[TG_CONSOLE_TOKEN_LEN + 1];
    UNIT_CHECK("token a", tg_oauth_token(a) == 0);
    UNIT_CHECK("token b", tg_oauth_token(b) == 0);
    UNIT_CHECK("43 chars", strlen(a) == 43 && strlen(b) == 43);
    UNIT_CHECK("alphabet", strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                     "0123456789-_") == 43);
    UNIT_CHECK("fresh each time", strcmp(a, b) != 0);
}

struct cookie_row {
    const char *name, *header, *want; /* want NULL: refused */
};

static const struct cookie_row cookie_rows[] = {
    {"alone", "tollgate_session=abc-_9", "abc-_9"},
    {"among others", "a=1; tollgate_session=XyZ; b=2", "XyZ"},
    {"no space", "a=1;tollgate_session=XyZ", "XyZ"},
    {"trailing blanks", "tollgate_session=XyZ  ; b=2", "XyZ"},
    {"absent", "a=1; b=2", NULL},
    {"longer name only", "xtollgate_session=abc", NULL},
    {"prefix of another name", "tollgate_session_old=abc", NULL},
    {"empty value", "tollgate_session=", NULL},
    {"quote", "tollgate_session=\"abc\"", NULL},
    {"bad byte", "tollgate_session=ab%cd", NULL},
    {"too long", "tollgate_session=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL},
    {"empty header", "", NULL},
    {"NULL header", NULL, NULL},
    {"first wins", "tollgate_session=one; tollgate_session=two", "one"},
};

static void test_cookies(void)
{
    for (size_t i = 0; i < sizeof cookie_rows / sizeof *cookie_rows; i++) {
        const struct cookie_row *r = &cookie_rows[i];
        char out[45];
        int rc = tg_console_cookie(r->header, "tollgate_session", out, sizeof out);
        UNIT_CHECK(r->name, (rc == 0) == (r->want != NULL));
        if (rc == 0 && r->want)
            UNIT_STREQ(r->name, out, r->want);
    }
}

#define CSRF "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ"

struct record_row {
    const char *name, *json;
    int ok;
};

static const struct record_row record_rows[] = {
    {"valid",
     "{\"username\":\"alice\",\"name\":\"Alice\",\"groups\":[\"platform\"],\"csrf_token\":\"" CSRF
     "\",\"created\":1000,\"expires\":5000}",
     1},
    {"expired",
     "{\"username\":\"alice\",\"csrf_token\":\"" CSRF "\",\"created\":1000,\"expires\":2000}", 0},
    {"no user", "{\"csrf_token\":\"" CSRF "\",\"expires\":5000}", 0},
    {"short csrf", "{\"username\":\"alice\",\"csrf_token\":\"abc\",\"expires\":5000}", 0},
    {"expires not a number",
     "{\"username\":\"alice\",\"csrf_token\":\"" CSRF "\",\"expires\":\"5000\"}", 0},
    {"groups not a list",
     "{\"username\":\"alice\",\"csrf_token\":\"" CSRF "\",\"expires\":5000,\"groups\":\"x\"}", 0},
    {"not JSON", "username=alice", 0},
};

static void test_records(void)
{
    for (size_t i = 0; i < sizeof record_rows / sizeof *record_rows; i++) {
        const struct record_row *r = &record_rows[i];
        struct tg_console_session s;
        int rc = tg_console_session_parse(r->json, strlen(r->json), 3000, &s);
        UNIT_CHECK(r->name, (rc == 0) == r->ok);
        if (rc == 0) {
            UNIT_STREQ(r->name, s.token.identity, "alice");
            UNIT_CHECK(r->name, s.token.scopes == (TG_SCOPE_READ | TG_SCOPE_APPROVE));
            UNIT_CHECK("csrf equal", tg_console_csrf_ok(&s, CSRF));
            UNIT_CHECK("csrf differs", !tg_console_csrf_ok(&s, CSRF "x"));
            UNIT_CHECK("csrf absent", !tg_console_csrf_ok(&s, NULL));
            UNIT_CHECK("csrf empty", !tg_console_csrf_ok(&s, ""));
            UNIT_STREQ("groups", s.groups[0], "platform");
        }
        tg_console_session_dispose(&s);
    }
    UNIT_CHECK("GET safe", tg_console_method_safe("GET"));
    UNIT_CHECK("POST not", !tg_console_method_safe("POST"));
    UNIT_CHECK("DELETE not", !tg_console_method_safe("DELETE"));
}

struct next_row {
    const char *next;
    int ok;
};

static const struct next_row next_rows[] = {
    {"/ui/", 1},
    {"/ui/deployments/abc?x=1", 1},
    {"//evil.example/ui/", 0},
    {"/ui//evil.example", 0},
    {"/ui/\\evil", 0},
    {"https://evil.example/ui/", 0},
    {"/api/v1/audit", 0},
    {"/ui", 0},
    {"/ui/a b", 0},
    {"/ui/a\r\nSet-Cookie: x=y", 0},
    /* dot segments, encoded dots and slashes: the path could leave /ui/ once resolved */
    {"/ui/../api/v1/deployments", 0},
    {"/ui/./x", 0},
    {"/ui/x/..", 0},
    {"/ui/x/../../api", 0},
    {"/ui/%2e%2e/api", 0},
    {"/ui/%2F%2Fevil", 0},
    {"/ui/x%5capi", 0},
    {"/ui/a.b/c..d/...", 1},
    {"/ui/deployments/x?y=..", 1}, /* a query is no path segment */
};

static void test_next(void)
{
    for (size_t i = 0; i < sizeof next_rows / sizeof *next_rows; i++)
        UNIT_CHECK(next_rows[i].next, tg_console_next_ok(next_rows[i].next) == next_rows[i].ok);
}

struct userinfo_row {
    const char *name, *json, *user;
    int ngroups;
};

static const struct userinfo_row userinfo_rows[] = {
    {"gitlab claims",
     "{\"sub\":\"11\",\"name\":\"Alice\",\"nickname\":\"alice\",\"preferred_username\":\"alice\","
     "\"groups\":[\"platform\",\"platform/sre\"]}",
     "alice", 2},
    {"preferred_username only", "{\"preferred_username\":\"bob\"}", "bob", 0},
    {"nickname wins", "{\"nickname\":\"carol\",\"preferred_username\":\"c\"}", "carol", 0},
    {"no username", "{\"name\":\"Nobody\",\"groups\":[]}", NULL, 0},
    {"empty nickname falls back", "{\"nickname\":\"\",\"preferred_username\":\"dave\"}", "dave", 0},
    {"not an object", "[\"alice\"]", NULL, 0},
    {"non-string groups skipped", "{\"nickname\":\"e\",\"groups\":[1,\"g\",null]}", "e", 1},
};

static void test_userinfo_sub(void)
{
    static const struct {
        const char *json;
        long long id;
    } rows[] = {{"{\"sub\":\"11\",\"nickname\":\"a\"}", 11},
                {"{\"sub\":11,\"nickname\":\"a\"}", 0}, /* GitLab sends a string */
                {"{\"sub\":\"x1\",\"nickname\":\"a\"}", 0},
                {"{\"nickname\":\"a\"}", 0}};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        struct tg_oauth_user u;
        char err[128];
        UNIT_CHECK(rows[i].json, tg_oauth_parse_userinfo(rows[i].json, strlen(rows[i].json), &u,
                                                         err, sizeof err) == 0 &&
                                     u.user_id == rows[i].id);
        tg_oauth_user_dispose(&u);
    }
}

static void test_userinfo(void)
{
    for (size_t i = 0; i < sizeof userinfo_rows / sizeof *userinfo_rows; i++) {
        const struct userinfo_row *r = &userinfo_rows[i];
        struct tg_oauth_user u;
        char err[128];
        int rc = tg_oauth_parse_userinfo(r->json, strlen(r->json), &u, err, sizeof err);
        UNIT_CHECK(r->name, (rc == 0) == (r->user != NULL));
        if (rc == 0) {
            UNIT_STREQ(r->name, u.username, r->user);
            size_t n = 0;
            while (u.groups[n])
                n++;
            UNIT_CHECK(r->name, n == (size_t)r->ngroups);
        }
        tg_oauth_user_dispose(&u);
    }
    char *groups[] = {"platform/sre", "Security", NULL}, *allow[] = {"platform", "security", NULL};
    char *none[] = {NULL}, *sub[] = {"platform/sre", NULL};
    UNIT_CHECK("allowed (case)", tg_oauth_group_allowed(groups, allow));
    UNIT_CHECK("no groups", !tg_oauth_group_allowed(none, allow));
    UNIT_CHECK("a subgroup is not its parent", !tg_oauth_group_allowed(sub, allow));
}

static void test_membership_and_levels(void)
{
    long long id = 0;
    const char *list = "[{\"id\":7,\"username\":\"zed\",\"state\":\"active\"},"
                       "{\"id\":12,\"username\":\"Bob\",\"state\":\"active\"},"
                       "{\"id\":13,\"username\":\"cy\",\"state\":\"blocked\"},"
                       "{\"id\":14,\"username\":\"di\"}]";
    UNIT_CHECK("found", tg_membership_parse_user(list, strlen(list), "bob", &id) == 1 && id == 12);
    UNIT_CHECK("blocked", tg_membership_parse_user(list, strlen(list), "cy", &id) == 2 && id == 13);
    UNIT_CHECK("no state is not active",
               tg_membership_parse_user(list, strlen(list), "di", &id) == 2 && id == 14);
    UNIT_CHECK("absent", tg_membership_parse_user(list, strlen(list), "amy", &id) == 0);
    UNIT_CHECK("empty", tg_membership_parse_user("[]", 2, "amy", &id) == 0);
    UNIT_CHECK("not a list", tg_membership_parse_user("{}", 2, "amy", &id) == -1);
    UNIT_CHECK("developer", tg_console_access_level("developer") == 30);
    UNIT_CHECK("Maintainer", tg_console_access_level("Maintainer") == 40);
    UNIT_CHECK("20", tg_console_access_level("20") == 20);
    UNIT_CHECK("25", tg_console_access_level("25") == -1);
    UNIT_CHECK("admin", tg_console_access_level("admin") == -1);
}

static void test_authorize_url(void)
{
    struct tg_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.gitlab.url = "https://gitlab.example.com";
    cfg.console.public_url = "https://tollgate.example.com";
    cfg.console.client_id.value = "app id&x";
    cfg.console.client_id.len = strlen("app id&x");
    char *url = tg_oauth_authorize_url(&cfg, "STATE", "CHALLENGE");
    UNIT_STREQ("authorize url", url,
               "https://gitlab.example.com/oauth/authorize?response_type=code&client_id=app%20id%"
               "26x&redirect_uri=https%3A%2F%2Ftollgate.example.com%2Fui%2Fcallback&scope=openid%"
               "20profile&state=STATE&code_challenge=CHALLENGE&code_challenge_method=S256");
    free(url);
    UNIT_STREQ("https cookie", tg_console_cookie_name(&cfg), "__Host-tollgate_session");
    UNIT_STREQ("https login cookie", tg_console_login_cookie_name(&cfg), "__Host-tollgate_login");
    cfg.console.public_url = "http://localhost:8080";
    UNIT_STREQ("http cookie", tg_console_cookie_name(&cfg), "tollgate_session");
    UNIT_STREQ("http login cookie", tg_console_login_cookie_name(&cfg), "tollgate_login");
    char key[256];
    tg_console_session_key("tg:", "abc", key, sizeof key);
    UNIT_STREQ(
        "key is the hash", key,
        "tg:console:session:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

int main(void)
{
    test_pkce();
    test_tokens();
    test_cookies();
    test_records();
    test_next();
    test_userinfo();
    test_userinfo_sub();
    test_membership_and_levels();
    test_authorize_url();
    return unit_summary("test_console");
}
