/* jsonval.c -- is this body one JSON object? Answered by yajl without building a tree. */
#include "jsonval.h"
#include "buf.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

struct depth {
    int depth;
    yajl_handle h;
    size_t end; /* offset just after the top-level object's closing brace */
};

static int on_open(void *ctx)
{
    struct depth *d = ctx;
    return ++d->depth <= TG_JSON_MAX_DEPTH;
}

static int on_close(void *ctx)
{
    struct depth *d = ctx;
    if (--d->depth == 0)
        d->end = yajl_get_bytes_consumed(d->h);
    return 1;
}


/* The worker reads bodies with jansson, which refuses integers beyond 64 bits and reals
 * beyond a double; refuse them here too, so an accepted body is a readable one. */
static int on_number(void *ctx, const char *num, size_t len)
{
    char *buf = tg_xstrndup(num, len), *end;
    int ok;
    (void)ctx;
    errno = 0;
    if (strpbrk(buf, ".eE") == NULL)
        ok = (strtoll(buf, &end, 10), errno != ERANGE);
    else
        ok = isfinite(strtod(buf, &end));
    free(buf);
    return ok;
}

static const yajl_callbacks callbacks = {
    .yajl_number = on_number,
    .yajl_start_map = on_open,
    .yajl_end_map = on_close,
    .yajl_start_array = on_open,
    .yajl_end_array = on_close,
};

/* yajl is looser than RFC 8259 where the worker's jansson is strict: it lets overlong UTF-8
 * through and takes \v and \f as white space. Raw bytes below 0x20 other than tab, CR and
 * LF are invalid anywhere in JSON (strings must escape them), so one pass over the bytes
 * closes both gaps and makes what ingest accepts exactly what the worker can read. */
static int check_bytes(const char *buf, size_t len, char *err, size_t errlen)
{
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)buf[i];
        size_t l = c < 0x80 ? 1 : tg_utf8_seq_len(buf + i, len - i);
        if (l == 0 || (c < 0x20 && c != '\t' && c != '\n' && c != '\r')) {
            snprintf(err, errlen, "body is not valid JSON at byte %zu: %s", i,
                     l == 0 ? "invalid UTF-8" : "raw control character");
            return -1;
        }
        i += l;
    }
    return 0;
}

static int only_space(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            return 0;
    return 1;
}

static void yajl_reason(yajl_handle h, const char *buf, size_t len, char *err, size_t errlen)
{
    unsigned char *msg = yajl_get_error(h, 0, (const unsigned char *)buf, len);
    size_t n = msg ? strcspn((const char *)msg, "\n") : 0;
    snprintf(err, errlen, "body is not valid JSON at byte %zu: %.*s", yajl_get_bytes_consumed(h), (int)n,
             msg ? (const char *)msg : "parse error");
    if (msg)
        yajl_free_error(h, msg);
}

int tg_json_validate_object(const char *buf, size_t len, char *err, size_t errlen)
{
    struct depth d = {0};
    size_t i = 0;
    while (i < len && only_space(buf + i, 1))
        i++;
    if (i == len) {
        snprintf(err, errlen, "body is empty");
        return -1;
    }
    if (buf[i] != '{') {
        snprintf(err, errlen, "body is not a JSON object (byte %zu is '%c')", i,
                 buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '?');
        return -1;
    }
    if (check_bytes(buf, len, err, errlen))
        return -1;
    yajl_handle h = yajl_alloc(&callbacks, NULL, &d);
    d.h = h;
    yajl_config(h, yajl_dont_validate_strings, 1);
    yajl_status st = yajl_parse(h, (const unsigned char *)buf, len);
    if (st == yajl_status_ok && d.end > 0 && !only_space(buf + d.end, len - d.end)) {
        /* yajl buffers a partial token after the object and never reports it */
        snprintf(err, errlen, "body is not valid JSON at byte %zu: data after the object", d.end);
        yajl_free(h);
        return -1;
    }
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    int rc = 0;
    if (st == yajl_status_client_canceled) {
        if (d.depth > TG_JSON_MAX_DEPTH)
            snprintf(err, errlen, "body nests deeper than %d levels (byte %zu)", TG_JSON_MAX_DEPTH,
                     yajl_get_bytes_consumed(h));
        else
            snprintf(err, errlen, "body has a number out of range (byte %zu)", yajl_get_bytes_consumed(h));
        rc = -1;
    } else if (st != yajl_status_ok) {
        yajl_reason(h, buf, len, err, errlen);
        rc = -1;
    }
    yajl_free(h);
    return rc;
}
