/* api_route.c -- the event-loop side of the API and ChatOps routes.
 *
 * Runs on the loop threads only, so it never blocks (scripts/style.sh checks this file like
 * gateway/http/): it copies the request, runs the route's gate, claims a once-only header
 * through the loop's asynchronous Redis, queues the job on its lane (api.c's threads run it),
 * and sends the answer the pool posts back.
 */
#include "api/api.h"
#include "api/api_impl.h"
#include "base/util.h"
#include "console/console_auth.h"
#include "console/pages.h"
#include "http/http.h"
#include "http/redis_loop.h"
#include "http/tally.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_HEADERS   64
#define RETRY_AFTER_S 1

/* ---- the request copy ---- */

const char *tg_api_header(const struct tg_api_request *r, const char *lcname)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcmp(r->headers[i].name, lcname) == 0)
            return r->headers[i].value;
    return NULL;
}

static int hexval(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes application/x-www-form-urlencoded text of n bytes into out; returns its length. */
static size_t url_decode(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < outlen; i++) {
        if (s[i] == '+')
            out[o++] = ' ';
        else if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else
            out[o++] = s[i];
    }
    out[o] = '\0';
    return o;
}

const char *tg_api_query(const struct tg_api_request *r, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = r->query; *p;) {
        size_t n = strcspn(p, "&");
        if (n > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            url_decode(p + nl + 1, n - nl - 1, out, outlen);
            return out;
        }
        p += n + (p[n] == '&');
    }
    return NULL;
}

/* HTTP/2 may split the Cookie header into one field per cookie (RFC 9113 section 8.2.3):
 * a second "cookie" field is appended to the first with "; ", so every cookie reader sees all
 * of them. Returns 1 when it joined (and freed name). */
static int join_cookie(struct tg_api_request *r, char *name, const char *value, size_t len)
{
    char *first = (char *)tg_api_header(r, "cookie");
    if (strcmp(name, "cookie") != 0 || first == NULL)
        return 0;
    for (size_t i = 0; i < r->nheaders; i++) {
        if (r->headers[i].value != first)
            continue;
        r->headers[i].value = tg_xasprintf("%s; %.*s", first, (int)len, value);
        free(first);
    }
    free(name);
    return 1;
}

static void copy_request(struct tg_api_request *r, h2o_req_t *req)
{
    size_t q = req->query_at;
    r->method = tg_xstrndup(req->method.base, req->method.len);
    r->path = tg_xstrndup(req->path.base, q != SIZE_MAX ? q : req->path.len);
    r->query =
        q != SIZE_MAX ? tg_xstrndup(req->path.base + q + 1, req->path.len - q - 1) : tg_xstrdup("");
    r->body = tg_xstrndup(req->entity.base ? req->entity.base : "", req->entity.len);
    r->bodylen = req->entity.len;
    size_t n = req->headers.size < MAX_HEADERS ? req->headers.size : MAX_HEADERS;
    r->headers = tg_xcalloc(n ? n : 1, sizeof *r->headers);
    for (size_t i = 0; i < n; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        char *name = tg_xstrndup(h->name->base, h->name->len);
        if (!join_cookie(r, name, h->value.base, h->value.len)) {
            r->headers[r->nheaders].name = name;
            r->headers[r->nheaders++].value = tg_xstrndup(h->value.base, h->value.len);
        }
    }
    tg_http_peer(req, r->remote, sizeof r->remote);
}

void tg_api_job_free(struct api_job *j)
{
    struct tg_api_request *r = &j->req;
    for (size_t i = 0; i < r->nheaders; i++) {
        free(r->headers[i].name);
        free(r->headers[i].value);
    }
    void *owned[] = {r->headers, r->method, r->path, r->query, r->body, j->content_type, j->body};
    for (size_t i = 0; i < TG_ARRAY_SIZE(owned); i++)
        free(owned[i]);
    tg_console_session_free(r->session);
    for (char **h = j->headers; h && *h; h++)
        free(*h);
    free(j->headers);
    free(j);
}

void tg_api_job_release(struct api_job *j)
{
    if (__atomic_sub_fetch(&j->refs, 1, __ATOMIC_ACQ_REL) == 0)
        tg_api_job_free(j);
}

/* ---- answers ---- */

void tg_api_job_deliver(void *arg) /* loop thread */
{
    struct api_job *j = arg;
    for (char **h = j->headers; j->ticket.req && h && h[0] && h[1]; h += 2)
        h2o_add_header_by_str(&j->ticket.req->pool, &j->ticket.req->res.headers, h[0], strlen(h[0]),
                              0, NULL, h[1], strlen(h[1]));
    tg_http_ticket_reply_typed(&j->ticket, j->status, j->content_type, j->body ? j->body : "",
                               j->len);
    tg_api_job_release(j);
}

void tg_api_gate_bearer(void *data, const struct tg_config *cfg, const struct tg_api_request *req,
                        struct tg_api_verdict *out)
{
    const char *h = tg_api_header(req, "authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0 &&
        tg_config_find_api_token(cfg, h + 7, strlen(h + 7)))
        return;
    tg_metrics_inc(TG_M_API_REJECTED_UNAUTHORIZED);
    struct tg_tally_entry e = {"rejected", h ? "bad bearer token" : "no bearer token", 401, "api",
                               req->remote};
    if (data)
        tg_tally_add(data, &e, tg_now_ms());
    *out = (struct tg_api_verdict){401, "unauthorized", "a valid bearer token is required"};
}

/* ---- gate and queue ---- */

/* Runs the route's gate on the loop; 0 to go on, else it answered. A route with a once-only
 * header authenticates the connection only once that header is claimed (claim_once). */
static int gate(struct route *rt, h2o_req_t *req, const struct tg_api_request *copy)
{
    struct tg_api_verdict v = {0};
    struct tg_config *cfg = tg_config_holder_get(rt->pool->config);
    rt->spec.gate(rt->spec.data, cfg, copy, &v);
    tg_config_unref(cfg);
    if (v.status == 0) {
        if (rt->spec.once == NULL && rt->spec.session != TG_SESSION_PUBLIC)
            tg_server_authenticated(req);
        return 0;
    }
    tg_http_error(req, rt->spec.route, v.status, v.error, v.detail);
    return -1;
}

static struct lane *lane_of(struct route *rt, h2o_req_t *req)
{
    enum tg_api_lane l = rt->spec.lane;
    if (l == TG_LANE_ACT_ON_POST)
        l = tg_http_method_is(req, "POST") ? TG_LANE_ACT : TG_LANE_READ;
    return &rt->pool->lanes[l == TG_LANE_ACT ? 1 : 0];
}

/* ChatOps and API bodies are small (a form, a button callback, {"comment"}): anything over
 * TG_API_MAX_BODY (or limits.max_body when lower) is refused before it is copied, parsed or
 * authenticated, so a stranger's large body costs the loop nothing. 1 when it answered 413. */
static int too_large(struct route *rt, h2o_req_t *req)
{
    struct tg_config *cfg = tg_config_holder_get(rt->pool->config);
    size_t cap = cfg->limits.max_body < TG_API_MAX_BODY ? cfg->limits.max_body : TG_API_MAX_BODY;
    tg_config_unref(cfg);
    if (req->entity.len <= cap)
        return 0;
    tg_metrics_inc(rt->spec.route == TG_ROUTE_CHATOPS ? TG_M_CHATOPS_REJECTED_TOO_LARGE
                                                      : TG_M_API_REJECTED_TOO_LARGE);
    tg_http_error(req, rt->spec.route, 413, "too_large",
                  "the body exceeds this route's limit (64 KiB, or limits.max_body when lower)");
    return 1;
}

/* Queues a gated job whose ticket is set; answers (and frees it) when it cannot. */
static void queue_job(struct route *rt, struct api_job *j)
{
    h2o_req_t *req = j->ticket.req;
    int rc = tg_api_pool_enqueue(rt->pool, j->lane, j);
    if (rc == 0)
        return;
    if (rc == -2) {
        tg_metrics_inc(TG_M_API_QUEUE_FULL);
        tg_http_retry_after(req, RETRY_AFTER_S);
        tg_http_ticket_error(&j->ticket, 503, "busy",
                             "too many requests are waiting; retry shortly");
    } else {
        tg_http_ticket_error(&j->ticket, 503, "unavailable", "the gateway is shutting down");
    }
    tg_api_job_free(j);
}

/* A loop-side Redis step's common outcomes: the client went away (dropped) or Redis failed
 * (503). 1 when it answered and freed j, 0 when the reply is there to read. */
static int redis_step_ended(struct api_job *j, const redisReply *reply)
{
    if (tg_http_ticket_gone(&j->ticket) || j->ticket.req == NULL) {
        tg_metrics_inc(TG_M_API_DROPPED);
        tg_http_ticket_error(&j->ticket, 499, "gone", NULL);
    } else if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        tg_http_ticket_error(&j->ticket, 503, "unavailable",
                             "Tollgate cannot reach its database right now");
    } else {
        return 0;
    }
    tg_api_job_free(j);
    return 1;
}

static void on_claimed(redisReply *reply, void *data) /* loop thread */
{
    struct api_job *j = data;
    struct route *rt = j->route;
    if (redis_step_ended(j, reply))
        return;
    if (reply->type == REDIS_REPLY_NIL) {
        tg_metrics_inc(TG_M_REPLAYS_REFUSED);
        rt->spec.once->on_replay(rt->spec.data, &j->req);
        tg_http_ticket_error(&j->ticket, 401, "unauthorized",
                             "this signed request was seen before");
        tg_api_job_free(j);
    } else {
        tg_server_authenticated(j->ticket.req);
        queue_job(rt, j);
    }
}

/* Claims the route's once-only header in Redis from the loop; on_claimed goes on. */
static void claim_once(struct route *rt, struct api_job *j)
{
    const struct tg_api_once *o = rt->spec.once;
    const char *value = tg_api_header(&j->req, o->header);
    struct tg_config *cfg = tg_config_holder_get(rt->pool->config);
    char *key = tg_xasprintf("%s%s%s", cfg->redis.prefix, o->key, value ? value : "");
    char ttl[16];
    tg_config_unref(cfg);
    snprintf(ttl, sizeof ttl, "%d", o->ttl_s);
    const char *argv[] = {"SET", key, "1", "NX", "EX", ttl};
    size_t lens[] = {3, strlen(key), 1, 2, 2, strlen(ttl)};
    struct tg_redis_loop_call call = {6, argv, lens, on_claimed, j};
    if (tg_redis_loop_command(tg_loop_redis(j->loop), &call)) {
        tg_http_ticket_error(&j->ticket, 503, "unavailable",
                             "Tollgate cannot reach its database right now");
        tg_api_job_free(j);
    }
    free(key);
}

/* ---- console sessions: read from Redis on the loop, before the request is queued ---- */

static void session_refused(struct api_job *j, int status, const char *error, const char *detail)
{
    tg_metrics_inc(TG_M_API_REJECTED_UNAUTHORIZED);
    tg_http_ticket_error(&j->ticket, status, error, detail);
    tg_api_job_free(j);
}

static void on_session(redisReply *reply, void *data) /* loop thread */
{
    struct api_job *j = data;
    struct tg_console_session s;
    if (redis_step_ended(j, reply))
        return;
    if (reply->type != REDIS_REPLY_STRING ||
        tg_console_session_parse(reply->str, reply->len, tg_now_ms(), &s)) {
        session_refused(j, 401, "unauthorized", "the session expired or was ended: sign in again");
    } else if (!tg_console_method_safe(j->req.method) &&
               !tg_console_csrf_ok(&s, tg_api_header(&j->req, "x-csrf-token"))) {
        tg_console_session_dispose(&s);
        session_refused(j, 403, "csrf", "a state-changing request needs the X-CSRF-Token header");
    } else {
        j->req.session = tg_xmalloc(sizeof s);
        *j->req.session = s;
        tg_server_authenticated(j->ticket.req);
        queue_job(j->route, j);
    }
}

/* 1 when the request goes the session way: the route takes sessions and either requires one
 * or the request brings no Authorization header but a session cookie. *id gets the cookie. */
static int wants_session(struct route *rt, const struct tg_api_request *r, char *id, size_t idlen)
{
    const struct tg_api_route_spec *sp = &rt->spec;
    if (sp->route != TG_ROUTE_API || sp->session == TG_SESSION_PUBLIC)
        return 0;
    struct tg_config *cfg = tg_config_holder_get(rt->pool->config);
    int on = cfg->console.enabled && tg_console_cookie(tg_api_header(r, "cookie"),
                                                       tg_console_cookie_name(cfg), id, idlen) == 0;
    tg_config_unref(cfg);
    if (sp->session == TG_SESSION_REQUIRED)
        return 1;
    return on && tg_api_header(r, "authorization") == NULL;
}

/* Reads the session record (GET <prefix>console:session:<sha256(id)>); on_session goes on. */
static void check_session(struct route *rt, struct api_job *j, const char *id)
{
    char key[256];
    struct tg_config *cfg = tg_config_holder_get(rt->pool->config);
    tg_console_session_key(cfg->redis.prefix, id, key, sizeof key);
    tg_config_unref(cfg);
    const char *argv[] = {"GET", key};
    size_t lens[] = {3, strlen(key)};
    struct tg_redis_loop_call call = {2, argv, lens, on_session, j};
    if (*id == '\0') {
        session_refused(j, 401, "unauthorized", "sign in first: no session cookie");
    } else if (tg_redis_loop_command(tg_loop_redis(j->loop), &call)) {
        tg_http_ticket_error(&j->ticket, 503, "unavailable",
                             "Tollgate cannot reach its database right now");
        tg_api_job_free(j);
    }
}

/* Every answer of a console or API route, whichever path sends it (the handler, a refusal
 * here, a full lane): never stored by a cache, never sniffed; /ui/ answers also carry the
 * console's security headers (pages.h). */
static void answer_headers(h2o_req_t *req, const char *path)
{
    if (strncmp(path, "/ui/", 4) == 0)
        tg_console_security_headers(req);
    else if (strncmp(path, "/api/", 5) == 0)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"),
                              0, NULL, H2O_STRLIT("nosniff"));
    else
        return;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-store"));
}

static int on_request(void *data, h2o_req_t *req) /* loop thread */
{
    struct route *rt = data;
    answer_headers(req, rt->spec.path);
    if (too_large(rt, req))
        return 0;
    struct api_job *j = tg_xcalloc(1, sizeof *j);
    char id[TG_CONSOLE_TOKEN_LEN + 2] = "";
    copy_request(&j->req, req);
    int session = wants_session(rt, &j->req, id, sizeof id);
    if (!session && gate(rt, req, &j->req)) {
        tg_api_job_free(j);
        return 0;
    }
    j->fn = rt->spec.fn;
    j->data = rt->spec.data;
    j->loop = tg_loop_of(req);
    j->refs = 2;
    j->route = rt;
    j->lane = lane_of(rt, req);
    j->scrub = rt->spec.scrub_answer || rt->spec.route == TG_ROUTE_CHATOPS;
    tg_http_ticket_init(&j->ticket, req, rt->spec.route); /* before a pool thread can see it */
    if (session)
        check_session(rt, j, id);
    else if (rt->spec.once)
        claim_once(rt, j);
    else
        queue_job(rt, j);
    return 0;
}

void tg_api_route(struct tg_server *s, struct tg_api_pool *p, const struct tg_api_route_spec *spec)
{
    struct route *rt = tg_xcalloc(1, sizeof *rt);
    rt->pool = p;
    rt->spec = *spec;
    rt->spec.path = tg_xstrdup(spec->path);
    tg_server_route(s, rt->spec.path, on_request, rt);
}
