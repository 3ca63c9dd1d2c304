/* unit.h -- the whole unit-test framework: one check macro and a summary.
 *
 * A test file is a table of {name, input, expected} rows and a loop over it; each check
 * names the row, so a failure says which case broke. The binary exits 1 if any check failed.
 */
#ifndef TG_UNIT_H
#define TG_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_checks, unit_failed;

#define UNIT_CHECK(name, cond)                                                                     \
    do {                                                                                           \
        unit_checks++;                                                                             \
        if (!(cond)) {                                                                             \
            unit_failed++;                                                                         \
            fprintf(stderr, "FAIL %s:%d [%s]: %s\n", __FILE__, __LINE__, (name), #cond);           \
        }                                                                                          \
    } while (0)

#define UNIT_STREQ(name, got, want)                                                                \
    do {                                                                                           \
        const char *g_ = (got), *w_ = (want);                                                      \
        unit_checks++;                                                                             \
        if ((g_ == NULL) != (w_ == NULL) || (g_ && strcmp(g_, w_) != 0)) {                         \
            unit_failed++;                                                                         \
            fprintf(stderr, "FAIL %s:%d [%s]: got \"%s\", want \"%s\"\n", __FILE__, __LINE__,      \
                    (name), g_ ? g_ : "(null)", w_ ? w_ : "(null)");                               \
        }                                                                                          \
    } while (0)

/* Prints "<prog>: N checks, M failed" and returns the exit status for main. */
static inline int unit_summary(const char *prog)
{
    printf("%s: %d checks, %d failed\n", prog, unit_checks, unit_failed);
    return unit_failed ? 1 : 0;
}

#endif
