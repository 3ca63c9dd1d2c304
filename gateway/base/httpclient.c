/* httpclient.c -- the libcurl set-up behind httpclient.h. Blocking: worker, pool, CLI. */
#include "base/httpclient.h"
#include "base/log.h"
#include "base/util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_MODULE      "http_client"
#define DEFAULT_CAP    65536
#define MAX_CONNECT_MS 5000
#define TG_HTTPC_AGENT "tollgate/1.0"

struct tg_httpc {
    CURL *curl;
};

/* One exchange in progress: what libcurl's callbacks need. */
struct exchange {
    CURL *curl;
    const struct tg_httpc_request *req;
    struct tg_httpc_response *res;
};

void tg_httpc_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void tg_httpc_global_cleanup(void)
{
    curl_global_cleanup();
}

struct tg_httpc *tg_httpc_new(void)
{
    struct tg_httpc *c = tg_xcalloc(1, sizeof *c);
    c->curl = curl_easy_init();
    if (c->curl == NULL)
        TG_LOG_FATAL("curl_init", "curl_easy_init failed");
    return c;
}

void tg_httpc_free(struct tg_httpc *c)
{
    if (c == NULL)
        return;
    curl_easy_cleanup(c->curl);
    free(c);
}

static void capture(struct exchange *ex, const char *p, size_t len)
{
    struct tg_httpc_response *res = ex->res;
    size_t cap = ex->req->body_cap ? ex->req->body_cap : DEFAULT_CAP;
    if (res->body.len + len <= cap)
        tg_buf_append(&res->body, p, len);
    else
        res->truncated = 1;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct exchange *ex = arg;
    size_t len = size * n;
    if (ex->req->on_body) {
        long status = 0;
        curl_easy_getinfo(ex->curl, CURLINFO_RESPONSE_CODE, &status);
        int r = ex->req->on_body(ex->req->body_arg, status, p, len);
        if (r == TG_HTTPC_STOP) {
            ex->res->stopped = 1;
            return 0; /* aborts the transfer */
        }
        if (r == TG_HTTPC_TAKEN)
            return len;
    }
    capture(ex, p, len);
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct exchange *ex = arg;
    if (ex->req->on_header)
        ex->req->on_header(ex->req->header_arg, p, size * n);
    return size * n;
}

/* libcurl calls this about once a second and at every chunk: a stopping process's transfer
 * ends there instead of running into its timeout. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    const struct exchange *ex = arg;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return atomic_load(ex->req->abort) != 0;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
    struct exchange *ex = arg;
    size_t got = ex->req->read(ex->req->read_arg, buf, size * n);
    return got == TG_HTTPC_READ_ABORT ? CURL_READFUNC_ABORT : got;
}

static struct curl_slist *header_list(const struct tg_httpc_request *req)
{
    struct curl_slist *h = curl_slist_append(NULL, "Expect:"); /* no 100-continue round trip */
    for (size_t i = 0; req->headers && req->headers[i]; i++)
        h = curl_slist_append(h, req->headers[i]);
    return h;
}

static void set_body(CURL *c, const struct tg_httpc_request *req, struct exchange *ex)
{
    if (req->read) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(c, CURLOPT_READDATA, ex);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->read_len);
    } else if (req->body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->bodylen);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body);
    }
    if (req->method)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req->method);
}

static void set_options(CURL *c, const struct tg_httpc_request *req, struct curl_slist *h,
                        struct exchange *ex)
{
    uint64_t connect = req->connect_timeout_ms            ? req->connect_timeout_ms
                       : req->timeout_ms < MAX_CONNECT_MS ? req->timeout_ms
                                                          : MAX_CONNECT_MS;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)connect);
    if (req->fresh_connect)
        curl_easy_setopt(c, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, TG_HTTPC_AGENT);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, ex);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, ex);
    if (req->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, req->ca_file);
    if (req->abort) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, ex);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    set_body(c, req, ex);
}

/* 0 when curl failed before any byte of the request could reach the server (no address,
 * no connection, no TLS session, or a timeout before the transfer began), else 1. */
static int may_have_left(CURL *c, CURLcode rc)
{
    curl_off_t pretransfer = 0;
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        curl_easy_getinfo(c, CURLINFO_PRETRANSFER_TIME_T, &pretransfer);
        return pretransfer > 0;
    default:
        return 1;
    }
}

int tg_httpc_perform(struct tg_httpc *c, const struct tg_httpc_request *req,
                     struct tg_httpc_response *res)
{
    struct exchange ex = {c->curl, req, res};
    char *next = NULL;
    memset(res, 0, sizeof *res);
    tg_buf_init(&res->body);
    struct curl_slist *h = header_list(req);
    set_options(c->curl, req, h, &ex);
    CURLcode rc = curl_easy_perform(c->curl);
    curl_slist_free_all(h);
    if (rc != CURLE_OK && !res->stopped) {
        snprintf(res->error, sizeof res->error, "%s", curl_easy_strerror(rc));
        res->sent = may_have_left(c->curl, rc);
        return -1;
    }
    res->sent = 1;
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &res->status);
    if (res->status >= 300 && res->status < 400 &&
        curl_easy_getinfo(c->curl, CURLINFO_REDIRECT_URL, &next) == CURLE_OK && next)
        res->redirect = tg_xstrdup(next);
    return res->stopped ? -1 : 0;
}

void tg_httpc_response_dispose(struct tg_httpc_response *res)
{
    tg_buf_dispose(&res->body);
    free(res->redirect);
    res->redirect = NULL;
}

char *tg_httpc_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *out = tg_xstrdup(e ? e : "");
    curl_free(e);
    return out;
}
