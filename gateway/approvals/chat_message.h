/* chat_message.h -- what Tollgate says in Slack and Mattermost: the texts (templates/chat-*.yaml),
 * the messages built from them, and the HTTP posts that deliver them.
 *
 * Texts come from <templates>/chat-slack.yaml and chat-mattermost.yaml (top-level `kind: chat`,
 * which the trigger-template loader skips). They are read each time a message is built (messages
 * are rare, and a changed file needs no reload); a missing file or key falls back to plain
 * built-in texts. Every {{ name }} is checked when the file loads: an unknown one makes the file
 * an error (logged once per load; the built-in texts are used instead). Placeholder values are
 * escaped for the chat (Slack mrkdwn: &, <, >); template text is not. Any thread; posting blocks
 * (libcurl, at most TG_CHAT_TIMEOUT_MS). No secret is ever logged: not the webhook URLs (they
 * are credentials), not the bot token, not the button secret.
 */
#ifndef TG_CHAT_MESSAGE_H
#define TG_CHAT_MESSAGE_H

#include "base/config.h"
#include "base/diag.h"

#include <jansson.h>
#include <stddef.h>

#define TG_CHAT_TIMEOUT_MS 4000

enum tg_chat_service { TG_CHAT_SLACK, TG_CHAT_MATTERMOST, TG_CHAT_COUNT };
#define TG_CHAT_BIT(c) (1u << (c))

/* The texts a chat template may set (YAML key in brackets). */
enum tg_chat_text {
    TG_TEXT_REQUEST,        /* [request] the body of an approval request */
    TG_TEXT_FALLBACK,       /* [notification] the notification line of a request */
    TG_TEXT_APPROVE_BUTTON, /* [approve_button] */
    TG_TEXT_DENY_BUTTON,    /* [deny_button] */
    TG_TEXT_DENY_CONFIRM,   /* [deny_confirm] Slack's are-you-sure dialog on Deny */
    TG_TEXT_VOTE,           /* [vote] an approval counted, quorum not reached yet */
    TG_TEXT_APPROVED,       /* [approved] quorum reached: the deploy is being triggered */
    TG_TEXT_DENIED,         /* [denied] */
    TG_TEXT_EXPIRED,        /* [expired] */
    TG_TEXT_SUPERSEDED,     /* [superseded] */
    TG_TEXT_WITHDRAWN,      /* [withdrawn] the pipeline turned failed/canceled while it waited */
    TG_TEXT_VOIDED,         /* [voided] a policy change voided the approvals: asked again */
    TG_TEXT_STATUS,         /* [status] answer to `status ID` */
    TG_TEXT_PENDING_LINE,   /* [pending_line] one line of the answer to `pending` */
    TG_TEXT_PENDING_NONE,   /* [pending_none] */
    TG_TEXT_UNKNOWN_ID,     /* [unknown_id] */
    TG_TEXT_REFUSED,        /* [refused] {{ detail }} says why */
    TG_TEXT_DUPLICATE,      /* [duplicate] a second click by the same person */
    TG_TEXT_HELP,           /* [help] */
    TG_TEXT_COUNT
};

/* The placeholders ({{ name }} in brackets). */
enum tg_chat_var {
    TG_VAR_ID,           /* [deployment.id] */
    TG_VAR_STATE,        /* [deployment.state] */
    TG_VAR_PROJECT,      /* [project] path with namespace */
    TG_VAR_PIPELINE,     /* [pipeline.id] */
    TG_VAR_PIPELINE_URL, /* [pipeline.url] */
    TG_VAR_REF,          /* [ref] */
    TG_VAR_SHA,          /* [sha] */
    TG_VAR_SHA_SHORT,    /* [sha_short] 8 characters */
    TG_VAR_ENVIRONMENT,  /* [environment] */
    TG_VAR_USER,         /* [user] who ran the pipeline */
    TG_VAR_REASON,       /* [reason] the main reason */
    TG_VAR_REASONS,      /* [reasons] every reason, one "- " line each */
    TG_VAR_FINDINGS,     /* [findings] the top findings, one "- " line each */
    TG_VAR_AUDIT_URL,    /* [audit_url] public_url/api/v1/audit?project=..&pipeline=.. */
    TG_VAR_VOTES,        /* [votes] approvals counted */
    TG_VAR_REQUIRED,     /* [required] approvals needed */
    TG_VAR_APPROVERS,    /* [approvers] who may approve */
    TG_VAR_VOTERS,       /* [voters] who approved so far */
    TG_VAR_EXPIRES,      /* [expires_at] RFC 3339 */
    TG_VAR_ACTOR,        /* [actor] who acted (an identity, or a chat user) */
    TG_VAR_COMMENT,      /* [comment] the approval comment or the denial reason */
    TG_VAR_DETAIL,       /* [detail] refusals: why */
    TG_VAR_COUNT
};

/* What a message is about. Strings borrowed; a NULL var renders as "". */
struct tg_chat_subject {
    const char *var[TG_VAR_COUNT];
    const unsigned char *context_key; /* signs the Mattermost buttons' context (32 bytes) */
    long long context_expires_s;      /* the contexts' expiry, Unix seconds */
    int round;                        /* the request round the buttons belong to */
    int buttons;                      /* 1 while pending: offer Approve and Deny */
};

struct tg_chat_texts;

/* The texts for chat under cfg's templates directory (built-in texts where the file or a key is
 * missing, or when the file has errors, which are logged). Never NULL; free with
 * tg_chat_texts_free. */
struct tg_chat_texts *tg_chat_texts_load(const struct tg_config *cfg, enum tg_chat_service chat);
/* Parses one chat template from memory (name is used in messages). NULL with faults in diag. */
struct tg_chat_texts *tg_chat_texts_parse(enum tg_chat_service chat, const char *name,
                                          const char *data, size_t len, struct tg_diag *diag);
void tg_chat_texts_free(struct tg_chat_texts *t);
/* For `tollgate check`: reports every fault of the chat templates in dir (those present) into
 * diag. Returns 0, or -1 when one has errors. */
int tg_chat_texts_check(const char *dir, struct tg_diag *diag);

/* One text rendered for s; caller frees. */
char *tg_chat_render(const struct tg_chat_texts *t, enum tg_chat_text which,
                     const struct tg_chat_subject *s);

/* A Slack message ({"text", "blocks"}): the body text in a section, then the status text (when
 * status >= 0) in a context block, then Approve and Deny buttons (value "<id>:<round>") when
 * s->buttons. The caller adds channel or replace_original. Returns a new reference. */
json_t *tg_chat_slack_message(const struct tg_chat_texts *t, const struct tg_chat_subject *s,
                              enum tg_chat_text body, int status);
/* A Mattermost message ({"text", "attachments"}) in the same shape; the buttons'
 * integration.url is action_url and their context carries id, round, secret and the action.
 * With action_url NULL the buttons are left out (public_url is not set). New reference. */
json_t *tg_chat_mattermost_message(const struct tg_chat_texts *t, const struct tg_chat_subject *s,
                                   enum tg_chat_text body, int status, const char *action_url);

/* POSTs body as JSON to url, with "Authorization: Bearer <bearer>" when bearer is set. A 2xx
 * whose JSON says "ok": false (Slack's Web API) is a failure. Returns 0, or -1 with err (which
 * never holds the URL). */
int tg_chat_post_json(const char *url, const char *bearer, json_t *body, char *err, size_t errlen);

/* Posts a message to every configured chat not in skip (TG_CHAT_BIT mask): Slack through its
 * incoming webhook, or chat.postMessage with bot_token + channel; Mattermost through its
 * incoming webhook. Failures are logged. Returns the mask of chats that accepted it; chats
 * with nowhere to post count as done. */
unsigned tg_chat_announce(const struct tg_config *cfg, const struct tg_chat_subject *s,
                          enum tg_chat_text body, int status, unsigned skip);
/* Posts a plain one-line notice ({"text"}) to every configured chat, e.g. a follow-up to a
 * request already posted (incoming webhooks cannot edit a message). Failures are logged.
 * Returns the mask of chats that accepted it. */
unsigned tg_chat_notice(const struct tg_config *cfg, const char *text);
/* The chats cfg can post to, as a TG_CHAT_BIT mask. */
unsigned tg_chat_targets(const struct tg_config *cfg);
/* "slack" / "mattermost". */
const char *tg_chat_name(enum tg_chat_service chat);

#endif
