/* environments_api.h -- GET /api/v1/environments: per project and environment what is live,
 * the last decision and what is pending, from deploy's indexes (deploy.h), for the console's
 * environments page. */
#ifndef TG_ENVIRONMENTS_API_H
#define TG_ENVIRONMENTS_API_H

#include "api/api.h"
#include "http/server.h"
#include "http/tally.h"

/* Registers the route; call before tg_server_start. tally counts refused requests (may be
 * NULL). */
void tg_environments_api_register(struct tg_server *s, struct tg_api_pool *p,
                                  struct tg_tally *tally);

#endif
