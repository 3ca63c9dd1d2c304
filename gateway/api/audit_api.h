/* audit_api.h -- the read side of the audit trail over HTTP, on the api pool.
 *
 *   GET /api/v1/audit?project=&ref=&sha=&pipeline=&environment=&action=&actor=&since=&until=
 *                     &limit=&cursor=&order=      -> {"records": [...], "next_cursor": "..."|null}
 *   GET /api/v1/audit/{seq}                      -> the record, 404 when there is none
 *   GET /api/v1/audit/verify[?from=&head=SEQ:HASH] -> the verdict of audit_verify.h
 *
 * Every route needs a bearer token with scope read (api.tokens): 401 without, 403 without
 * the scope. Redis unreachable: 503.
 */
#ifndef TG_AUDIT_API_H
#define TG_AUDIT_API_H

#include "api/api.h"
#include "http/tally.h"
#include "http/server.h"

/* Registers the routes; call before tg_server_start. */
/* tally counts refused requests (may be NULL). */
void tg_audit_api_register(struct tg_server *s, struct tg_api_pool *p, struct tg_tally *tally);

#endif
