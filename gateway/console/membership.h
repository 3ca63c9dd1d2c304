/* membership.h -- GitLab group membership at vote time, for group approvers
 * (approvers: [alice, "group:platform/sre"]).
 *
 * GET /api/v4/users?username=<u> (doc/api/users.md) gives the user's id, then
 * GET /api/v4/groups/<url-encoded full path>/members/all/<id> (doc/api/members.md, inherited
 * members included) the access level; 404 is "not a member". Answers are cached in Redis for
 * console.membership_cache under <prefix>console:member:<hex SHA-256 of "group\nuser"> (owned
 * here); a failure is never cached. With gitlab.api_token. API pool and worker threads.
 */
#ifndef TG_MEMBERSHIP_H
#define TG_MEMBERSHIP_H

#include "base/config.h"

#include <hiredis.h>

/* Whose membership of which group, asked with cfg's GitLab and cached in rc (NULL: no cache).
 * All borrowed. */
struct tg_membership_query {
    const struct tg_config *cfg;
    redisContext *rc;
    const char *group;    /* the full path */
    const char *username; /* GitLab's username */
};

/* Levels below any access: the user's account is not active (blocked, deactivated: the users
 * or members answer's state), or the membership awaits approval (membership_state). */
#define TG_MEMBER_INACTIVE (-1)
#define TG_MEMBER_AWAITING (-2)

/* The access level of q->username in q->group (0: not a member, unknown user; TG_MEMBER_*).
 * Returns 0 with *level, or -1 with err (GitLab did not answer, or answered something else). */
int tg_membership_level(const struct tg_membership_query *q, int *level, char *err, size_t errlen);

/* The cached level only (never asks GitLab, for page views): 1 with *level, 0 when not cached. */
int tg_membership_cached(const struct tg_membership_query *q, int *level);

/* The user id from a "List users" answer: the entry whose username equals username. Returns
 * 1 with *id when its state is "active", 2 with *id when it is not (blocked, deactivated), 0
 * when there is none, -1 when body is not a JSON array. */
int tg_membership_parse_user(const char *body, size_t len, const char *username, long long *id);

#endif
