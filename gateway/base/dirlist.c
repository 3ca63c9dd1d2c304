/* dirlist.c -- the files of a directory with a given suffix, in name order.
 *
 * Read once per load (start-up, reload, check); never on a request path.
 */
#include "base/dirlist.h"
#include "base/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int wanted(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    return name[0] != '.' && n > s && strcmp(name + n - s, suffix) == 0;
}

char **tg_dirlist(const char *dir, const char *suffix, struct tg_diag *diag)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        tg_diag_error(diag, dir, 0, 0, "cannot read directory: %s", strerror(errno));
        return NULL;
    }
    size_t n = 0, cap = 8;
    char **v = tg_xcalloc(cap + 1, sizeof *v);
    struct dirent *ent;
    while ((ent = readdir(d)) != NULL) {
        if (!wanted(ent->d_name, suffix))
            continue;
        if (n == cap) {
            cap *= 2;
            v = tg_xrealloc(v, (cap + 1) * sizeof *v);
        }
        v[n++] = tg_xstrdup(ent->d_name);
    }
    closedir(d);
    if (n > 1) /* never a NULL array to qsort, even of 0 elements */
        qsort(v, n, sizeof *v, by_name);
    for (size_t i = 0; i < n; i++) {
        char *name = v[i];
        v[i] = tg_xasprintf("%s/%s", dir, name);
        free(name);
    }
    v[n] = NULL;
    return v;
}
