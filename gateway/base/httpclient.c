/* httpclient.c -- the libcurl set-up behind httpclient.h. Blocking: worker, pool, CLI. */
#include "base/httpclient.h"
#include "base/retryafter.h"
#include "base/log.h"
#include "base/util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    curl_mime *mime; /* the multipart body, when req->parts */
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

int tg_httpc_header_value(const char *line, size_t n, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    if (outlen == 0 || n <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return 0;
    const char *v = line + nl + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && strchr(" \t\r\n", end[-1]))
        end--;
    size_t vl = (size_t)(end - v) < outlen - 1 ? (size_t)(end - v) : outlen - 1;
    memcpy(out, v, vl);
    out[vl] = '\0';
    return 1;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct exchange *ex = arg;
    char v[64];
    /* seconds or an HTTP-date (RFC 9110 10.2.3), at most a week; callers clamp further */
    if (tg_httpc_header_value(p, size * n, "Retry-After", v, sizeof v))
        ex->res->retry_after_ms = tg_retry_after_ms(v, tg_now_ms());
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

static size_t part_read(char *buf, size_t size, size_t n, void *arg)
{
    const struct tg_httpc_part *p = arg;
    size_t got = p->read(p->arg, buf, size * n);
    return got == TG_HTTPC_READ_ABORT ? CURL_READFUNC_ABORT : got;
}

static int part_seek(void *arg, curl_off_t offset, int origin)
{
    const struct tg_httpc_part *p = arg;
    if (p->seek == NULL || origin != SEEK_SET || offset < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    return p->seek(p->arg, (uint64_t)offset) == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
}

static curl_mime *multipart(CURL *c, const struct tg_httpc_request *req)
{
    curl_mime *m = curl_mime_init(c);
    for (size_t i = 0; i < req->nparts; i++) {
        const struct tg_httpc_part *p = &req->parts[i];
        curl_mimepart *mp = curl_mime_addpart(m);
        curl_mime_name(mp, p->name);
        if (p->value) {
            curl_mime_data(mp, p->value, CURL_ZERO_TERMINATED);
            continue;
        }
        curl_mime_filename(mp, p->filename);
        curl_mime_type(mp, p->type);
        curl_mime_data_cb(mp, (curl_off_t)p->size, part_read, part_seek, NULL, (void *)p);
    }
    return m;
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
    if (req->parts) {
        ex->mime = multipart(c, req);
        curl_easy_setopt(c, CURLOPT_MIMEPOST, ex->mime);
    } else if (req->read) {
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
    struct exchange ex = {c->curl, req, res, NULL};
    char *next = NULL;
    memset(res, 0, sizeof *res);
    tg_buf_init(&res->body);
    struct curl_slist *h = header_list(req);
    set_options(c->curl, req, h, &ex);
    CURLcode rc = curl_easy_perform(c->curl);
    curl_slist_free_all(h);
    curl_mime_free(ex.mime);
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
