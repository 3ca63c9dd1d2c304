/* fuzz_console.c -- what the console parses from outside, on arbitrary input: the Cookie header
 * (the session cookie), the query string of /ui/callback and /ui/login (code, state, next), a
 * session record read back from Redis, GitLab's userinfo claims and its user list. Checks the
 * contracts too: a cookie value is base64url and fits, a next path accepted is a console path. */
#include "api/api.h"
#include "console/console_auth.h"
#include "console/membership.h"
#include "console/oauth.h"
#include "console/session.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void cookie(const char *s)
{
    char out[TG_CONSOLE_TOKEN_LEN + 2];
    if (tg_console_cookie(s, "tollgate_session", out, sizeof out) == 0 &&
        (strlen(out) == 0 || strlen(out) >= sizeof out ||
         strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
             strlen(out)))
        abort();
}

static void query(char *s)
{
    static const char *const names[] = {"code", "state", "next", "error"};
    struct tg_api_request r = {.query = s};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char out[TG_CONSOLE_NEXT_MAX + 2];
        if (tg_api_query(&r, names[i], out, sizeof out) && i == 2 && tg_console_next_ok(out) &&
            (strncmp(out, "/ui/", 4) != 0 || strstr(out, "//") || strpbrk(out, "\r\n\\ ")))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), err[256];
    memcpy(s, data, size);
    s[size] = '\0';
    cookie(s);
    query(s);
    struct tg_console_session sess;
    if (tg_console_session_parse(s, size, 1000, &sess) == 0 && sess.token.identity == NULL)
        abort();
    tg_console_session_dispose(&sess);
    struct tg_oauth_user u;
    if (tg_oauth_parse_userinfo(s, size, &u, err, sizeof err) == 0 && *u.username == '\0')
        abort();
    tg_oauth_user_dispose(&u);
    long long id;
    tg_membership_parse_user(s, size, "alice", &id);
    free(s);
    return 0;
}
