/* chatops_mattermost.h -- POST /chatops/mattermost: slash commands and interactive-button
 * callbacks from Mattermost.
 *
 * A slash command (application/x-www-form-urlencoded) carries the command's token twice, as the
 * form field `token` and as `Authorization: Token <token>`; whichever is present is compared in
 * constant time with chatops.mattermost.token. A button callback (application/json, sent by the
 * Mattermost server to the button's integration.url, public_url + /chatops/mattermost) carries
 * the context Tollgate put into the button -- {action, id, round, expires, sig} -- and nothing
 * else authenticates it: sig is an HMAC Tollgate made (button_context.h). Both are checked on
 * the event loop before the request is queued (tg_mattermost_gate); a failure is answered 401
 * and only counted, for the per-minute rejected summary. The handler runs on API pool threads.
 */
#ifndef TG_CHATOPS_MATTERMOST_H
#define TG_CHATOPS_MATTERMOST_H

#include "api/api.h"

/* Loop-side gate: a button callback's context must carry a valid, unexpired signature; a slash
 * command must carry the token. Refusals are counted (data: the tally). */
void tg_mattermost_gate(void *data, const struct tg_config *cfg, const struct tg_api_request *req,
                        struct tg_api_verdict *out);
/* The route handler; data is the struct tg_tally * that counts rejected requests. */
void tg_mattermost_handle(void *data, struct tg_api_ctx *ctx, const struct tg_api_request *req);

#endif
