/* buf.h -- a growable byte buffer, with JSON string escaping for the writers that build JSON
 * by hand.
 *
 * The buffer is always NUL-terminated after its len bytes. Growth cannot fail (tg_xrealloc).
 */
#ifndef TG_BUF_H
#define TG_BUF_H

#include <stddef.h>
#include <stdint.h>

struct tg_buf {
    char *data;
    size_t len;
    size_t cap;
};

/* An empty buffer; tg_buf_dispose frees what it grew. */
void tg_buf_init(struct tg_buf *b);
void tg_buf_dispose(struct tg_buf *b);
void tg_buf_reset(struct tg_buf *b);
/* Hands the bytes to the caller (who frees them) and leaves b empty. */
char *tg_buf_steal(struct tg_buf *b);

void tg_buf_append(struct tg_buf *b, const void *p, size_t n);
void tg_buf_puts(struct tg_buf *b, const char *s);
void tg_buf_putc(struct tg_buf *b, char c);
void tg_buf_printf(struct tg_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a quoted JSON string; control bytes, quotes and backslashes are escaped and
 * invalid UTF-8 bytes become U+FFFD, so the output is always valid JSON. */
void tg_buf_json_str(struct tg_buf *b, const char *s, size_t n);
/* Convenience for NUL-terminated strings; NULL appends the literal null. */
void tg_buf_json_cstr(struct tg_buf *b, const char *s);

/* Length (1-4) of the valid UTF-8 sequence at s (n bytes available), or 0 when it is not
 * valid: overlong forms, surrogates and code points above U+10FFFF are invalid. */
size_t tg_utf8_seq_len(const char *s, size_t n);

#endif
