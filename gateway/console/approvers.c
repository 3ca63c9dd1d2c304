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

/* The level of q->identity in group: 0, or -1 with err when GitLab could not tell; -2 when
 * the query reads the cache only and it holds no answer. */
static int level_in(const struct tg_approver_query *q, const char *group, int *level, char *err,
                    size_t errlen)
{
    struct tg_membership_query mq = {
        .cfg = q->cfg, .rc = q->rc, .group = group, .username = q->identity};
    if (q->cached_only)
        return tg_membership_cached(&mq, level) ? 0 : -2;
    return tg_membership_level(&mq, level, err, errlen) ? -1 : 0;
}

/* Why a level below any access refuses, into buf (nothing for a plain non-member). */
static void inactive_reason(const struct tg_approver_query *q, const char *group, int level,
                            char *buf, size_t buflen)
{
    if (level == TG_MEMBER_INACTIVE)
        snprintf(buf, buflen,
                 "GitLab reports %s's account as not active (blocked or deactivated): no group "
                 "makes them an approver",
                 q->identity);
    else if (level == TG_MEMBER_AWAITING)
        snprintf(buf, buflen,
                 "%s's membership of group %s awaits approval in GitLab: it does not make them "
                 "an approver yet",
                 q->identity, group);
}

/* 1 member of a listed group at the level, 0 of none (buf may say why), -1 GitLab could not
 * tell for a group (buf names it) and no other group made them one, -2 not cached (a page
 * view, cached_only). */
static int group_member(const struct tg_approver_query *q, char *buf, size_t buflen)
{
    int unknown = 0;
    *buf = '\0';
    for (char **a = q->rules->approvers; a && *a; a++) {
        char why[200];
        int level = 0;
        const char *group = *a + strlen(TG_APPROVERS_GROUP);
        if (!is_group(*a))
            continue;
        int rc = level_in(q, group, &level, why, sizeof why);
        if (rc == -1 && unknown != -1)
            snprintf(buf, buflen,
                     "GitLab could not confirm %s's membership of group %s (%s); the vote is "
                     "refused until it can",
                     q->identity, group, why);
        if (rc < 0)
            unknown = unknown == -1 ? -1 : rc; /* a failure outweighs a cache miss */
        else if (level >= q->cfg->console.approver_min_access)
            return 1;
        else if (level < 0 && unknown == 0)
            inactive_reason(q, group, level, buf, buflen);
    }
    return unknown;
}

const char *tg_approvers_refusal(const struct tg_approver_query *q, char *buf, size_t buflen)
{
    const struct tg_approval_rule *r = q->rules;
    struct tg_approval_ask ask = {q->identity, q->user, q->deny, q->identity_id, q->user_id};
    if (q->identity == NULL || *q->identity == '\0' || decided_by_name(r, q->identity))
        return tg_approval_refusal(r, &ask, buf, buflen);
    int m = group_member(q, buf, buflen);
    if (m == -2) {
        snprintf(buf, buflen,
                 "unknown until you vote: GitLab is asked then whether a listed group makes %s "
                 "an approver",
                 q->identity);
        if (q->unknown)
            *q->unknown = 1;
        return buf;
    }
    if (m < 0 || (m == 0 && *buf))
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
