/* diag.c -- error and warning messages collected while loading files. */
#include "base/diag.h"
#include "base/buf.h"
#include "base/util.h"

#include <stdarg.h>
#include <stdlib.h>

void tg_diag_init(struct tg_diag *d)
{
    d->msgs = NULL;
    d->count = d->errors = d->warnings = 0;
}

void tg_diag_dispose(struct tg_diag *d)
{
    for (size_t i = 0; i < d->count; i++)
        free(d->msgs[i].text);
    free(d->msgs);
    tg_diag_init(d);
}

/* Where a fault is: file, and line and column when known (0: not known). */
struct place {
    const char *file;
    size_t line, col;
};

static void add(struct tg_diag *d, int is_error, const struct place *at, const char *fmt,
                va_list ap)
{
    struct tg_buf b;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    tg_buf_init(&b);
    tg_buf_puts(&b, at->file ? at->file : "-");
    if (at->line)
        tg_buf_printf(&b, ":%zu", at->line);
    if (at->line && at->col)
        tg_buf_printf(&b, ":%zu", at->col);
    tg_buf_printf(&b, ": %s: %s", is_error ? "error" : "warning", msg);
    d->msgs = tg_xrealloc(d->msgs, (d->count + 1) * sizeof *d->msgs);
    d->msgs[d->count].is_error = is_error;
    d->msgs[d->count].text = tg_buf_steal(&b);
    d->count++;
    if (is_error)
        d->errors++;
    else
        d->warnings++;
}

void tg_diag_error(struct tg_diag *d, const char *file, size_t line, size_t col, const char *fmt,
                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(d, 1, &(struct place){file, line, col}, fmt, ap);
    va_end(ap);
}

void tg_diag_warn(struct tg_diag *d, const char *file, size_t line, size_t col, const char *fmt,
                  ...)
{
    va_list ap;
    va_start(ap, fmt);
    add(d, 0, &(struct place){file, line, col}, fmt, ap);
    va_end(ap);
}

void tg_diag_print(const struct tg_diag *d, FILE *out)
{
    for (size_t i = 0; i < d->count; i++)
        fprintf(out, "%s\n", d->msgs[i].text);
}

char *tg_diag_join(const struct tg_diag *d)
{
    struct tg_buf b;
    tg_buf_init(&b);
    for (size_t i = 0; i < d->count; i++) {
        if (i)
            tg_buf_puts(&b, "; ");
        tg_buf_puts(&b, d->msgs[i].text);
    }
    return tg_buf_steal(&b);
}
