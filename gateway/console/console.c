/* console.c -- /ui/login, /ui/callback, /ui/session, /ui/logout (console.h). API pool
 * threads; the session of /ui/session and /ui/logout was checked on the loop (api_route.c).
 *
 * Every answer carries Cache-Control: no-store and the console's security headers (added by
 * api_route.c for each /ui/ route, whichever path answers). No
 * secret (code, state, verifier, token, session id, client_secret) reaches a log line, an
 * audit record or an answer body.
 */
#include "console/console.h"
#include "base/buf.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/util.h"
#include "console/oauth.h"
#include "console/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_MODULE "console"

/* ---- answers ---- */

/* A 302 to location, setting up to two cookies (NULL: none). */
static void redirect(struct tg_api_ctx *ctx, const char *location, const char *cookie,
                     const char *cookie2)
{
    const char *h[8] = {"location", location, NULL};
    size_t n = 2;
    const char *cookies[] = {cookie, cookie2};
    for (size_t i = 0; i < TG_ARRAY_SIZE(cookies); i++) {
        if (cookies[i] == NULL)
            continue;
        h[n++] = "set-cookie";
        h[n++] = cookies[i];
    }
    tg_api_headers(ctx, h);
    tg_api_answer(ctx, 302, "text/plain; charset=utf-8", "", 0);
}

/* Text into HTML: the five characters that could open markup or end an attribute. */
static void html_text(struct tg_buf *b, const char *s)
{
    static const char *const entity[256] = {
        ['<'] = "&lt;", ['>'] = "&gt;", ['&'] = "&amp;", ['"'] = "&quot;", ['\''] = "&#39;"};
    for (; *s; s++) {
        const char *e = entity[(unsigned char)*s];
        if (e)
            tg_buf_puts(b, e);
        else
            tg_buf_append(b, s, 1);
    }
}

/* A small HTML page saying why: text escaped, no script, the console's headers. */
static void page(struct tg_api_ctx *ctx, int status, const char *title, const char *text)
{
    struct tg_buf b;
    tg_buf_init(&b);
    tg_buf_puts(&b, "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width\"><title>Tollgate: ");
    html_text(&b, title);
    tg_buf_puts(&b, "</title></head><body><main><h1>");
    html_text(&b, title);
    tg_buf_puts(&b, "</h1><p id=\"reason\">");
    html_text(&b, text);
    tg_buf_puts(&b, "</p><p><a href=\"/ui/login\">Sign in again</a></p></main></body></html>\n");
    tg_api_answer(ctx, status, "text/html; charset=utf-8", b.data, b.len);
    tg_buf_dispose(&b);
}

static int enabled(struct tg_api_ctx *ctx)
{
    if (!ctx->cfg->console.enabled)
        tg_api_error(ctx, 404, "not_found",
                     "the console is not configured (console: in the "
                     "configuration)");
    else if (ctx->rc == NULL)
        tg_api_error(ctx, 503, "unavailable", "Redis is unreachable");
    return ctx->cfg->console.enabled && ctx->rc;
}

/* A Set-Cookie value: HttpOnly, SameSite=Lax, Path=/, and Secure with public_url https (the
 * __Host- names require it). */
static char *cookie_value(const struct tg_config *cfg, const char *name, const char *value,
                          long long max_age)
{
    int https = strncmp(cfg->console.public_url, "https://", 8) == 0;
    return tg_xasprintf("%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Lax%s", name, value,
                        max_age, https ? "; Secure" : "");
}

/* ---- audit ---- */

/* Appends a console record; -1 when it failed and audit.fail_closed says stop. */
static int audit(struct tg_api_ctx *ctx, const char *action, const char *user, const char *why,
                 char *const *groups)
{
    char err[256];
    json_t *g = json_array(), *reasons = why ? json_pack("[s]", why) : NULL;
    for (; groups && *groups; groups++)
        json_array_append_new(g, json_string(*groups));
    json_t *details = json_pack("{s:s, s:o}", "channel", "console", "groups", g);
    struct tg_audit_record r = {
        .action = action, .actor = user, .reasons = reasons, .details = details};
    int rc = ctx->audit ? tg_audit_append(ctx->audit, ctx->rc, &r, err, sizeof err) : -1;
    if (rc)
        TG_LOG(TG_LOG_ERROR, "audit_failed", "%s of %s: %s", action, user,
               ctx->audit ? err : "no audit writer");
    json_decref(details);
    json_decref(reasons);
    return rc && (ctx->audit == NULL || tg_audit_fail_closed(ctx->audit)) ? -1 : 0;
}

/* ---- /ui/login ---- */

/* 429 with Retry-After: the seconds until the next minute's count starts. */
static void too_many(struct tg_api_ctx *ctx)
{
    char after[16];
    snprintf(after, sizeof after, "%d", (int)(60 - (tg_now_ms() / 1000) % 60));
    const char *h[] = {"retry-after", after, NULL};
    const char *body = "{\"error\":\"too_many_requests\",\"detail\":\"too many sign-ins were "
                       "started from this address this minute; try again in a minute\"}";
    tg_api_headers(ctx, h);
    tg_api_answer(ctx, 429, "application/json", body, strlen(body));
}

static void on_login(void *data, struct tg_api_ctx *ctx, const struct tg_api_request *req)
{
    char state[TG_CONSOLE_TOKEN_LEN + 1], nonce[TG_CONSOLE_TOKEN_LEN + 1];
    char challenge[TG_CONSOLE_TOKEN_LEN + 1];
    struct tg_console_signin si;
    (void)data;
    if (!enabled(ctx))
        return;
    if (!tg_api_query(req, "next", si.next, sizeof si.next) || !tg_console_next_ok(si.next))
        snprintf(si.next, sizeof si.next, "/ui/");
    if (tg_oauth_token(state) || tg_oauth_token(si.verifier) || tg_oauth_token(nonce)) {
        tg_api_error(ctx, 503, "unavailable", "no randomness available");
        return;
    }
    tg_sha256_hex(nonce, strlen(nonce), si.browser);
    snprintf(si.client, sizeof si.client, "%s", req->remote);
    int put = tg_console_state_put(ctx->rc, ctx->cfg->redis.prefix, state, &si);
    if (put == -2)
        too_many(ctx);
    else if (put)
        tg_api_error(ctx, 503, "unavailable", "Redis failed");
    if (put)
        return;
    tg_oauth_challenge(si.verifier, challenge);
    char *url = tg_oauth_authorize_url(ctx->cfg, state, challenge);
    char *login = cookie_value(ctx->cfg, tg_console_login_cookie_name(ctx->cfg), nonce,
                               TG_CONSOLE_STATE_TTL_S);
    redirect(ctx, url, login, NULL);
    free(url);
    free(login);
    explicit_bzero(&si, sizeof si);
    explicit_bzero(nonce, sizeof nonce);
}

/* ---- /ui/callback ---- */

/* Ends the session the browser still presents, if any: a new sign-in replaces it rather than
 * leaving it valid beside the new one. */
static void end_old_session(struct tg_api_ctx *ctx, const struct tg_api_request *req)
{
    char old[TG_CONSOLE_TOKEN_LEN + 2];
    if (tg_console_cookie(tg_api_header(req, "cookie"), tg_console_cookie_name(ctx->cfg), old,
                          sizeof old) == 0)
        tg_console_session_close(ctx->rc, ctx->cfg->redis.prefix, old);
    explicit_bzero(old, sizeof old);
}

/* Opens the session of an allowed user and sends them on; answers either way. */
static void admit(struct tg_api_ctx *ctx, const struct tg_api_request *req,
                  const struct tg_oauth_user *u, const char *next)
{
    char id[TG_CONSOLE_TOKEN_LEN + 1];
    struct tg_console_session s;
    end_old_session(ctx, req);
    if (tg_console_session_open(ctx->rc, ctx->cfg, u, id, &s)) {
        page(ctx, 503, "Sign-in failed", "Tollgate could not store the session; try again.");
    } else if (audit(ctx, "signed_in", u->username, NULL, u->groups)) {
        tg_console_session_close(ctx->rc, ctx->cfg->redis.prefix, id);
        page(ctx, 503, "Sign-in failed", "The audit trail cannot record the sign-in right now.");
    } else {
        char *cookie = cookie_value(ctx->cfg, tg_console_cookie_name(ctx->cfg), id,
                                    (long long)(ctx->cfg->console.session_ttl_ms / 1000));
        char *login = cookie_value(ctx->cfg, tg_console_login_cookie_name(ctx->cfg), "", 0);
        TG_LOG(TG_LOG_INFO, "signed_in", "%s", u->username);
        redirect(ctx, next, cookie, login);
        explicit_bzero(cookie, strlen(cookie));
        free(cookie);
        free(login);
    }
    explicit_bzero(id, sizeof id);
    tg_console_session_dispose(&s);
}

static void refuse_groups(struct tg_api_ctx *ctx, const struct tg_oauth_user *u)
{
    struct tg_buf b;
    tg_buf_init(&b);
    /* The allowed groups are not named: a refused stranger learns nothing of the install. */
    tg_buf_printf(&b,
                  "%s is not a member of a group allowed to sign in. Ask an administrator of "
                  "this Tollgate which group gives access.",
                  u->username);
    audit(ctx, "sign_in_refused", u->username, "not in console.allow_groups", u->groups);
    TG_LOG(TG_LOG_WARN, "sign_in_refused", "%s: not in allow_groups", u->username);
    page(ctx, 403, "Not allowed", b.data);
    tg_buf_dispose(&b);
}

/* 1 when the request carries the login cookie of the browser that started the sign-in (its
 * hash compared in constant time): a code and state another browser obtained are useless. */
static int same_browser(const struct tg_config *cfg, const struct tg_api_request *req,
                        const struct tg_console_signin *si)
{
    char nonce[TG_CONSOLE_TOKEN_LEN + 2], hex[TG_SHA256_HEX_LEN + 1];
    if (tg_console_cookie(tg_api_header(req, "cookie"), tg_console_login_cookie_name(cfg), nonce,
                          sizeof nonce))
        return 0;
    tg_sha256_hex(nonce, strlen(nonce), hex);
    return tg_ct_equal(hex, strlen(hex), si->browser, strlen(si->browser));
}

static void on_callback(void *data, struct tg_api_ctx *ctx, const struct tg_api_request *req)
{
    char code[1024], state[TG_CONSOLE_TOKEN_LEN + 2], error[64], err[256];
    struct tg_console_signin si;
    struct tg_oauth_user u = {0};
    (void)data;
    if (!enabled(ctx))
        return;
    if (tg_api_query(req, "error", error, sizeof error)) {
        page(ctx, 403, "Sign-in failed", "GitLab did not authorize the sign-in.");
        return;
    }
    if (!tg_api_query(req, "code", code, sizeof code) || !*code ||
        !tg_api_query(req, "state", state, sizeof state) || !*state) {
        page(ctx, 400, "Sign-in failed", "The callback needs code and state.");
        return;
    }
    int rc = tg_console_state_take(ctx->rc, ctx->cfg->redis.prefix, state, &si);
    if (rc <= 0) {
        page(ctx, rc < 0 ? 503 : 400, "Sign-in failed",
             rc < 0 ? "Tollgate cannot reach its database; try again."
                    : "This sign-in is unknown, was used already or expired. Start again.");
        return;
    }
    if (!same_browser(ctx->cfg, req, &si)) {
        page(ctx, 400, "Sign-in failed",
             "This sign-in was started in another browser, or its cookie expired. Start again.");
        return;
    }
    struct tg_oauth_grant grant = {.code = code, .verifier = si.verifier};
    if (tg_oauth_sign_in(ctx->cfg, &grant, &u, err, sizeof err)) {
        TG_LOG(TG_LOG_WARN, "sign_in_failed", "%s", err);
        page(ctx, 502, "Sign-in failed", err);
    } else if (!tg_oauth_group_allowed(u.groups, ctx->cfg->console.allow_groups)) {
        refuse_groups(ctx, &u);
    } else {
        admit(ctx, req, &u, si.next);
    }
    explicit_bzero(code, sizeof code);
    explicit_bzero(&si, sizeof si);
    tg_oauth_user_dispose(&u);
}

/* ---- /ui/session, /ui/logout ---- */

static void on_session(void *data, struct tg_api_ctx *ctx, const struct tg_api_request *req)
{
    char expires[40];
    const struct tg_console_session *s = req->session;
    (void)data;
    if (strcmp(req->method, "GET") != 0) {
        tg_api_error(ctx, 405, "method_not_allowed", "GET /ui/session");
        return;
    }
    json_t *groups = json_array();
    for (char **g = s->groups; g && *g; g++)
        json_array_append_new(groups, json_string(*g));
    tg_rfc3339(expires, sizeof expires, s->expires_ms);
    json_t *j = json_pack("{s:s, s:s, s:o, s:s, s:s}", "username", s->token.identity, "name",
                          s->name, "groups", groups, "csrf_token", s->csrf, "expires_at", expires);
    char *body = json_dumps(j, JSON_COMPACT);
    tg_api_answer(ctx, 200, "application/json", body, strlen(body));
    free(body);
    json_decref(j);
}

static void on_logout(void *data, struct tg_api_ctx *ctx, const struct tg_api_request *req)
{
    char id[TG_CONSOLE_TOKEN_LEN + 2];
    (void)data;
    if (strcmp(req->method, "POST") != 0) {
        tg_api_error(ctx, 405, "method_not_allowed", "POST /ui/logout");
        return;
    }
    if (!enabled(ctx))
        return;
    if (tg_console_cookie(tg_api_header(req, "cookie"), tg_console_cookie_name(ctx->cfg), id,
                          sizeof id) ||
        tg_console_session_close(ctx->rc, ctx->cfg->redis.prefix, id)) {
        tg_api_error(ctx, 503, "unavailable", "Redis failed");
        return;
    }
    audit(ctx, "signed_out", req->session->token.identity, NULL, NULL);
    char *cookie = cookie_value(ctx->cfg, tg_console_cookie_name(ctx->cfg), "", 0);
    const char *body = "{\"signed_out\":true}";
    const char *h[] = {"set-cookie", cookie, NULL};
    tg_api_headers(ctx, h);
    tg_api_answer(ctx, 200, "application/json", body, strlen(body));
    free(cookie);
    explicit_bzero(id, sizeof id);
}

/* The sign-in routes' gate: nobody is known yet; the handlers check state and code. */
/* loop */
static void gate_open(void *data, const struct tg_config *cfg, const struct tg_api_request *req,
                      struct tg_api_verdict *out)
{
    (void)data;
    (void)req;
    if (!cfg->console.enabled)
        *out = (struct tg_api_verdict){404, "not_found", "the console is not configured"};
}

/* loop */
static void gate_session(void *data, const struct tg_config *cfg, const struct tg_api_request *req,
                         struct tg_api_verdict *out)
{
    (void)data;
    (void)cfg;
    (void)req; /* never called: TG_SESSION_REQUIRED reads the session */
    *out = (struct tg_api_verdict){401, "unauthorized", "sign in first"};
}

void tg_console_register(struct tg_server *s, struct tg_api_pool *p)
{
    const struct tg_api_route_spec routes[] = {
        {"/ui/login", TG_ROUTE_API, TG_LANE_READ, gate_open, on_login, NULL, 0, NULL,
         TG_SESSION_PUBLIC},
        {"/ui/callback", TG_ROUTE_API, TG_LANE_READ, gate_open, on_callback, NULL, 0, NULL,
         TG_SESSION_PUBLIC},
        {"/ui/session", TG_ROUTE_API, TG_LANE_READ, gate_session, on_session, NULL, 0, NULL,
         TG_SESSION_REQUIRED},
        {"/ui/logout", TG_ROUTE_API, TG_LANE_ACT, gate_session, on_logout, NULL, 0, NULL,
         TG_SESSION_REQUIRED},
    };
    for (size_t i = 0; i < TG_ARRAY_SIZE(routes); i++)
        tg_api_route(s, p, &routes[i]);
}
