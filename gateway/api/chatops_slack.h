/* chatops_slack.h -- POST /chatops/slack: slash commands and button clicks from Slack.
 *
 * Every request is verified before its body is parsed: X-Slack-Signature must be
 * "v0=" + hex HMAC-SHA256(signing secret, "v0:" + X-Slack-Request-Timestamp + ":" + raw body),
 * compared in constant time, with the timestamp within 5 minutes of now. A request that fails
 * is answered 401 and counted for the per-minute rejected summary (never one audit record per
 * request). Slash commands are answered in place (ephemeral JSON) within Slack's 3 seconds;
 * block_actions clicks are acknowledged with an empty 200, then the original message is
 * replaced through the payload's response_url. API pool threads.
 */
#ifndef TG_CHATOPS_SLACK_H
#define TG_CHATOPS_SLACK_H

#include "api/api.h"
#include "approvals/approval.h"
#include "base/crypto.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define TG_SLACK_WINDOW_S 300

enum tg_slack_verdict {
    TG_SLACK_OK,
    TG_SLACK_MISSING,   /* no timestamp or no signature header */
    TG_SLACK_MALFORMED, /* timestamp not a number, signature not v0=<64 hex> */
    TG_SLACK_STALE,     /* timestamp more than 5 minutes from now */
    TG_SLACK_MISMATCH,  /* forged, or signed over other bytes */
};

/* A request as Slack signs it: two header values (NULL when absent) and the raw body. */
struct tg_slack_signed {
    const char *timestamp; /* X-Slack-Request-Timestamp */
    const char *signature; /* X-Slack-Signature */
    const char *body;
    size_t bodylen;
};

/* Checks one request against the signing secret at now_s (seconds since the epoch). */
enum tg_slack_verdict tg_slack_verify(struct tg_bytes secret, const struct tg_slack_signed *req,
                                      uint64_t now_s);
/* "missing signature", "malformed signature", "stale timestamp", "bad signature"; "" for OK. */
const char *tg_slack_verdict_reason(enum tg_slack_verdict v);

/* A click on Tollgate's Approve or Deny button, read from a block_actions payload. */
struct tg_slack_click {
    json_t *root; /* the payload; the strings below are borrowed from it */
    char id[TG_APPROVAL_ID_MAX + 1];
    int round; /* the request round the button belongs to (0: none given) */
    int deny;
    const char *user;         /* user.id */
    const char *response_url; /* "" when absent */
};
/* Reads payload (the JSON of the form field `payload`). Returns 0 for a click on one of our
 * buttons, -1 for anything else (not JSON, another interaction). Release c with
 * tg_slack_click_dispose either way. */
int tg_slack_read_click(const char *payload, struct tg_slack_click *c);
void tg_slack_click_dispose(struct tg_slack_click *c);

/* The route handler; data is the struct tg_tally * that counts rejected requests. */
/* Loop-side gate: the request must carry a valid, fresh Slack signature. Refusals are counted
 * (data: the tally). */
void tg_slack_gate(void *data, const struct tg_config *cfg, const struct tg_api_request *req,
                   struct tg_api_verdict *out);
/* The route's once-only header: a verified request's signature, claimed on the loop for its
 * 5-minute window (either side of now) before the request is queued; a replay is refused. */
extern const struct tg_api_once tg_slack_once;
void tg_slack_handle(void *data, struct tg_api_ctx *ctx, const struct tg_api_request *req);

#endif
