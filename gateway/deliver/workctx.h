/* workctx.h -- what a worker thread holds while it handles one event or one retry: its
 * blocking Redis connection, its GitLab client, its audit writer and the config in force.
 *
 * Also the two things every step does: append an audit record about a deployment target
 * and report a state back on the commit. Worker threads only.
 */
#ifndef TG_WORKCTX_H
#define TG_WORKCTX_H

#include "audit/audit.h"
#include "base/config.h"
#include "deliver/gitlab_api.h"

#include <hiredis.h>

struct tg_work {
    redisContext *rc;
    struct tg_config *cfg; /* a reference, held for one unit of work */
    struct tg_gitlab_api *api;
    struct tg_audit *audit;
    char owner[160];        /* host:pid:thread, the lease owner */
    const atomic_int *stop; /* optional: the process is stopping (long transfers end early) */
};

/* What a step is about. Strings borrowed. */
struct tg_target {
    long long project_id;
    const char *project; /* path */
    const char *ref;
    const char *sha;
    long long pipeline;
    const char *environment;
    const char *user;  /* GitLab username of the pipeline's user */
    long long user_id; /* their GitLab user id; 0 unknown */
    /* The link a commit status carries instead of the audit link: DefectDojo's test of the
     * deployment's reports once one was forwarded (GitLab keeps a status's link, so the link
     * changes only with a status whose state changes anyway). NULL: the audit link. */
    const char *status_link;
};

/* The target of a deployment record (strings borrowed from it). */
struct tg_deployment;
void tg_work_target_load(const struct tg_deployment *d, struct tg_target *t);
/* Fills the record's target fields from t (action, reasons etc. stay the caller's). */
void tg_work_record_target(struct tg_audit_record *r, const struct tg_target *t);
/* Appends r; logs a failure. Returns 0, or -1 when the append failed AND audit.fail_closed
 * says the step must not go on. */
int tg_work_audit(struct tg_work *w, const struct tg_audit_record *r);
/* Posts commit status tollgate/<environment> (state as GitLab names it) with a description
 * cut to 255 bytes and, when public_url is set, a link to this pipeline's audit records.
 * Best effort: a failure is logged and counted, never fatal. */
void tg_work_status(struct tg_work *w, const struct tg_target *t, const char *state,
                    const char *description);

#endif
