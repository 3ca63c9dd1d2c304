/* jsonval.c -- is this body one JSON object? Answered by yajl without building a tree. */
#include "jsonval.h"

#include <stdio.h>
#include <string.h>
#include <yajl/yajl_parse.h>

struct depth {
    int depth;
};

static int on_open(void *ctx)
{
    struct depth *d = ctx;
    return ++d->depth <= TG_JSON_MAX_DEPTH;
}

static int on_close(void *ctx)
{
    struct depth *d = ctx;
    d->depth--;
    return 1;
}


static const yajl_callbacks callbacks = {
    .yajl_start_map = on_open,
    .yajl_end_map = on_close,
    .yajl_start_array = on_open,
    .yajl_end_array = on_close,
};

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
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
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
    yajl_handle h = yajl_alloc(&callbacks, NULL, &d);
    yajl_status st = yajl_parse(h, (const unsigned char *)buf, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);
    int rc = 0;
    if (st == yajl_status_client_canceled) {
        snprintf(err, errlen, "body nests deeper than %d levels (byte %zu)", TG_JSON_MAX_DEPTH,
                 yajl_get_bytes_consumed(h));
        rc = -1;
    } else if (st != yajl_status_ok) {
        yajl_reason(h, buf, len, err, errlen);
        rc = -1;
    }
    yajl_free(h);
    return rc;
}
