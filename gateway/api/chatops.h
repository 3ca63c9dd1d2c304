/* chatops.h -- what Slack and Mattermost requests have in common: form bodies, chat users
 * mapped to identities, the `/tollgate` commands and the answers people read.
 *
 * Commands (the text after the slash command):
 *   approve ID [comment]   deny ID reason   status ID   pending   help
 * The handlers in chatops_slack.c and chatops_mattermost.c authenticate the request first and
 * call in here only for a genuine one. API pool threads; nothing here keeps state.
 */
#ifndef TG_CHATOPS_H
#define TG_CHATOPS_H

#include "api/api.h"
#include "approvals/approval.h"
#include "approvals/chat_message.h"
#include "base/config.h"
#include "http/tally.h"
#include "deliver/workctx.h"

#include <stddef.h>

/* The URL-decoded value of name in an application/x-www-form-urlencoded body of len bytes,
 * NUL-terminated (the first one; "name" without "=" is absent), as a heap string, or NULL. */
char *tg_chatops_form_value(const char *body, size_t len, const char *name);

/* The identity a chat user maps to in chat->users: by user id, else by user name (either may
 * be NULL). Borrowed from the config; NULL when unmapped. */
const char *tg_chatops_identity(const struct tg_chat *chat, const char *user_id,
                                const char *user_name);

enum tg_chatops_verb { TG_CMD_HELP, TG_CMD_APPROVE, TG_CMD_DENY, TG_CMD_STATUS, TG_CMD_PENDING };

struct tg_chatops_command {
    enum tg_chatops_verb verb;
    char id[TG_APPROVAL_ID_MAX + 8]; /* as typed (cut); checked when looked up */
    char *text;                      /* approve: the comment, deny: the reason (heap, or NULL) */
    const char *error;               /* why the text was not understood (verb is then HELP) */
};
/* Parses a command's text. Returns 0, or -1 with cmd->error set (a usage answer follows).
 * Release with tg_chatops_command_dispose either way. */
int tg_chatops_parse(const char *text, struct tg_chatops_command *cmd);
void tg_chatops_command_dispose(struct tg_chatops_command *cmd);

/* Who asks, from where. */
struct tg_chatops_caller {
    enum tg_chat_service chat;
    const char *user_id;
    const char *user_name;
};

/* A command's run: the answer text (heap) and, for approve/deny, the vote and its result for
 * tg_chatops_follow_up after answering. */
struct tg_chatops_run {
    char *answer;
    int voted;
    struct tg_vote vote;
    struct tg_vote_result result;
};
/* Runs cmd for caller: looks up, votes, or lists (Redis only, fast). Release run with
 * tg_chatops_run_dispose. cmd and caller must outlive run (the vote borrows from them). */
void tg_chatops_execute(struct tg_work *w, const struct tg_chatops_caller *caller,
                        const struct tg_chatops_command *cmd, struct tg_chatops_run *run);
/* After answering: commit status and chat notices of a vote (none to the chats in skip). */
void tg_chatops_follow_up(struct tg_work *w, struct tg_chatops_run *run, unsigned skip);
void tg_chatops_run_dispose(struct tg_chatops_run *run);

/* Answers a slash command (Slack and Mattermost send the same form: text, user_id, user_name)
 * ephemerally, then follows up. Call after authenticating the request. Mattermost user names
 * map to identities too; Slack's are changeable by their owners and are ignored. */
void tg_chatops_slash(struct tg_api_ctx *ctx, struct tg_work *w, const struct tg_api_request *req,
                      enum tg_chat_service chat);

/* The text answering a vote result in chat (caller frees). */
char *tg_chatops_vote_answer(const struct tg_chat_texts *t, const struct tg_vote *v,
                             const struct tg_vote_result *r);

/* Counts a refused chat request for the per-minute rejected summary in the audit trail
 * (tally.h: the main thread writes one record per minute and reason, never one per request). */
void tg_chatops_reject(struct tg_tally *tally, enum tg_chat_service chat, const char *reason,
                       const char *remote);

#endif
