/* audit_api.c -- GET /api/v1/audit, /api/v1/audit/{seq} and /api/v1/audit/verify.
 *
 * Handlers run on api-pool threads with the pool's blocking Redis connection; each answers
 * exactly once. The query and verify logic live in audit_query.c and audit_verify.c, shared
 * with `tollgate audit`.
 */
#include "api/audit_api.h"
#include "audit/audit_archive.h"
#include "audit/audit_query.h"
#include "audit/audit_verify.h"
#include "base/log.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TG_MODULE       "audit_api"
#define BASE            "/api/v1/audit"
#define HTTP_VERIFY_MAX 100000

/* Auth, method and Redis: 0 when the handler may go on, else it answered. */
static int admit(struct tg_api_ctx *ctx, const struct tg_api_request *req)
{
    if (tg_api_bearer(ctx, req, TG_SCOPE_READ) == NULL)
        return -1;
    if (strcmp(req->method, "GET") != 0) {
        tg_api_error(ctx, 405, "method_not_allowed", "use GET");
        return -1;
    }
    if (ctx->rc == NULL) {
        tg_api_error(ctx, 503, "unavailable", "Redis cannot be reached");
        return -1;
    }
    return 0;
}

static void on_list(void *data, struct tg_api_ctx *ctx, const struct tg_api_request *req)
{
    struct tg_audit_query q;
    struct tg_audit_page page = {0};
    char err[256] = "cannot read the audit start", cursor[TG_AUDIT_CURSOR_MAX];
    (void)data;
    if (admit(ctx, req))
        return;
    long long from_seq;
    char prev[TG_SHA256_HEX_LEN + 1];
    if (tg_audit_query_parse(req->query, &q, err, sizeof err)) {
        tg_api_error(ctx, 400, "bad_query", err);
    } else if (tg_audit_start_get(ctx->rc, ctx->cfg->redis.prefix, &from_seq, prev) ||
               tg_audit_query_run(&(struct tg_audit_db){ctx->rc, ctx->cfg->redis.prefix}, &q, &page,
                                  err, sizeof err)) {
        TG_LOG(TG_LOG_ERROR, "query_failed", "%s", err);
        tg_api_error(ctx, 503, "unavailable", "the audit trail could not be read");
    } else {
        if (page.next)
            tg_audit_cursor_encode(&q, page.next, cursor);
        /* from_seq: older records are in the archive (read first, so it never claims too much) */
        tg_api_json(ctx, 200,
                    json_pack("{s:O, s:s?, s:I}", "records", page.records, "next_cursor",
                              page.next ? cursor : NULL, "from_seq", (json_int_t)from_seq));
    }
    tg_audit_page_dispose(&page);
    tg_audit_query_dispose(&q);
}

/* Where an HTTP verify starts: ?from, else right at the checkpoint (whose hash anchors the
 * walk unless ?head gives another anchor), else the first record. 0, or -1 after answering. */
static int verify_start(struct tg_api_ctx *ctx, const struct tg_api_request *req,
                        struct tg_audit_verify_opts *o)
{
    static const char *const names[] = {"from", "head"};
    char from[32], head[128], err[128];
    struct tg_query_names qn = {names, TG_ARRAY_SIZE(names), 0};
    if (tg_query_check_names(req->query, &qn, err, sizeof err)) {
        tg_api_error(ctx, 400, "bad_query", err);
        return -1;
    }
    if (tg_api_query(req, "from", from, sizeof from) &&
        tg_parse_int(from, 1, INT64_MAX, &o->from)) {
        tg_api_error(ctx, 400, "bad_query", "from must be a positive seq");
        return -1;
    }
    if (tg_api_query(req, "head", head, sizeof head) &&
        tg_audit_parse_head(head, &o->anchor_seq, o->anchor_hash)) {
        tg_api_error(ctx, 400, "bad_query", "head must be SEQ:HASH (64 hex digits)");
        return -1;
    }
    long long seq;
    char hash[TG_SHA256_HEX_LEN + 1];
    if (o->from > 0 || o->anchor_seq > 0)
        return 0;
    int rc = tg_audit_checkpoint_get(ctx->rc, ctx->cfg->redis.prefix, &seq, hash);
    if (rc < 0) {
        tg_api_error(ctx, 503, "unavailable", "the audit trail could not be read");
        return -1;
    }
    if (rc == 1) {
        o->from = seq;
        o->anchor_seq = seq;
        memcpy(o->anchor_hash, hash, sizeof hash);
    }
    return 0;
}

/* Incremental: from the last verified checkpoint, at most HTTP_VERIFY_MAX records per call
 * (F7: two verifies over a long trail once delayed approvals by seconds). The file sink and
 * the full walk are the CLI's (`tollgate audit verify`). */
static void verify(struct tg_api_ctx *ctx, const struct tg_api_request *req)
{
    struct tg_audit_verify_opts o = {.max_records = HTTP_VERIFY_MAX};
    struct tg_audit_verify_result res;
    char err[256];
    char head[8];
    if (verify_start(ctx, req, &o))
        return;
    if (tg_audit_verify(&(struct tg_audit_db){ctx->rc, ctx->cfg->redis.prefix}, &o, &res, err,
                        sizeof err)) {
        TG_LOG(TG_LOG_ERROR, "verify_failed", "%s", err);
        tg_api_error(ctx, 503, "unavailable", "the audit trail could not be read");
        return;
    }
    /* A ?head that cannot be compared is no verdict; the checkpoint's (fallen behind the start
     * for longer than the retention) is reported in the answer's "anchor" and moves on. */
    if (res.broken == TG_AUDIT_OK && res.unchecked[0] &&
        tg_api_query(req, "head", head, sizeof head) != NULL) {
        tg_api_error(ctx, 409, "anchor_archived", res.unchecked);
        return;
    }
    if (tg_audit_checkpoint_advance(ctx->rc, ctx->cfg->redis.prefix, &res))
        TG_LOG(TG_LOG_WARN, "checkpoint_failed", "the verified checkpoint could not be stored");
    json_t *answer = tg_audit_verify_json(&res);
    json_object_del(answer, "sink"); /* over HTTP the file sink is never compared (the CLI's) */
    tg_api_json(ctx, 200, answer);
}

static void one(struct tg_api_ctx *ctx, const char *what)
{
    long long seq;
    json_t *rec;
    if (tg_parse_int(what, 1, INT64_MAX, &seq)) {
        tg_api_error(ctx, 404, "not_found", "no such route");
    } else if (tg_audit_get(ctx->rc, ctx->cfg->redis.prefix, seq, &rec)) {
        tg_api_error(ctx, 503, "unavailable", "the audit trail could not be read");
    } else if (rec == NULL) {
        tg_api_error(ctx, 404, "not_found", "no audit record with this seq");
    } else {
        tg_api_json(ctx, 200, rec);
    }
}

static void on_sub(void *data, struct tg_api_ctx *ctx, const struct tg_api_request *req)
{
    size_t n = strlen(BASE "/");
    const char *what = strncmp(req->path, BASE "/", n) == 0 ? req->path + n : "";
    (void)data;
    if (admit(ctx, req))
        return;
    if (strcmp(what, "verify") == 0)
        verify(ctx, req);
    else
        one(ctx, what);
}

void tg_audit_api_register(struct tg_server *s, struct tg_api_pool *p, struct tg_tally *tally)
{
    const struct tg_api_route_spec sub = {
        BASE "/", TG_ROUTE_API, TG_LANE_READ,       tg_api_gate_bearer, on_sub, tally,
        0,        NULL,         TG_SESSION_ACCEPTED};
    const struct tg_api_route_spec list = {
        BASE, TG_ROUTE_API, TG_LANE_READ,       tg_api_gate_bearer, on_list, tally,
        0,    NULL,         TG_SESSION_ACCEPTED};
    tg_api_route(s, p, &sub); /* h2o takes the first match: longer first */
    tg_api_route(s, p, &list);
}
