/* buf.c -- a growable byte buffer, with JSON string escaping. */
#include "base/buf.h"
#include "base/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tg_buf_init(struct tg_buf *b)
{
    b->data = NULL;
    b->len = b->cap = 0;
}

void tg_buf_dispose(struct tg_buf *b)
{
    free(b->data);
    tg_buf_init(b);
}

void tg_buf_reset(struct tg_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *tg_buf_steal(struct tg_buf *b)
{
    char *p = b->data ? b->data : tg_xstrdup("");
    tg_buf_init(b);
    return p;
}

static void reserve(struct tg_buf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    b->data = tg_xrealloc(b->data, cap);
    b->cap = cap;
}

void tg_buf_append(struct tg_buf *b, const void *p, size_t n)
{
    reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void tg_buf_puts(struct tg_buf *b, const char *s)
{
    tg_buf_append(b, s, strlen(s));
}

void tg_buf_putc(struct tg_buf *b, char c)
{
    tg_buf_append(b, &c, 1);
}

void tg_buf_printf(struct tg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n <= 0)
        return;
    reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 when the bytes are not valid UTF-8. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        cp = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        cp = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        cp = s[0] & 0x07;
    } else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

size_t tg_utf8_seq_len(const char *s, size_t n)
{
    return n ? utf8_len((const unsigned char *)s, n) : 0;
}

void tg_buf_json_str(struct tg_buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    tg_buf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            tg_buf_append(b, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            tg_buf_printf(b, "\\u%04x", c);
            i++;
        } else {
            size_t l = utf8_len(p + i, n - i);
            if (l == 0) {
                tg_buf_puts(b, "\\ufffd");
                i++;
            } else {
                tg_buf_append(b, p + i, l);
                i += l;
            }
        }
    }
    tg_buf_putc(b, '"');
}

void tg_buf_json_cstr(struct tg_buf *b, const char *s)
{
    if (s == NULL)
        tg_buf_puts(b, "null");
    else
        tg_buf_json_str(b, s, strlen(s));
}
