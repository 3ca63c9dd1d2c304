/* chatops_mattermost.h -- POST /chatops/mattermost: slash commands and interactive-button
 * callbacks from Mattermost.
 *
 * A slash command (application/x-www-form-urlencoded) carries the command's token twice, as the
 * form field `token` and as `Authorization: Token <token>`; whichever is present is compared in
 * constant time with chatops.mattermost.token. A button callback (application/json, sent by the
 * Mattermost server to the button's integration.url, public_url + /chatops/mattermost) carries
 * the context Tollgate put into the button -- {action, id, round, secret} -- and nothing else
 * authenticates it: the secret is the deployment's own random one, compared in constant time.
 * A failure is answered 401 and counted for the per-minute rejected summary. API pool threads.
 */
#ifndef TG_CHATOPS_MATTERMOST_H
#define TG_CHATOPS_MATTERMOST_H

#include "api.h"

/* The route handler; data is the struct tg_tally * that counts rejected requests. */
void tg_mattermost_handle(void *data, struct tg_api_ctx *ctx, const struct tg_api_request *req);

#endif
