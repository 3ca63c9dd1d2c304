/* log.c -- structured logs: one JSON object per line, one write(2) per line. */
#include "base/log.h"
#include "base/scrub.h"
#include "base/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK 4096 /* at most PIPE_BUF per write: a pipe never interleaves it */

static int log_fd = 2;
static enum tg_log_level log_min = TG_LOG_INFO;
static _Thread_local struct tg_buf *thread_lines; /* set on event-loop threads */

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void tg_log_setup(int fd, enum tg_log_level min)
{
    log_fd = fd;
    log_min = min;
}

int tg_log_enabled(enum tg_log_level lvl)
{
    return lvl >= log_min;
}

int tg_log_begin(struct tg_logline *l, enum tg_log_level lvl, const char *module, const char *event)
{
    char ts[40];
    tg_buf_init(&l->buf);
    l->on = tg_log_enabled(lvl);
    if (!l->on)
        return 0;
    tg_rfc3339(ts, sizeof ts, tg_now_ms());
    tg_buf_printf(&l->buf, "{\"ts\":\"%s\",\"level\":\"%s\",\"module\":", ts, level_names[lvl]);
    tg_buf_json_cstr(&l->buf, module);
    tg_buf_puts(&l->buf, ",\"event\":");
    tg_buf_json_cstr(&l->buf, event);
    return 1;
}

static void key(struct tg_logline *l, const char *k)
{
    tg_buf_putc(&l->buf, ',');
    tg_buf_json_cstr(&l->buf, k);
    tg_buf_putc(&l->buf, ':');
}

void tg_log_str(struct tg_logline *l, const char *k, const char *val)
{
    if (!l->on)
        return;
    key(l, k);
    tg_buf_json_cstr(&l->buf, val);
}

void tg_log_strn(struct tg_logline *l, const char *k, const char *val, size_t n)
{
    if (!l->on)
        return;
    key(l, k);
    tg_buf_json_str(&l->buf, val, n);
}

void tg_log_int(struct tg_logline *l, const char *k, long long val)
{
    if (!l->on)
        return;
    key(l, k);
    tg_buf_printf(&l->buf, "%lld", val);
}

void tg_log_json(struct tg_logline *l, const char *k, const char *json)
{
    if (!l->on)
        return;
    key(l, k);
    tg_buf_puts(&l->buf, json ? json : "null");
}

static void write_all(const char *p, size_t n)
{
    for (size_t off = 0; off < n;) {
        ssize_t w = write(log_fd, p + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
}

void tg_log_flush(void)
{
    struct tg_buf *b = thread_lines;
    size_t off = 0;
    if (b == NULL)
        return;
    while (off < b->len) { /* whole lines, at most CHUNK bytes a write unless one line is longer */
        size_t n = b->len - off;
        if (n > CHUNK) {
            const char *nl = memrchr(b->data + off, '\n', CHUNK);
            n = nl ? (size_t)(nl - (b->data + off)) + 1
                   : (size_t)((char *)memchr(b->data + off, '\n', b->len - off) - (b->data + off)) +
                         1;
        }
        write_all(b->data + off, n);
        off += n;
    }
    tg_buf_reset(b);
}

void tg_log_thread_buffered(int on)
{
    if (on && thread_lines == NULL) {
        thread_lines = tg_xcalloc(1, sizeof *thread_lines);
    } else if (!on && thread_lines) {
        tg_log_flush();
        tg_buf_dispose(thread_lines);
        free(thread_lines);
        thread_lines = NULL;
    }
}

void tg_log_end(struct tg_logline *l)
{
    if (l->on) {
        tg_buf_puts(&l->buf, "}\n");
        size_t n;
        char *clean =
            tg_scrub(l->buf.data, l->buf.len, &n); /* token characters need no JSON escapes */
        if (clean) {
            tg_buf_reset(&l->buf);
            tg_buf_append(&l->buf, clean, n);
            free(clean);
        }
        if (thread_lines) {
            tg_buf_append(thread_lines, l->buf.data, l->buf.len);
            if (thread_lines->len >= CHUNK)
                tg_log_flush();
        } else {
            write_all(l->buf.data, l->buf.len);
        }
    }
    tg_buf_dispose(&l->buf);
}

/* What a one-shot line is: its level, module and event, and an "error" field or NULL. */
struct line_head {
    enum tg_log_level lvl;
    const char *module;
    const char *event;
    const char *err;
};

static void vmsg(const struct line_head *h, const char *fmt, va_list ap)
{
    struct tg_logline l;
    const char *err = h->err;
    if (!tg_log_begin(&l, h->lvl, h->module, h->event))
        return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    tg_log_str(&l, "msg", msg);
    if (err)
        tg_log_str(&l, "error", err);
    tg_log_end(&l);
}

void tg_log_msg(enum tg_log_level lvl, const char *module, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(&(struct line_head){lvl, module, event, NULL}, fmt, ap);
    va_end(ap);
}

void tg_log_errno(enum tg_log_level lvl, const char *module, const char *event, const char *fmt,
                  ...)
{
    char err[256];
    int e = errno;
    va_list ap;
    snprintf(err, sizeof err, "%s", strerror(e));
    va_start(ap, fmt);
    vmsg(&(struct line_head){lvl, module, event, err}, fmt, ap);
    va_end(ap);
}

void tg_log_fatal(const char *module, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg(&(struct line_head){TG_LOG_ERROR, module, event, NULL}, fmt, ap);
    va_end(ap);
    exit(1);
}
