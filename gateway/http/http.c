/* http.c -- answering HTTP requests: JSON bodies, error objects, asynchronous tickets. */
#include "http/http.h"
#include "base/buf.h"
#include "http/server.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* Lives in the request's pool: when h2o frees the request, dispose tells the ticket. */
struct tg_http_link {
    struct tg_http_ticket *ticket;
};

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 301:
        return "Moved Permanently";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

static uint64_t elapsed_us(const struct timeval *begin)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    int64_t us = (int64_t)(now.tv_sec - begin->tv_sec) * 1000000 + (now.tv_usec - begin->tv_usec);
    return us > 0 ? (uint64_t)us : 0;
}

static void send_body(h2o_req_t *req, int status, const char *content_type, const char *body,
                      size_t len)
{
    req->res.status = status;
    req->res.reason = reason_phrase(status);
    req->res.content_length = len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, content_type,
                   strlen(content_type));
    h2o_send_inline(req, body, len);
}

void tg_http_reply(h2o_req_t *req, enum tg_route route, const struct tg_http_answer *a)
{
    struct timeval begin = req->timestamps.request_begin_at;
    send_body(req, a->status, a->content_type, a->body, a->len);
    tg_metrics_http(route, a->status, elapsed_us(&begin));
}

static void error_body(struct tg_buf *b, const char *error, const char *detail)
{
    tg_buf_puts(b, "{\"error\":");
    tg_buf_json_cstr(b, error);
    if (detail) {
        tg_buf_puts(b, ",\"detail\":");
        tg_buf_json_cstr(b, detail);
    }
    tg_buf_puts(b, "}\n");
}

void tg_http_error(h2o_req_t *req, enum tg_route route, int status, const char *error,
                   const char *detail)
{
    struct tg_buf b;
    tg_buf_init(&b);
    error_body(&b, error, detail);
    tg_http_reply(req, route, &(struct tg_http_answer){status, "application/json", b.data, b.len});
    tg_buf_dispose(&b);
}

void tg_http_retry_after(h2o_req_t *req, int seconds)
{
    char v[16];
    int n = snprintf(v, sizeof v, "%d", seconds);
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL,
                   h2o_strdup(&req->pool, v, (size_t)n).base, (size_t)n);
}

int tg_http_ticket_gone(const struct tg_http_ticket *t)
{
    return __atomic_load_n(&t->gone, __ATOMIC_ACQUIRE);
}

static void uncount(struct tg_http_ticket *t)
{
    if (!t->counted)
        return;
    t->counted = 0;
    tg_loop_inflight_add(t->loop, -1);
}

static void on_link_dispose(void *p)
{
    struct tg_http_link *link = p;
    if (link->ticket == NULL)
        return;
    link->ticket->req = NULL; /* the client went away before the answer */
    __atomic_store_n(&link->ticket->gone, 1, __ATOMIC_RELEASE);
    link->ticket->link = NULL;
    uncount(link->ticket);
}

void tg_http_ticket_init(struct tg_http_ticket *t, h2o_req_t *req, enum tg_route route)
{
    t->req = req;
    t->loop = tg_loop_of(req);
    t->route = route;
    t->begin = req->timestamps.request_begin_at;
    t->link = h2o_mem_alloc_shared(&req->pool, sizeof *t->link, on_link_dispose);
    t->link->ticket = t;
    t->counted = 1;
    t->gone = 0;
    tg_loop_inflight_add(t->loop, 1);
}

void tg_http_ticket_reply(struct tg_http_ticket *t, int status, const char *body, size_t len)
{
    tg_http_ticket_reply_typed(t, status, "application/json", body, len);
}

void tg_http_ticket_reply_typed(struct tg_http_ticket *t, int status, const char *content_type,
                                const char *body, size_t len)
{
    if (t->req) {
        t->link->ticket = NULL;
        send_body(t->req, status, content_type ? content_type : "application/json", body, len);
        tg_metrics_http(t->route, status, elapsed_us(&t->begin));
    }
    t->req = NULL;
    t->link = NULL;
    uncount(t);
}

void tg_http_ticket_error(struct tg_http_ticket *t, int status, const char *error,
                          const char *detail)
{
    struct tg_buf b;
    tg_buf_init(&b);
    error_body(&b, error, detail);
    tg_http_ticket_reply(t, status, b.data, b.len);
    tg_buf_dispose(&b);
}

h2o_iovec_t tg_http_header(h2o_req_t *req, const char *lcname)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, lcname, strlen(lcname), -1);
    if (i < 0)
        return h2o_iovec_init(NULL, 0);
    return req->headers.entries[i].value;
}

int tg_http_method_is(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

void tg_http_peer(h2o_req_t *req, char *out, size_t outlen)
{
    tg_server_client_address(req, out, outlen);
}
