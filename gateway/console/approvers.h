/* approvers.h -- who may vote on a deployment, with group approvers resolved at vote time.
 *
 * A policy's approvers may name GitLab groups ("group:platform/sre"): a person not named
 * directly qualifies through a group where GitLab gives them at least
 * console.approver_min_access (Developer). The OIDC groups claim of a sign-in can be hours
 * old, so it is never used here: GitLab is asked (membership.h). When GitLab cannot answer,
 * the vote is refused with that reason (fail closed). Separation of duties
 * (prevent_self_approval) holds either way. API pool and worker threads.
 */
#ifndef TG_APPROVERS_H
#define TG_APPROVERS_H

#include "approvals/approval.h"
#include "base/config.h"

#include <hiredis.h>

#define TG_APPROVERS_GROUP "group:"

struct tg_approver_query {
    const struct tg_config *cfg;
    redisContext *rc; /* the membership cache; may be NULL */
    const struct tg_approval_rule *rules;
    const char *identity; /* the voter (GitLab username); NULL: an unmapped chat user */
    const char *user;     /* the pipeline's user */
    int deny;
    long long identity_id, user_id; /* GitLab user ids, 0 unknown (tg_approval_ask) */
    int cached_only;                /* a page view: never ask GitLab, only the membership cache */
    int *unknown;                   /* NULL, or set to 1 when cached_only left the answer unknown */
};

/* Why q->identity may not approve (deny 0) or deny, into buf; NULL when they may. Like
 * tg_approval_refusal, with the "group:" entries of the approvers resolved through GitLab
 * (refused with the reason when GitLab reports the account or the membership not active).
 * With cached_only, a membership not in the cache is not asked for: the reason says "unknown
 * until you vote" and *unknown is set. */
const char *tg_approvers_refusal(const struct tg_approver_query *q, char *buf, size_t buflen);

#endif
