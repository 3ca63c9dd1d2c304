/* maint.h -- the main thread's housekeeping while the gateway runs: per-minute summaries of
 * refused and ignored deliveries into the audit trail, records of configuration reloads, and
 * the audit head logged at shutdown (so a copy kept elsewhere anchors the chain).
 *
 * Main thread only; uses its own blocking Redis connection, made on first need.
 */
#ifndef TG_MAINT_H
#define TG_MAINT_H

#include "audit/audit.h"
#include "base/config.h"
#include "http/tally.h"

struct tg_maint;

/* config and tally are borrowed. */
struct tg_maint *tg_maint_new(struct tg_config_holder *config, struct tg_tally *tally);
void tg_maint_free(struct tg_maint *m);

/* Records the minutes that ended. */
void tg_maint_tick(struct tg_maint *m);
/* Appends one record (a reload, say); logs a failure. */
void tg_maint_record(struct tg_maint *m, const struct tg_audit_record *r);
/* At shutdown: records every pending summary and logs the audit head. */
void tg_maint_final(struct tg_maint *m);

#endif
