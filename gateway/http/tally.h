/* tally.h -- per-minute counts of refused and ignored deliveries, for the audit trail.
 *
 * A flood of bad requests must not flood the audit log: the loops count them here by minute,
 * action (rejected, ignored) and reason, and the main thread turns each finished minute into
 * one audit record. Any thread; a mutex guards the table.
 */
#ifndef TG_TALLY_H
#define TG_TALLY_H

#include <jansson.h>
#include <stdint.h>

struct tg_tally;

struct tg_tally *tg_tally_new(void);
void tg_tally_free(struct tg_tally *t);

/* One refused or ignored request. */
struct tg_tally_entry {
    const char *action;  /* rejected, ignored */
    const char *reason;  /* the error name, or the ignored event */
    int status;          /* the HTTP status answered */
    const char *webhook; /* the webhook's name; NULL for an unknown token */
    const char *remote;  /* the client's address */
};

/* Counts one request at now_ms. Strings are copied. */
void tg_tally_add(struct tg_tally *t, const struct tg_tally_entry *e, uint64_t now_ms);

/* Hands each finished minute's bucket (every bucket when all) to fn as (action, details),
 * where details is {"reason","status","count","minute","webhook","remotes"} (fn borrows it),
 * and forgets it. Returns how many were handed over. */
typedef void (*tg_tally_fn)(void *arg, const char *action, json_t *details);
int tg_tally_flush(struct tg_tally *t, uint64_t now_ms, int all, tg_tally_fn fn, void *arg);

#endif
