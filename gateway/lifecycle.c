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

/* The distinct statuses of the jobs (Tollgate's own left out), as GitLab's composite counts
 * them: a failed or canceled job that may fail is success_with_warnings, such a manual one
 * is ignored. */
struct status_set {
    const char *s[32];
    size_t n, more; /* more: statuses beyond the array (never matches "only") */
};

static void set_add(struct status_set *set, const char *status)
{
    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->s[i], status) == 0)
            return;
    if (set->n < TG_ARRAY_SIZE(set->s))
        set->s[set->n++] = status;
    else
        set->more = 1;
}

static int set_any(const struct status_set *set, const char *const *names)
{
    for (size_t i = 0; i < set->n; i++)
        for (const char *const *p = names; *p; p++)
            if (strcmp(set->s[i], *p) == 0)
                return 1;
    return 0;
}

static int set_only(const struct status_set *set, const char *const *names)
{
    for (size_t i = 0; i < set->n; i++) {
        const char *const *p = names;
        while (*p && strcmp(set->s[i], *p) != 0)
            p++;
        if (*p == NULL)
            return 0;
    }
    return set->n > 0 && !set->more;
}

const char *tg_lifecycle_jobs_status(const struct tg_event *ev)
{
    struct status_set set = {0};
    for (size_t i = 0; i < ev->nbuilds; i++) {
        const struct tg_build *b = &ev->builds[i];
        if (tg_lifecycle_own_status(b->name))
            continue;
        int lenient = b->allow_failure && (!strcmp(b->status, "failed") || !strcmp(b->status, "canceled"));
        set_add(&set, lenient ? "success_with_warnings"
                              : b->allow_failure && !strcmp(b->status, "manual") ? "ignored" : b->status);
    }
    if (set.n == 0)
        return NULL;
    /* GitLab's order (lib/gitlab/ci/status/composite.rb): the first rule that holds wins */
    static const struct {
        int only;
        const char *names[6];
        const char *status;
    } rules[] = {
        {1, {"skipped", "ignored"}, "skipped"},
        {1, {"success", "skipped", "success_with_warnings", "ignored"}, "success"},
        {1, {"created", "success_with_warnings", "ignored"}, "created"},
        {1, {"preparing", "success_with_warnings", "ignored"}, "preparing"},
        {1, {"canceled", "success", "skipped", "success_with_warnings", "ignored"}, "canceled"},
        {1, {"pending", "created", "skipped", "success_with_warnings", "ignored"}, "pending"},
        {0, {"running", "pending"}, "running"},
        {0, {"waiting_for_resource"}, "waiting_for_resource"},
        {0, {"waiting_for_callback"}, "waiting_for_callback"},
        {0, {"manual"}, "manual"},
        {0, {"scheduled"}, "scheduled"},
        {0, {"preparing"}, "preparing"},
        {0, {"created"}, "running"},
        {0, {"canceling"}, "canceling"},
    };
    for (size_t i = 0; i < TG_ARRAY_SIZE(rules); i++)
        if (rules[i].only ? set_only(&set, rules[i].names) : set_any(&set, rules[i].names))
            return rules[i].status;
    return "failed";
}

const char *tg_lifecycle_status(const struct tg_event *ev)
{
    const char *hook = ev->pipeline_status;
    if (hook == NULL || (strcmp(hook, "running") != 0 && strcmp(hook, "pending") != 0))
        return hook;
    const char *jobs = tg_lifecycle_jobs_status(ev);
    return jobs && (!strcmp(jobs, "failed") || !strcmp(jobs, "canceled")) ? jobs : hook;
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
