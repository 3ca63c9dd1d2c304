/* gitlab_api.c -- the calls Tollgate makes to GitLab's REST API (base/httpclient.h). */
#include "deliver/gitlab_api.h"
#include "base/scrub.h"
#include "base/buf.h"
#include "base/httpclient.h"
#include "base/log.h"
#include "base/retryafter.h"
#include "base/util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TG_MODULE          "gitlab"
#define MAX_ERROR_BODY     65536
#define MAX_REDIRECTS      3
#define MAX_LIST_BODY      (16u << 20) /* one page of 100 jobs is ~250 kB, of pipelines ~100 kB */
#define RETRY_AFTER_MAX_MS (86400 * 1000ull) /* a day: a far Retry-After waits that long */
#define PER_PAGE           100
#define MAX_PAGES          50 /* jobs of one child pipeline */
#define MAX_TRIGGER_PAGES  10 /* trigger pipelines looked through to settle an unknown outcome */

struct tg_gitlab_api {
    struct tg_httpc *http;
    char *base;
    char *token;
    size_t tokenlen;
    uint64_t timeout_ms;
    uint64_t trigger_timeout_ms; /* the trigger call's own cut-off (trigger.timeout) */
    char *ca_file;
    const atomic_int *abort; /* see tg_gitlab_api_set_abort */
};

/* One HTTP exchange in progress. */
struct exchange {
    struct tg_gitlab_api *api;
    tg_report_sink_fn sink; /* set: a 200 body streams here */
    void *sink_arg;
    int sink_stopped;
    struct tg_buf body;  /* otherwise the body (errors, JSON answers), capped */
    size_t cap;          /* the body's cap: 0 for MAX_ERROR_BODY */
    int truncated;       /* the body went over its cap */
    uint64_t timeout_ms; /* 0: the client's */
    int fresh;           /* a new connection: curl never re-sends it on a dead reused one */
    long next_page;      /* X-Next-Page: -1 header absent, 0 empty (the last page), else the next */
};

struct tg_gitlab_api *tg_gitlab_api_new(const char *base_url, const char *api_token,
                                        size_t tokenlen, uint64_t timeout_ms, const char *ca_file)
{
    struct tg_gitlab_api *api = tg_xcalloc(1, sizeof *api);
    api->http = tg_httpc_new();
    api->base = tg_xstrdup(base_url ? base_url : "");
    if (api_token) {
        api->token = tg_xstrndup(api_token, tokenlen);
        api->tokenlen = tokenlen;
    }
    api->timeout_ms = timeout_ms;
    api->trigger_timeout_ms = timeout_ms;
    api->ca_file = ca_file ? tg_xstrdup(ca_file) : NULL;
    return api;
}

void tg_gitlab_api_set_abort(struct tg_gitlab_api *api, const atomic_int *abort)
{
    api->abort = abort;
}

void tg_gitlab_api_free(struct tg_gitlab_api *api)
{
    if (api == NULL)
        return;
    tg_httpc_free(api->http);
    if (api->token)
        memset(api->token, 0, api->tokenlen);
    free(api->token);
    free(api->base);
    free(api->ca_file);
    free(api);
}

void tg_gitlab_api_set_trigger_timeout(struct tg_gitlab_api *api, uint64_t timeout_ms)
{
    api->trigger_timeout_ms = timeout_ms;
}

int tg_gitlab_result_retryable(const struct tg_gitlab_result *r)
{
    return r->status == 0 || r->status == 429 || r->status >= 500;
}

enum tg_gitlab_outcome tg_gitlab_trigger_outcome(const struct tg_gitlab_result *r)
{
    if (r->status == 201)
        return TG_GITLAB_CREATED;
    if (r->status == 0)
        return r->sent ? TG_GITLAB_UNKNOWN : TG_GITLAB_NOT_CREATED;
    if (r->status >= 300 && r->status < 500)
        return TG_GITLAB_NOT_CREATED; /* GitLab itself answered that it did not create one */
    return TG_GITLAB_UNKNOWN;         /* any 5xx (GitLab may have committed first), a 2xx not 201 */
}

/* ---- one exchange ---- */

/* X-Next-Page (GitLab's pagination headers, doc/api/rest/index.md "Pagination link header"):
 * empty on the last page. A header that is not a page number reads as absent. */
static void on_header(void *arg, const char *p, size_t len)
{
    struct exchange *ex = arg;
    char v[32];
    long long n;
    if (!tg_httpc_header_value(p, len, "X-Next-Page", v, sizeof v))
        return;
    if (*v == '\0')
        ex->next_page = 0;
    else if (tg_parse_int(v, 1, 1000000, &n) == 0)
        ex->next_page = (long)n;
}

/* A 200's body streams to the sink, when there is one; anything else is captured. */
static int on_body(void *arg, long status, const char *p, size_t len)
{
    struct exchange *ex = arg;
    if (ex->sink == NULL || status != 200)
        return TG_HTTPC_CAPTURE;
    return ex->sink(ex->sink_arg, p, len) == 0 ? TG_HTTPC_TAKEN : TG_HTTPC_STOP;
}

/* text scrubbed whole, then cut into out: a token split by the cut would escape the scrub. */
static void scrubbed_copy(const char *text, char *out, size_t outlen)
{
    char *clean = tg_scrub(text, strlen(text), NULL);
    snprintf(out, outlen, "%s", clean ? clean : text);
    free(clean);
}

/* GitLab errors are {"message": "..."} or {"message": {...}} or {"error": "..."}. */
static void error_message(const struct tg_buf *body, long status, char *out, size_t outlen)
{
    json_t *j = body->len ? json_loadb(body->data, body->len, 0, NULL) : NULL;
    json_t *m = j ? json_object_get(j, "message") : NULL;
    char *text, *s = NULL;
    if (m == NULL && j)
        m = json_object_get(j, "error");
    if (json_is_string(m))
        text = tg_xasprintf("HTTP %ld: %s", status, json_string_value(m));
    else if (m && (s = json_dumps(m, JSON_COMPACT)) != NULL)
        text = tg_xasprintf("HTTP %ld: %s", status, s);
    else
        text = tg_xasprintf("HTTP %ld", status);
    scrubbed_copy(text, out, outlen); /* GitLab quotes what it was sent: a trigger token, say */
    free(text);
    free(s);
    json_decref(j);
}

static int same_origin(const char *base, const char *url)
{
    size_t n = strlen(base);
    return strncmp(base, url, n) == 0 && (url[n] == '/' || url[n] == '\0');
}

/* One hop: returns the redirect target to follow (caller frees), or NULL when done. The
 * PRIVATE-TOKEN goes only to the instance itself (same_origin), and is wiped after. */
static char *hop(struct tg_gitlab_api *api, const char *where, const char *form,
                 struct exchange *ex, struct tg_gitlab_result *res)
{
    char *auth = NULL, *next = NULL;
    if (api->token && same_origin(api->base, where))
        auth = tg_xasprintf("PRIVATE-TOKEN: %.*s", (int)api->tokenlen, api->token);
    const char *headers[] = {"Accept: application/json", auth, NULL};
    struct tg_httpc_request req = {
        .url = where,
        .headers = headers,
        .body = form,
        .bodylen = form ? strlen(form) : 0,
        .timeout_ms = ex->timeout_ms ? ex->timeout_ms : api->timeout_ms,
        .ca_file = api->ca_file,
        .fresh_connect = ex->fresh,
        .body_cap = ex->cap ? ex->cap : MAX_ERROR_BODY,
        .on_body = on_body,
        .body_arg = ex,
        .on_header = on_header,
        .header_arg = ex,
        .abort = api->abort,
    };
    struct tg_httpc_response r;
    tg_httpc_perform(api->http, &req, &r);
    if (auth) {
        memset(auth, 0, strlen(auth));
        free(auth);
    }
    res->retry_after_ms =
        r.retry_after_ms < RETRY_AFTER_MAX_MS ? r.retry_after_ms : RETRY_AFTER_MAX_MS;
    res->sent = r.sent;
    res->status = r.status;
    ex->sink_stopped = r.stopped;
    ex->truncated = r.truncated;
    snprintf(res->error, sizeof res->error, "%s", r.error);
    tg_buf_reset(&ex->body);
    tg_buf_append(&ex->body, r.body.data ? r.body.data : "", r.body.len);
    if (!form && r.redirect) /* a CDN, typically: the token is not sent there (same_origin) */
        next = tg_xstrdup(r.redirect);
    tg_httpc_response_dispose(&r);
    return next;
}

/* Performs one request, following up to MAX_REDIRECTS redirects by hand; fills res. */
static void perform(struct tg_gitlab_api *api, const char *url, const char *form,
                    struct exchange *ex, struct tg_gitlab_result *res)
{
    char *where = tg_xstrdup(url);
    memset(res, 0, sizeof *res);
    for (int i = 0; where && i <= MAX_REDIRECTS; i++) {
        char *next = hop(api, where, form, ex, res);
        free(where);
        where = next;
    }
    free(where);
    if (res->status >= 400)
        error_message(&ex->body, res->status, res->error, sizeof res->error);
}

/* ---- the three calls ---- */

static char *escape(struct tg_gitlab_api *api, const char *s)
{
    (void)api;
    return tg_httpc_escape(s);
}

/* "a/b c.json" -> "a/b%20c.json": each path segment escaped, the slashes kept. */
static char *escape_path(struct tg_gitlab_api *api, const char *path)
{
    struct tg_buf b;
    tg_buf_init(&b);
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, "/");
        char *seg = tg_xstrndup(p, n), *e = escape(api, seg);
        tg_buf_puts(&b, e);
        free(seg);
        free(e);
        p += n;
        if (*p == '/') {
            tg_buf_putc(&b, '/');
            p++;
        }
    }
    return tg_buf_steal(&b);
}

enum tg_fetch_result tg_gitlab_fetch_artifact(struct tg_gitlab_api *api,
                                              const struct tg_gitlab_artifact *a, char *err,
                                              size_t errlen)
{
    struct exchange ex = {.api = api, .sink = a->sink, .sink_arg = a->sink_arg};
    struct tg_gitlab_result res;
    if (a->job_id <= 0)
        return TG_FETCH_NOT_FOUND;
    char *p = escape_path(api, a->path);
    char *url = tg_xasprintf("%s/api/v4/projects/%lld/jobs/%lld/artifacts/%s", api->base,
                             a->project_id, a->job_id, p);
    tg_buf_init(&ex.body);
    perform(api, url, NULL, &ex, &res);
    if (a->status)
        *a->status = res.status;
    enum tg_fetch_result r = TG_FETCH_OK;
    if (ex.sink_stopped)
        r = TG_FETCH_OK; /* the parser stopped reading; it holds the reason */
    else if (res.status == 404)
        r = TG_FETCH_NOT_FOUND;
    else if (res.status != 200) {
        snprintf(err, errlen, "artifact %s of job %lld: %s", a->path, a->job_id,
                 res.error[0] ? res.error : "no answer");
        r = TG_FETCH_ERROR;
    }
    tg_buf_dispose(&ex.body);
    free(url);
    free(p);
    return r;
}

/* ---- lists: bridges and pipeline jobs ---- */

/* Parses one page into the walk's output: the number of items, or -1 with err. */
typedef int (*page_fn)(const struct tg_gitlab_page *page, struct tg_children *out, char *err,
                       size_t errlen);

/* One list walk: the path under /api/v4, the parser of its pages, and what they fill. */
struct walk {
    const char *path;
    page_fn on_page;
    struct tg_gitlab_pipeline of;
    struct tg_children *out;
};

/* One page as fetched: its body and X-Next-Page (-1 absent, 0 the last, else the next). */
struct fetched_page {
    struct tg_buf body;
    long next;
};

static int get_page(struct tg_gitlab_api *api, const char *url, struct fetched_page *page,
                    char *err, size_t errlen)
{
    struct exchange ex = {.api = api, .cap = MAX_LIST_BODY, .next_page = -1};
    struct tg_gitlab_result res;
    tg_buf_init(&ex.body);
    perform(api, url, NULL, &ex, &res);
    page->body = ex.body;
    page->next = ex.next_page;
    if (res.status != 200)
        snprintf(err, errlen, "%s", res.error[0] ? res.error : "no answer");
    else if (ex.truncated)
        snprintf(err, errlen, "answer larger than %u bytes", MAX_LIST_BODY);
    return res.status == 200 && !ex.truncated ? 0 : -1;
}

static int get_list(struct tg_gitlab_api *api, const struct walk *w, char *err, size_t errlen)
{
    for (int page = 1; page <= MAX_PAGES; page++) {
        struct fetched_page got;
        char *url =
            tg_xasprintf("%s/api/v4%s?per_page=%d&page=%d", api->base, w->path, PER_PAGE, page);
        int n = get_page(api, url, &got, err, errlen);
        if (n == 0) {
            struct tg_gitlab_page p = {got.body.data ? got.body.data : "", got.body.len, w->of};
            n = w->on_page(&p, w->out, err, errlen);
        }
        tg_buf_dispose(&got.body);
        free(url);
        if (n < 0)
            return -1;
        if (got.next == 0 ||
            (got.next < 0 && n < PER_PAGE)) /* the header decides; page size only without it */
            return 0;
    }
    snprintf(err, errlen, "more than %d pages", MAX_PAGES);
    return -1;
}

/* The string at key, or NULL when the item lacks it or it is not a string. */
static const char *item_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* The body as a JSON list, or NULL with err. */
static json_t *load_list(const char *body, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *items = json_loadb(body, len, 0, &jerr);
    if (items == NULL)
        snprintf(err, errlen, "answer is not JSON: %s", jerr.text);
    else if (!json_is_array(items))
        snprintf(err, errlen, "answer is not a list");
    if (items && !json_is_array(items)) {
        json_decref(items);
        items = NULL;
    }
    return items;
}

static int is_bridge(json_t *b)
{
    json_t *dp = json_object_get(b, "downstream_pipeline");
    if (!json_is_object(b) || item_str(b, "name") == NULL)
        return 0;
    return dp == NULL || json_is_null(dp) ||
           (json_is_object(dp) && json_is_integer(json_object_get(dp, "id")) &&
            item_str(dp, "status"));
}

int tg_gitlab_parse_bridges(const struct tg_gitlab_page *page, struct tg_children *out, char *err,
                            size_t errlen)
{
    json_t *items = load_list(page->body, page->len, err, errlen);
    size_t n = items ? json_array_size(items) : 0;
    for (size_t i = 0; i < n; i++)
        if (!is_bridge(json_array_get(items, i))) {
            snprintf(err, errlen,
                     "bridges[%zu] is not a bridge job with downstream_pipeline {id, status}", i);
            json_decref(items);
            return -1;
        }
    out->pipelines =
        tg_xrealloc(out->pipelines, (out->npipelines + n + 1) * sizeof *out->pipelines);
    for (size_t i = 0; i < n; i++) {
        json_t *b = json_array_get(items, i), *dp = json_object_get(b, "downstream_pipeline");
        json_t *pid = json_object_get(dp, "project_id");
        struct tg_child_pipeline *p = &out->pipelines[out->npipelines++];
        p->bridge = tg_xstrdup(item_str(b, "name"));
        p->project_id = json_is_integer(pid) ? json_integer_value(pid) : page->of.project_id;
        p->id = json_is_object(dp) ? json_integer_value(json_object_get(dp, "id")) : 0;
        p->status = tg_xstrdup(json_is_object(dp) ? item_str(dp, "status") : "created");
    }
    int rc = items ? (int)n : -1;
    json_decref(items);
    return rc;
}

int tg_gitlab_parse_jobs(const struct tg_gitlab_page *page, struct tg_children *out, char *err,
                         size_t errlen)
{
    long long project_id = page->of.project_id, pipeline_id = page->of.pipeline_id;
    json_t *items = load_list(page->body, page->len, err, errlen);
    size_t n = items ? json_array_size(items) : 0;
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(items, i);
        if (!json_is_object(j) || !json_is_integer(json_object_get(j, "id")) ||
            !item_str(j, "name") || !item_str(j, "status")) {
            snprintf(err, errlen,
                     "jobs[%zu] of pipeline %lld is not a job with id, name and status", i,
                     pipeline_id);
            json_decref(items);
            return -1;
        }
    }
    out->jobs = tg_xrealloc(out->jobs, (out->njobs + n + 1) * sizeof *out->jobs);
    for (size_t i = 0; i < n; i++) {
        json_t *j = json_array_get(items, i);
        out->jobs[out->njobs++] = (struct tg_child_job){
            project_id, pipeline_id, json_integer_value(json_object_get(j, "id")),
            tg_xstrdup(item_str(j, "name")), tg_xstrdup(item_str(j, "status"))};
    }
    int rc = items ? (int)n : -1;
    json_decref(items);
    return rc;
}

int tg_gitlab_children(struct tg_gitlab_api *api, const struct tg_gitlab_pipeline *of,
                       struct tg_children *out, char *err, size_t errlen)
{
    char why[256] = "", path[128];
    struct walk w = {path, tg_gitlab_parse_bridges, *of, out};
    snprintf(path, sizeof path, "/projects/%lld/pipelines/%lld/bridges", of->project_id,
             of->pipeline_id);
    int rc = get_list(api, &w, why, sizeof why);
    if (rc)
        snprintf(err, errlen, "bridges of pipeline %lld: %s", of->pipeline_id, why);
    for (size_t i = 0; rc == 0 && i < out->npipelines; i++) {
        const struct tg_child_pipeline *p = &out->pipelines[i];
        struct walk jw = {path, tg_gitlab_parse_jobs, {p->project_id, p->id}, out};
        if (p->id == 0)
            continue;
        snprintf(path, sizeof path, "/projects/%lld/pipelines/%lld/jobs", p->project_id, p->id);
        rc = get_list(api, &jw, why, sizeof why);
        if (rc)
            snprintf(err, errlen, "jobs of child pipeline %lld: %s", p->id, why);
    }
    if (rc)
        tg_children_dispose(out);
    return rc;
}

static void form_add(struct tg_gitlab_api *api, struct tg_buf *f, const char *key,
                     const char *value)
{
    char *v = escape(api, value ? value : "");
    if (f->len)
        tg_buf_putc(f, '&');
    tg_buf_printf(f, "%s=%s", key, v);
    memset(v, 0, strlen(v)); /* it may be the trigger token */
    free(v);
}

static void wipe(struct tg_buf *b)
{
    if (b->data)
        memset(b->data, 0, b->cap);
    tg_buf_dispose(b);
}

/* The created pipeline's id and web_url from a 201 answer. */
static void read_pipeline(const struct tg_buf *body, struct tg_gitlab_result *res)
{
    json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
    res->pipeline_id = json_integer_value(json_object_get(j, "id"));
    const char *web = json_string_value(json_object_get(j, "web_url"));
    snprintf(res->web_url, sizeof res->web_url, "%s", web ? web : "");
    json_decref(j);
}

int tg_gitlab_trigger(struct tg_gitlab_api *api, const struct tg_trigger_request *req,
                      struct tg_gitlab_result *res)
{
    struct exchange ex = {.api = api, .timeout_ms = api->trigger_timeout_ms, .fresh = 1};
    struct tg_buf form;
    char *project = escape(api, req->project);
    char *url = tg_xasprintf("%s/api/v4/projects/%s/trigger/pipeline", api->base, project);
    tg_buf_init(&form);
    tg_buf_init(&ex.body);
    form_add(api, &form, "token", req->token && req->token->value ? req->token->value : "");
    form_add(api, &form, "ref", req->ref);
    for (size_t i = 0; i < req->nvars; i++) {
        char *k = escape(api, req->var_names[i]), *key = tg_xasprintf("variables[%s]", k);
        form_add(api, &form, key, req->var_values[i]);
        free(k);
        free(key);
    }
    perform(api, url, form.data, &ex, res);
    if (res->status == 201)
        read_pipeline(&ex.body, res);
    wipe(&form);
    tg_buf_dispose(&ex.body);
    free(url);
    free(project);
    return res->status == 201 ? 0 : -1;
}

int tg_gitlab_cancel_pipeline(struct tg_gitlab_api *api, const char *project, long long pipeline_id,
                              struct tg_gitlab_result *res)
{
    struct exchange ex = {.api = api};
    char *p = escape(api, project);
    char *url =
        tg_xasprintf("%s/api/v4/projects/%s/pipelines/%lld/cancel", api->base, p, pipeline_id);
    tg_buf_init(&ex.body);
    perform(api, url, "", &ex, res);
    tg_buf_dispose(&ex.body);
    free(url);
    free(p);
    return res->status >= 200 && res->status < 300 ? 0 : -1;
}

/* Cuts s to at most max bytes without splitting a UTF-8 character; returns a heap copy. */
static char *cut_utf8(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    return tg_xstrndup(s, n);
}

int tg_gitlab_commit_status(struct tg_gitlab_api *api, const struct tg_commit_status *st,
                            struct tg_gitlab_result *res)
{
    struct exchange ex = {.api = api};
    struct tg_buf form;
    const char *given = st->description ? st->description : "";
    char pid[32], *whole = tg_scrub(given, strlen(given), NULL); /* before the cut: see above */
    char *desc = cut_utf8(whole ? whole : given, 255);
    free(whole);
    char *url =
        tg_xasprintf("%s/api/v4/projects/%lld/statuses/%s", api->base, st->project_id, st->sha);
    tg_buf_init(&form);
    tg_buf_init(&ex.body);
    form_add(api, &form, "state", st->state);
    form_add(api, &form, "name", st->name);
    form_add(api, &form, "description", desc);
    if (st->ref && *st->ref)
        form_add(api, &form, "ref", st->ref);
    if (st->target_url)
        form_add(api, &form, "target_url", st->target_url);
    if (st->pipeline_id > 0) {
        snprintf(pid, sizeof pid, "%lld", st->pipeline_id);
        form_add(api, &form, "pipeline_id", pid);
    }
    perform(api, url, form.data, &ex, res);
    tg_buf_dispose(&form);
    tg_buf_dispose(&ex.body);
    free(url);
    free(desc);
    return res->status >= 200 && res->status < 300 ? 0 : -1;
}

/* ---- reconciliation: which recent trigger pipeline carries a marker ---- */

static void iso_time(uint64_t ms, char *out, size_t outlen)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* GET url as a JSON array (caller decrefs). NULL when the answer is not a 200 holding one;
 * then res says why (status 0 with a reason when the body was unusable). *next: X-Next-Page
 * as in struct exchange (next may be NULL). */
static json_t *get_array(struct tg_gitlab_api *api, const char *url, struct tg_gitlab_result *res,
                         long *next)
{
    struct exchange ex = {.api = api, .cap = MAX_LIST_BODY, .next_page = -1};
    json_t *j = NULL;
    tg_buf_init(&ex.body);
    perform(api, url, NULL, &ex, res);
    if (next)
        *next = ex.next_page;
    if (res->status == 200 && !ex.truncated)
        j = json_loadb(ex.body.data ? ex.body.data : "", ex.body.len, 0, NULL);
    if (res->status == 200 && !json_is_array(j)) {
        snprintf(res->error, sizeof res->error, "%s",
                 ex.truncated ? "answer too large" : "answer is not a JSON array");
        res->status = 0;
        json_decref(j);
        j = NULL;
    } else if (j == NULL && res->error[0] == '\0') {
        snprintf(res->error, sizeof res->error, "HTTP %ld", res->status);
    }
    tg_buf_dispose(&ex.body);
    return j;
}

/* 1 when the variables array holds the marker (its value copied to found). */
static int marker_in(json_t *vars, const struct tg_gitlab_marker *m, char *found, size_t foundlen)
{
    const char *name = m->name, *prefix = m->prefix;
    json_t *v;
    size_t i, plen = strlen(prefix);
    json_array_foreach(vars, i, v)
    {
        const char *k = json_string_value(json_object_get(v, "key"));
        const char *val = json_string_value(json_object_get(v, "value"));
        if (k && val && strcmp(k, name) == 0 && strncmp(val, prefix, plen) == 0) {
            snprintf(found, foundlen, "%s", val);
            return 1;
        }
    }
    return 0;
}

int tg_gitlab_variables_marker(const char *body, size_t len, const struct tg_gitlab_marker *m,
                               char *found, size_t foundlen)
{
    json_t *vars = json_loadb(body, len, 0, NULL);
    int rc = json_is_array(vars) ? marker_in(vars, m, found, foundlen) : -1;
    json_decref(vars);
    return rc;
}

/* One reconciliation scan over the listing, oldest first. */
struct scan {
    struct tg_gitlab_api *api;
    const struct tg_gitlab_marker_query *q;
    struct tg_gitlab_result *res; /* the scan's outcome */
    char *found;                  /* the marker's value once found */
    size_t foundlen;
    char *project;              /* escaped */
    size_t readable, forbidden; /* variables read / answered 403 */
    char unreadable[160];       /* the ids that answered 403, for the message */
    int past;                   /* reached a pipeline created after q->created_before_ms */
    int contiguous; /* every pipeline so far is settled as not ours: the mark may advance */
};

/* 1 when pipeline pid carries the marker (its value copied to s->found), 0 when it does not,
 * -1 when its variables could not be read (s->res says why). */
static int has_marker(struct scan *s, long long pid)
{
    struct tg_gitlab_marker m = {s->q->name, s->q->prefix};
    char *url = tg_xasprintf("%s/api/v4/projects/%s/pipelines/%lld/variables", s->api->base,
                             s->project, pid);
    json_t *vars = get_array(s->api, url, s->res, NULL);
    int rc = vars ? marker_in(vars, &m, s->found, s->foundlen) : -1;
    free(url);
    json_decref(vars);
    return rc;
}

static void note_forbidden(struct scan *s, long long id)
{
    size_t n = strlen(s->unreadable);
    if (n < sizeof s->unreadable - 24)
        snprintf(s->unreadable + n, sizeof s->unreadable - n, "%s#%lld", n ? ", " : "", id);
    else if (!strstr(s->unreadable, "..."))
        snprintf(s->unreadable + n, sizeof s->unreadable - n, ", ...");
    s->forbidden++;
    s->contiguous = 0;
}

/* One pipeline of the listing: 1 ours, 0 not ours or skipped, -1 GitLab failed (res says). A
 * 403 (another token's pipeline, readable only by its owner) or a 404 (deleted since the
 * listing) on its variables does not end the scan. */
static int scan_one(struct scan *s, json_t *p)
{
    struct tg_gitlab_result *res = s->res;
    long long id = json_integer_value(json_object_get(p, "id"));
    uint64_t created = 0;
    const char *c = json_string_value(json_object_get(p, "created_at"));
    if (s->q->created_before_ms && c && tg_parse_time(c, &created) == 0 &&
        created > s->q->created_before_ms) {
        /* created after the last attempt's settle window closed: not ours, nor any later one */
        s->past = 1;
        return 0;
    }
    if (s->q->progress && id <= s->q->progress->scanned_id)
        return 0; /* an earlier check read it */
    int rc = has_marker(s, id);
    if (rc < 0 && (res->status == 403 || res->status == 404)) {
        if (res->status == 403)
            note_forbidden(s, id);
        return 0;
    }
    if (rc == 0)
        s->readable++;
    if (rc == 0 && s->contiguous && s->q->progress && id > s->q->progress->scanned_id)
        s->q->progress->scanned_id = id;
    if (rc == 1) {
        const char *web = json_string_value(json_object_get(p, "web_url"));
        res->pipeline_id = id;
        snprintf(res->web_url, sizeof res->web_url, "%s", web ? web : "");
    }
    return rc;
}

/* One page of the listing: 1 found (res holds the pipeline), 0 not on it, -1 error. *next:
 * the next page, 0 when this was the last (X-Next-Page; by page size only without it). */
static int scan_page(struct scan *s, const char *listing, int page, long *next)
{
    struct tg_gitlab_result *res = s->res;
    json_t *list = get_array(s->api, listing, res, next), *p;
    size_t i;
    int rc = list ? 0 : -1;
    if (list && *next < 0)
        *next = json_array_size(list) == PER_PAGE ? page + 1 : 0;
    json_array_foreach(list, i, p)
    {
        if (tg_mono_ms() > s->q->deadline_mono_ms) {
            snprintf(res->error, sizeof res->error,
                     "GitLab answered too slowly to look through the pipelines");
            res->status = 0;
            if (s->q->progress)
                s->q->progress->cut_short = 1;
            rc = -1;
            break;
        }
        rc = scan_one(s, p);
        if (rc != 0 || s->past)
            break;
    }
    json_decref(list);
    return rc;
}

/* The scan read every listed pipeline it could: 0 absent, or -1 when some could not be read. */
static int scan_verdict(const struct scan *s, struct tg_gitlab_result *res)
{
    if (s->forbidden == 0)
        return 0;
    if (s->readable == 0) { /* nothing readable and a 403: the api_token lacks the right */
        res->status = 403;
        snprintf(res->error, sizeof res->error,
                 "403 on the variables of every listed trigger pipeline (%.100s)", s->unreadable);
    } else {
        res->status = 0;
        snprintf(res->error, sizeof res->error,
                 "absence not proven: the variables of trigger pipeline(s) %.120s "
                 "answered 403 (another trigger token's pipelines?)",
                 s->unreadable);
    }
    return -1;
}

int tg_gitlab_find_marker(struct tg_gitlab_api *api, const struct tg_gitlab_marker_query *q,
                          struct tg_gitlab_result *res, char *found, size_t foundlen)
{
    char after[32];
    struct scan s = {.api = api,
                     .q = q,
                     .res = res,
                     .found = found,
                     .foundlen = foundlen,
                     .project = escape(api, q->project),
                     .contiguous = 1};
    char *ref = escape(api, q->ref);
    int rc = 0;
    long next = 1;
    iso_time(q->updated_after_ms, after, sizeof after);
    for (int n = 0; rc == 0 && next > 0 && !s.past && n < MAX_TRIGGER_PAGES; n++) {
        int page = (int)next;
        char *url =
            tg_xasprintf("%s/api/v4/projects/%s/pipelines?source=trigger&ref=%s&updated_after=%s"
                         "&order_by=id&sort=asc&per_page=%d&page=%d",
                         api->base, s.project, ref, after, PER_PAGE, page);
        rc = scan_page(&s, url, page, &next);
        free(url);
    }
    if (rc == 0 && next > 0 && !s.past) { /* more pages than we read: absence is not proven */
        snprintf(res->error, sizeof res->error, "more than %d trigger pipelines to look through",
                 PER_PAGE * MAX_TRIGGER_PAGES);
        res->status = 0;
        rc = -1;
    }
    if (rc == 0)
        rc = scan_verdict(&s, res);
    free(s.project);
    free(ref);
    return rc;
}
