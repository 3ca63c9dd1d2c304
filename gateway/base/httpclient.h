/* httpclient.h -- one blocking HTTP exchange through libcurl: the only place Tollgate sets
 * libcurl up (timeouts, protocols, TLS trust, headers, a plain, streamed or multipart body,
 * the answer captured with a cap, Retry-After, error text). No other file includes libcurl
 * (scripts/style.sh checks).
 *
 * Worker threads, the API pool and the CLI use it; event loops never do (scripts/style.sh
 * checks). A client is one reusable connection cache for one thread. Redirects are never
 * followed here: the caller sees the target (redirect) and decides, so that credentials in
 * its headers never reach another host unasked. Error text is libcurl's description of what
 * failed, which names neither the URL nor a header: no secret can leak through it.
 */
#ifndef TG_HTTPCLIENT_H
#define TG_HTTPCLIENT_H

#include "base/buf.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct tg_httpc;

/* Process-wide libcurl set-up: call once before any thread starts, and cleanup at exit. */
void tg_httpc_global_init(void);
void tg_httpc_global_cleanup(void);

/* A client (fatal when libcurl cannot make a handle). tg_httpc_free(NULL) does nothing. */
struct tg_httpc *tg_httpc_new(void);
void tg_httpc_free(struct tg_httpc *c);

/* Streaming upload: fills buf with up to cap bytes of the request body; returns how many, 0 at
 * the end, or TG_HTTPC_READ_ABORT to fail the request. */
#define TG_HTTPC_READ_ABORT ((size_t)-1)
typedef size_t (*tg_httpc_read_fn)(void *arg, char *buf, size_t cap);
/* Streaming download: a piece of the answer's body, with the answer's status. Returns
 * TG_HTTPC_TAKEN (consumed), TG_HTTPC_CAPTURE (not for this status: capture it into the
 * response as without a callback) or TG_HTTPC_STOP (abort the transfer: response.stopped). */
enum { TG_HTTPC_TAKEN, TG_HTTPC_CAPTURE, TG_HTTPC_STOP };
typedef int (*tg_httpc_body_fn)(void *arg, long status, const char *p, size_t n);
/* One answer header line as received ("Name: value\r\n"), e.g. for X-Next-Page. */
typedef void (*tg_httpc_header_fn)(void *arg, const char *line, size_t n);
/* Rewinds a streamed part to offset bytes from its start (libcurl resends a body when a
 * connection it reused turns out dead); 0, or -1 when it cannot. */
typedef int (*tg_httpc_seek_fn)(void *arg, uint64_t offset);

/* One part of a multipart/form-data body (RFC 7578). A field: name and value (sent as is). A
 * file: name, filename, type (its Content-Type) and size bytes streamed from read (and seek),
 * with value NULL. Strings are borrowed for the call. */
struct tg_httpc_part {
    const char *name;
    const char *value;
    const char *filename;
    const char *type;
    uint64_t size;
    tg_httpc_read_fn read;
    tg_httpc_seek_fn seek;
    void *arg;
};

struct tg_httpc_request {
    const char *method; /* NULL: POST when there is a body or read callback, else GET */
    const char *url;
    const char *const *headers; /* "Name: value" lines, NULL-terminated; may hold credentials */
    const char *body;           /* the request body (copied by nobody: must outlive the call) */
    size_t bodylen;
    tg_httpc_read_fn read; /* instead of body: streamed (read_len bytes, -1: chunked) */
    void *read_arg;
    long long read_len;
    const struct tg_httpc_part *parts; /* instead of both: a multipart/form-data POST */
    size_t nparts;
    uint64_t timeout_ms;         /* the whole exchange */
    uint64_t connect_timeout_ms; /* 0: min(timeout_ms, 5 s) */
    const char *ca_file;         /* NULL: the system's trust store */
    int fresh_connect;           /* a new connection: never re-sent on a dead reused one */
    size_t body_cap;             /* the captured answer's cap (0: 64 KiB); beyond: truncated */
    tg_httpc_body_fn on_body;    /* optional: stream the answer's body */
    void *body_arg;
    tg_httpc_header_fn on_header; /* optional */
    void *header_arg;
    const atomic_int *abort; /* optional: once nonzero the transfer stops within about a second
                                (libcurl's progress callback), res->error says it was aborted */
};

struct tg_httpc_response {
    long status;             /* the HTTP status; 0 when there was no answer */
    int sent;                /* 0: the request certainly never reached the server (no address,
                                connection refused, TLS failed, timeout before the transfer) */
    int stopped;             /* on_body stopped the transfer */
    struct tg_buf body;      /* the captured answer (without on_body, or what it left) */
    int truncated;           /* the answer went over body_cap */
    char *redirect;          /* a 3xx's target (not followed), else NULL */
    uint64_t retry_after_ms; /* Retry-After (RFC 9110 10.2.3: seconds or an HTTP-date) in ms
                                from now, at most a week; 0 when absent, past or unreadable */
    char error[256];         /* why there was no answer, "" when there was one */
};

/* Performs the exchange. Returns 0 when an answer came (any status: see res->status), -1 when
 * none did (res->error says why) or on_body stopped it (res->status is the answer's). res is
 * initialised here; release it with tg_httpc_response_dispose. */
int tg_httpc_perform(struct tg_httpc *c, const struct tg_httpc_request *req,
                     struct tg_httpc_response *res);
void tg_httpc_response_dispose(struct tg_httpc_response *res);

/* When line (as on_header gets it) is the header name (case-insensitive), copies its value,
 * blanks and the line end trimmed, cut to outlen - 1 bytes, into out and returns 1; else 0. */
int tg_httpc_header_value(const char *line, size_t n, const char *name, char *out, size_t outlen);

/* s percent-encoded for a URL (RFC 3986 unreserved characters kept); caller frees. */
char *tg_httpc_escape(const char *s);

#endif
