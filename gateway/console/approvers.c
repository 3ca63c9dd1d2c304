/* approvers.c -- approver rules with GitLab group approvers (approvers.h). */
#include "console/approvers.h"
#include "base/buf.h"
#include "console/membership.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int is_group(const char *a)
{
    return strncmp(a, TG_APPROVERS_GROUP, strlen(TG_APPROVERS_GROUP)) == 0;
}

/* 1 when the rules name identity itself, or name no group at all (nothing to resolve). */
static int decided_by_name(const struct tg_approval_rule *r, const char *identity)
{
    int groups = 0;
    for (char **a = r->approvers; a && *a; a++) {
        if (!is_group(*a) && strcasecmp(*a, identity) == 0)
            return 1;
        groups |= is_group(*a);
    }
    return !groups;
}

/* 1 member of a listed group at the level, 0 of none, -1 GitLab could not tell for a group
 * (err names it) and no other group made them one. */
static int group_member(const struct tg_approver_query *q, char *err, size_t errlen)
{
    int unknown = 0;
    for (char **a = q->rules->approvers; a && *a; a++) {
        char why[200];
        int level = 0;
        const char *group = *a + strlen(TG_APPROVERS_GROUP);
        if (!is_group(*a))
            continue;
        struct tg_membership_query mq = {
            .cfg = q->cfg, .rc = q->rc, .group = group, .username = q->identity};
        if (tg_membership_level(&mq, &level, why, sizeof why)) {
            if (!unknown)
                snprintf(err, errlen,
                         "GitLab could not confirm %s's membership of group %s (%s); the vote is "
                         "refused until it can",
                         q->identity, group, why);
            unknown = 1;
        } else if (level >= q->cfg->console.approver_min_access) {
            return 1;
        }
    }
    return unknown ? -1 : 0;
}

const char *tg_approvers_refusal(const struct tg_approver_query *q, char *buf, size_t buflen)
{
    const struct tg_approval_rule *r = q->rules;
    struct tg_approval_ask ask = {q->identity, q->user, q->deny};
    if (q->identity == NULL || *q->identity == '\0' || decided_by_name(r, q->identity))
        return tg_approval_refusal(r, &ask, buf, buflen);
    int m = group_member(q, buf, buflen);
    if (m < 0)
        return buf;
    if (m == 0) {
        snprintf(buf, buflen,
                 "%s is not an approver of this environment (not named, and no listed group "
                 "gives them access level %d or more)",
                 q->identity, q->cfg->console.approver_min_access);
        return buf;
    }
    char *self[] = {(char *)q->identity, NULL};
    struct tg_approval_rule as_named = *r;
    as_named.approvers = self; /* a member counts as named; the other rules still apply */
    return tg_approval_refusal(&as_named, &ask, buf, buflen);
}
