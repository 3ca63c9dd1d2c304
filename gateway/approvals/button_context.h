/* button_context.h -- the signed context of a Mattermost button.
 *
 * Mattermost signs nothing: it posts a button's `context` back exactly as Tollgate wrote it,
 * to anyone who can reach the integration URL. So Tollgate signs the context itself, with
 * HMAC-SHA256 under chatops.mattermost.context_key (or a key derived from the command token),
 * over the deployment id, the request round, the action and an expiry. A forged, altered or
 * expired context is refused on the event loop, before any work. Pure functions; any thread.
 *
 * Context: {"action": "approve"|"deny", "id": "<hex>", "round": N, "expires": UNIX_S,
 *           "sig": "<64 hex>"}
 */
#ifndef TG_BUTTON_CONTEXT_H
#define TG_BUTTON_CONTEXT_H

#include "approvals/approval.h"

#include <jansson.h>
#include <stdint.h>

#define TG_BUTTON_KEY_LEN 32

/* A new context object (the caller owns it). */
json_t *tg_button_context_new(const unsigned char key[TG_BUTTON_KEY_LEN], const char *id, int round,
                              const char *action, long long expires_s);

struct tg_button_click {
    char id[TG_APPROVAL_ID_MAX + 1];
    int round;
    int deny;
};

/* Checks a context posted back at now_s. Returns 0 with *out filled, or -1 with *why set to a
 * short static reason ("malformed context", "bad context signature", "expired context"). */
int tg_button_context_check(const unsigned char key[TG_BUTTON_KEY_LEN], json_t *context,
                            uint64_t now_s, struct tg_button_click *out, const char **why);

#endif
