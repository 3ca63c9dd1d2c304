/* diag.h -- error and warning messages collected while loading files, each with file:line:col.
 *
 * Loaders report every fault they find (not only the first) into a tg_diag, and the caller
 * decides whether to print them (tollgate check) or log them (a refused reload).
 */
#ifndef TG_DIAG_H
#define TG_DIAG_H

#include <stddef.h>
#include <stdio.h>

struct tg_diag_msg {
    int is_error;
    char *text; /* "file:line:col: error: message" */
};

struct tg_diag {
    struct tg_diag_msg *msgs;
    size_t count;
    size_t errors;
    size_t warnings;
};

void tg_diag_init(struct tg_diag *d);
void tg_diag_dispose(struct tg_diag *d);
/* line and col are 1-based; 0 leaves them out. */
void tg_diag_error(struct tg_diag *d, const char *file, size_t line, size_t col, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));
void tg_diag_warn(struct tg_diag *d, const char *file, size_t line, size_t col, const char *fmt,
                  ...) __attribute__((format(printf, 5, 6)));
/* Prints every message, one per line. */
void tg_diag_print(const struct tg_diag *d, FILE *out);
/* All messages joined by "; " in a heap string (for a log field); caller frees. */
char *tg_diag_join(const struct tg_diag *d);

#endif
