/* deploy_api.h -- the deployments REST API and the registration of every approval route.
 *
 *   GET  /api/v1/deployments?status=pending      bearer token, scope read: the pending ones
 *   GET  /api/v1/deployments/ID                  bearer token, scope read: one deployment
 *   POST /api/v1/deployments/ID/approve          bearer token, scope approve; body optional
 *                                                {"comment": "..."}; the token's identity votes
 *   POST /api/v1/deployments/ID/deny             the same; body {"reason": "..."} required
 *
 * Answers: 200 {"outcome", "deployment"}; 400 a bad body or a deny without reason; 401/403 the
 * token; 403 a rule refuses this identity; 404 unknown id; 409 the deployment is no longer
 * pending (the detail names its state); 503 Redis unreachable. API pool threads.
 */
#ifndef TG_DEPLOY_API_H
#define TG_DEPLOY_API_H

#include "api/api.h"
#include "http/server.h"
#include "http/tally.h"

/* Registers /api/v1/deployments, /chatops/slack and /chatops/mattermost on the pool. tally
 * (borrowed; outlives the server) counts rejected chat requests for the audit summaries. */
void tg_deploy_api_register(struct tg_server *s, struct tg_api_pool *p, struct tg_tally *tally);

#endif
