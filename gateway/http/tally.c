/* tally.c -- per-minute counts of refused and ignored deliveries. */
#include "http/tally.h"
#include "base/util.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BUCKETS 256
#define MAX_REMOTES 3

struct bucket {
    uint64_t minute;
    char action[16];
    char reason[64];
    char webhook[64];
    int status;
    uint64_t count;
    char remotes[MAX_REMOTES][64];
    int nremotes;
};

struct tg_tally {
    pthread_mutex_t mu;
    struct bucket b[MAX_BUCKETS];
    int n;
};

struct tg_tally *tg_tally_new(void)
{
    struct tg_tally *t = tg_xcalloc(1, sizeof *t);
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

void tg_tally_free(struct tg_tally *t)
{
    if (t == NULL)
        return;
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static struct bucket *find(struct tg_tally *t, uint64_t minute, const char *action,
                           const char *reason, const char *webhook)
{
    for (int i = 0; i < t->n; i++) {
        struct bucket *b = &t->b[i];
        if (b->minute == minute && !strcmp(b->action, action) &&
            !strncmp(b->reason, reason, sizeof b->reason - 1) &&
            !strncmp(b->webhook, webhook, sizeof b->webhook - 1))
            return b;
    }
    if (t->n == MAX_BUCKETS) /* a flood of distinct reasons: count them together */
        return find(t, minute, action, "other", "");
    struct bucket *b = &t->b[t->n++];
    memset(b, 0, sizeof *b);
    b->minute = minute;
    snprintf(b->action, sizeof b->action, "%s", action);
    snprintf(b->reason, sizeof b->reason, "%s", reason);
    snprintf(b->webhook, sizeof b->webhook, "%s", webhook);
    return b;
}

void tg_tally_add(struct tg_tally *t, const struct tg_tally_entry *e, uint64_t now_ms)
{
    const char *remote = e->remote;
    pthread_mutex_lock(&t->mu);
    struct bucket *b =
        find(t, now_ms / 60000 * 60000, e->action, e->reason, e->webhook ? e->webhook : "");
    b->status = e->status;
    b->count++;
    int known = 0;
    for (int i = 0; i < b->nremotes; i++)
        known |= strcmp(b->remotes[i], remote) == 0;
    if (!known && b->nremotes < MAX_REMOTES)
        snprintf(b->remotes[b->nremotes++], sizeof b->remotes[0], "%s", remote);
    pthread_mutex_unlock(&t->mu);
}

static json_t *details_of(const struct bucket *b)
{
    char minute[40];
    tg_rfc3339(minute, sizeof minute, b->minute);
    json_t *remotes = json_array();
    for (int i = 0; i < b->nremotes; i++)
        json_array_append_new(remotes, json_string(b->remotes[i]));
    return json_pack("{s:s, s:i, s:I, s:s, s:s?, s:o}", "reason", b->reason, "status", b->status,
                     "count", (json_int_t)b->count, "minute", minute, "webhook",
                     *b->webhook ? b->webhook : NULL, "remotes", remotes);
}

int tg_tally_flush(struct tg_tally *t, uint64_t now_ms, int all, tg_tally_fn fn, void *arg)
{
    struct bucket done[MAX_BUCKETS];
    int ndone = 0, keep = 0;
    uint64_t current = now_ms / 60000 * 60000;
    pthread_mutex_lock(&t->mu);
    for (int i = 0; i < t->n; i++) {
        if (all || t->b[i].minute < current)
            done[ndone++] = t->b[i];
        else
            t->b[keep++] = t->b[i];
    }
    t->n = keep;
    pthread_mutex_unlock(&t->mu);
    for (int i = 0; i < ndone; i++) { /* outside the lock: fn does I/O */
        json_t *d = details_of(&done[i]);
        fn(arg, done[i].action, d);
        json_decref(d);
    }
    return ndone;
}
