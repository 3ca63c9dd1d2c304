/* lifecycle.c -- where one Pipeline Hook stands in its pipeline's life (see lifecycle.h).
 * Worker threads. */
#include "lifecycle.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tg_lifecycle_kind tg_lifecycle_kind(const char *status)
{
    if (tg_pipeline_status_is_final(status))
        return TG_LIFECYCLE_TERMINAL;
    return status && strcmp(status, "manual") == 0 ? TG_LIFECYCLE_MANUAL : TG_LIFECYCLE_PASSING;
}

int tg_lifecycle_own_status(const char *name)
{
    return name && strncmp(name, "tollgate/", 9) == 0;
}

static int by_id(const void *a, const void *b)
{
    const struct tg_build *x = *(const struct tg_build *const *)a, *y = *(const struct tg_build *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

void tg_lifecycle_fingerprint(const struct tg_event *ev, struct tg_lifecycle_print *out)
{
    const struct tg_build **order = ev->nbuilds ? tg_xcalloc(ev->nbuilds, sizeof *order) : NULL;
    size_t n = 0;
    for (size_t i = 0; i < ev->nbuilds; i++)
        if (!tg_lifecycle_own_status(ev->builds[i].name))
            order[n++] = &ev->builds[i];
    if (n)
        qsort(order, n, sizeof *order, by_id);
    struct tg_sha256 h;
    char line[96];
    tg_sha256_init(&h);
    out->rank = 0;
    for (size_t i = 0; i < n; i++) {
        int len = snprintf(line, sizeof line, "%lld:%.64s\n", order[i]->id, order[i]->status);
        tg_sha256_update(&h, line, (size_t)len);
        out->rank = order[i]->id > out->rank ? order[i]->id : out->rank;
    }
    unsigned char digest[TG_SHA256_LEN];
    tg_sha256_final(&h, digest);
    tg_hex_encode(digest, sizeof digest, out->builds);
    free(order);
}

int tg_lifecycle_children_pending(struct tg_work *w, const struct tg_event *ev, const struct tg_decision *d,
                                  char *why, size_t whylen)
{
    (void)w;
    (void)ev;
    (void)d;
    if (whylen)
        why[0] = '\0';
    return 0;
}
