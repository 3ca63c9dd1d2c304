/* unit_files.h -- files for the loader tests: fixtures, scratch directories, diagnostics.
 *
 * Header-only like unit.h: each test binary is one translation unit. Fixtures are read from
 * $TG_FIXTURES (scripts/test.sh sets it; tests/fixtures when unset, from the repo root).
 */
#ifndef TG_UNIT_FILES_H
#define TG_UNIT_FILES_H

#include "base/diag.h"
#include "unit.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* $TG_FIXTURES/rel as a heap string (caller frees), or NULL after saying which file. */
static inline char *unit_fixture(const char *rel, size_t *len)
{
    const char *dir = getenv("TG_FIXTURES") ? getenv("TG_FIXTURES") : "tests/fixtures";
    char *path = tg_xasprintf("%s/%s", dir, rel);
    char *data = tg_read_file(path, len);
    if (data == NULL)
        fprintf(stderr, "cannot read %s\n", path);
    free(path);
    return data;
}

static inline void unit_write(const char *dir, const char *name, const char *text)
{
    char *path = tg_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    free(path);
}

/* Removes the NULL-terminated names from dir, then dir. */
static inline void unit_cleanup(const char *dir, const char *const *names)
{
    for (; *names; names++) {
        char *p = tg_xasprintf("%s/%s", dir, *names);
        unlink(p);
        free(p);
    }
    rmdir(dir);
}

/* One check that a load was refused (refused != 0) with want among its messages. */
static inline void unit_refused(const char *name, int refused, const struct tg_diag *diag,
                                const char *want)
{
    char *all = tg_diag_join(diag);
    UNIT_CHECK(name, refused && diag->errors > 0 && strstr(all, want) != NULL);
    if (strstr(all, want) == NULL)
        fprintf(stderr, "  [%s] got: %s\n", name, all);
    free(all);
}

#endif
