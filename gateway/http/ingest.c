/* ingest.c -- POST /hooks/gitlab: authenticate, validate, dedupe and enqueue a delivery.
 *
 * Order of checks: token (401) -> signature when the webhook has a signing token (401) ->
 * X-Gitlab-Event wanted? (else 202 ignored: a 4xx would make GitLab disable the hook) ->
 * Content-Type (415) -> size (413) -> one JSON object (400) -> audit trail writable when
 * audit.fail_closed (503) -> Redis ready (503) ->
 * dedupe+XADD in one script call -> 202 once Redis answered, 503 if it did not.
 * Never logs a token, a signature or the body.
 */
#include "http/ingest.h"
#include "audit/audit.h"
#include "base/buf.h"
#include "base/crypto.h"
#include "http/http.h"
#include "http/jsonval.h"
#include "base/log.h"
#include "base/metrics.h"
#include "deliver/queue.h"
#include "http/redis_loop.h"
#include "http/signature.h"
#include "http/tally.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TG_MODULE "ingest"

struct tg_ingest {
    struct tg_config_holder *config;
    struct tg_tally *tally;
};

/* What a delivery needs after the Redis round trip (the request may be gone by then). */
struct delivery {
    struct tg_http_ticket ticket;
    char key[8 + 129]; /* "signed " + a webhook-id, see admit */
    char webhook[64];
    char event[64];
    char remote[64];
    const struct tg_webhook *hook; /* borrowed from the config, valid during admission only */
    struct tg_ingest *in;
};

/* A refusal: status, metric, error code and a detail safe to send back. */
struct refusal {
    int status;
    enum tg_metric metric;
    const char *error;
    const char *detail;
};

int tg_ingest_dedupe_key(const struct tg_delivery_ids *ids, char out[129])
{
    const h2o_iovec_t *key = ids->idempotency_key.base ? &ids->idempotency_key : &ids->webhook_id;
    const char *given = key->base;
    size_t len = key->len;
    if (given == NULL) {
        struct tg_sha256 h;
        unsigned char d[TG_SHA256_LEN];
        tg_sha256_init(&h);
        tg_sha256_update(&h, ids->event.base, ids->event.len);
        tg_sha256_update(&h, "\n", 1);
        tg_sha256_update(&h, ids->body.base, ids->body.len);
        tg_sha256_final(&h, d);
        tg_hex_encode(d, sizeof d, out);
        return 0;
    }
    if (len == 0 || len > 128)
        return -1;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)given[i] <= 0x20 || (unsigned char)given[i] >= 0x7f)
            return -1;
    memcpy(out, given, len);
    out[len] = '\0';
    return 0;
}

static void copy_iov(char *dst, size_t cap, h2o_iovec_t v)
{
    size_t n = v.len < cap - 1 ? v.len : cap - 1;
    if (v.base)
        memcpy(dst, v.base, n);
    dst[n] = '\0';
}

static void access_log(const struct delivery *d, int status, const char *result, const char *id)
{
    struct tg_logline l;
    /* A stranger's requests (every refusal before authentication: 401, 405, ...) are counted
     * (metrics, the per-minute rejected summary), not logged one by one at the default level:
     * a flood must not fill the disk, and a stranger's headers must not reach the log. */
    if (!TG_LOG_BEGIN(&l, d->hook == NULL ? TG_LOG_DEBUG : TG_LOG_INFO, "delivery"))
        return;
    tg_log_int(&l, "status", status);
    tg_log_str(&l, "result", result);
    tg_log_str(&l, "webhook", d->webhook[0] ? d->webhook : NULL);
    tg_log_str(&l, "gitlab_event", d->event);
    tg_log_str(&l, "idempotency_key", d->key[0] ? d->key : NULL);
    tg_log_str(&l, "id", id);
    tg_log_str(&l, "remote", d->remote);
    tg_log_end(&l);
}

/* Answers r; returns -1, admit's "answered: nothing to queue". */
static int refuse(h2o_req_t *req, struct delivery *d, const struct refusal *r)
{
    tg_metrics_inc(r->metric);
    access_log(d, r->status, r->error, NULL);
    struct tg_tally_entry e = {"rejected", r->error, r->status, d->webhook[0] ? d->webhook : NULL,
                               d->remote};
    tg_tally_add(d->in->tally, &e, tg_now_ms());
    if (r->status == 405)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("POST"));
    tg_http_error(req, TG_ROUTE_HOOKS, r->status, r->error, r->detail);
    return -1;
}

static int check_signature(h2o_req_t *req, const struct tg_config *cfg, const struct tg_webhook *w,
                           struct refusal *r)
{
    h2o_iovec_t id = tg_http_header(req, "webhook-id"),
                ts = tg_http_header(req, "webhook-timestamp");
    h2o_iovec_t sig = tg_http_header(req, "webhook-signature");
    struct tg_sig_input in = {
        .key = w->signing_key,
        .keylen = w->signing_key_len,
        .id = id.base,
        .idlen = id.len,
        .timestamp = ts.base,
        .timestamplen = ts.len,
        .header = sig.base,
        .headerlen = sig.len,
        .body = req->entity.base,
        .bodylen = req->entity.len,
        .now_s = tg_now_ms() / 1000,
        .tolerance_s = cfg->limits.signature_tolerance_ms / 1000,
    };
    enum tg_sig_result res = tg_signature_verify(&in);
    if (res == TG_SIG_OK)
        return 0;
    *r = (struct refusal){401, TG_M_REJECTED_BAD_SIGNATURE, "bad_signature",
                          tg_signature_reason(res)};
    return -1;
}

static int is_json_type(h2o_iovec_t ct)
{
    static const char want[] = "application/json";
    size_t n = sizeof want - 1;
    if (ct.base == NULL || ct.len < n || strncasecmp(ct.base, want, n) != 0)
        return 0;
    return ct.len == n || ct.base[n] == ';' || ct.base[n] == ' ';
}

/* What was sent: media type, one JSON object (the size was checked first, in admit). Fills r
 * and returns -1 on a refusal. */
static int check_body(h2o_req_t *req, char *err, size_t errlen, struct refusal *r)
{
    if (!is_json_type(tg_http_header(req, "content-type"))) {
        *r = (struct refusal){415, TG_M_REJECTED_MEDIA_TYPE, "unsupported_media_type",
                              "Content-Type must be application/json"};
        return -1;
    }
    if (tg_json_validate_object(req->entity.base, req->entity.len, err, errlen)) {
        *r = (struct refusal){400, TG_M_REJECTED_BAD_REQUEST, "bad_json", err};
        return -1;
    }
    return 0;
}

static void on_enqueued(redisReply *reply, void *data)
{
    struct delivery *d = data;
    char body[256];
    int dup;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
        reply->element[0]->type != REDIS_REPLY_INTEGER ||
        reply->element[1]->type != REDIS_REPLY_STRING) {
        tg_metrics_inc(TG_M_REJECTED_UNAVAILABLE);
        access_log(d, 503, "redis_unavailable", NULL);
        tg_http_ticket_error(&d->ticket, 503, "unavailable",
                             "the queue did not confirm the delivery");
        free(d);
        return;
    }
    dup = reply->element[0]->integer == 1;
    tg_metrics_inc(dup ? TG_M_DELIVERIES_DUPLICATE : TG_M_DELIVERIES_ACCEPTED);
    access_log(d, 202, dup ? "duplicate" : "accepted", reply->element[1]->str);
    snprintf(body, sizeof body, "{\"id\":\"%.64s\",\"duplicate\":%s}\n", reply->element[1]->str,
             dup ? "true" : "false");
    tg_http_ticket_reply(&d->ticket, 202, body, strlen(body));
    free(d);
}

static int enqueue(h2o_req_t *req, const struct tg_config *cfg, struct delivery *d)
{
    char received[24];
    h2o_iovec_t hv[TG_QF_COUNT] = {
        [TG_QF_EVENT] = h2o_iovec_init(d->event, strlen(d->event)),
        [TG_QF_WEBHOOK] = h2o_iovec_init(d->webhook, strlen(d->webhook)),
        [TG_QF_IDEMPOTENCY_KEY] = h2o_iovec_init(d->key, strlen(d->key)),
        [TG_QF_WEBHOOK_UUID] = tg_http_header(req, "x-gitlab-webhook-uuid"),
        [TG_QF_EVENT_UUID] = tg_http_header(req, "x-gitlab-event-uuid"),
        [TG_QF_INSTANCE] = tg_http_header(req, "x-gitlab-instance"),
        [TG_QF_RECEIVED_AT] =
            h2o_iovec_init(received, (size_t)snprintf(received, sizeof received, "%llu",
                                                      (unsigned long long)tg_now_ms())),
        [TG_QF_REMOTE] = h2o_iovec_init(d->remote, strlen(d->remote)),
        [TG_QF_BODY] = req->entity,
    };
    struct tg_queue_push p = {.dedupe_ttl_ms = cfg->redis.dedupe_ttl_ms,
                              .maxlen = cfg->redis.events_maxlen,
                              .outside_key = 1};
    for (int i = 0; i < TG_QF_COUNT; i++) {
        p.field[i] = hv[i].base;
        p.len[i] = hv[i].len;
    }
    struct tg_queue_enqueue e;
    tg_queue_enqueue_args(&e, cfg->redis.prefix, &p);
    struct tg_redis_loop_call call = {TG_QUEUE_ENQUEUE_ARGC, e.argv, e.len, on_enqueued, d};
    return tg_redis_loop_evalsha(tg_loop_redis(tg_loop_of(req)), TG_INGEST_SCRIPT,
                                 TG_QUEUE_ENQUEUE_KEYS, &call);
}

/* Answers that the event is ignored; returns -1 like refuse. */
static int ignore(h2o_req_t *req, struct delivery *d)
{
    struct tg_buf b;
    tg_metrics_inc(TG_M_DELIVERIES_IGNORED);
    access_log(d, 202, "ignored", NULL);
    struct tg_tally_entry e = {"ignored", d->event, 202, d->webhook, d->remote};
    tg_tally_add(d->in->tally, &e, tg_now_ms());
    tg_buf_init(&b);
    tg_buf_puts(&b, "{\"ignored\":true,\"event\":");
    tg_buf_json_cstr(&b, d->event);
    tg_buf_puts(&b, "}\n");
    tg_http_reply(req, TG_ROUTE_HOOKS,
                  &(struct tg_http_answer){202, "application/json", b.data, b.len});
    tg_buf_dispose(&b);
    return -1;
}

/* Who is calling: method, token, signature. Fills r and returns -1 on a refusal. */
static int authenticate(h2o_req_t *req, const struct tg_config *cfg, struct delivery *d,
                        struct refusal *r)
{
    h2o_iovec_t token = tg_http_header(req, "x-gitlab-token");
    const struct tg_webhook *w =
        token.base ? tg_config_find_webhook(cfg, token.base, token.len) : NULL;
    if (!tg_http_method_is(req, "POST")) {
        *r = (struct refusal){405, TG_M_REJECTED_BAD_REQUEST, "method_not_allowed", "use POST"};
        return -1;
    }
    if (w == NULL) {
        *r = (struct refusal){401, TG_M_REJECTED_UNAUTHORIZED, "unauthorized",
                              "missing or wrong X-Gitlab-Token"};
        return -1;
    }
    snprintf(d->webhook, sizeof d->webhook, "%s", w->name);
    if (w->signing_key && check_signature(req, cfg, w, r))
        return -1;
    d->hook = w;
    tg_server_authenticated(req);
    return 0;
}

/* Runs every check; returns 0 with d ready to enqueue, or -1 after answering. */
static int admit(h2o_req_t *req, const struct tg_config *cfg, struct delivery *d)
{
    char err[256];
    struct refusal r;
    h2o_iovec_t event = tg_http_header(req, "x-gitlab-event");
    copy_iov(d->event, sizeof d->event, event);
    if (req->entity.len > cfg->limits.max_body) { /* the cheapest check first, as on every route */
        r = (struct refusal){413, TG_M_REJECTED_TOO_LARGE, "too_large",
                             "body exceeds limits.max_body"};
        return refuse(req, d, &r);
    }
    if (authenticate(req, cfg, d, &r))
        return refuse(req, d, &r);
    if (event.base == NULL) {
        r = (struct refusal){400, TG_M_REJECTED_BAD_REQUEST, "missing_event",
                             "X-Gitlab-Event is required"};
        return refuse(req, d, &r);
    }
    if (!tg_config_webhook_wants(d->hook, event.base, event.len))
        return ignore(req, d);
    if (check_body(req, err, sizeof err, &r))
        return refuse(req, d, &r);
    h2o_iovec_t idem = tg_http_header(req, "idempotency-key"),
                wid = tg_http_header(req, "webhook-id");
    /* F9: the signature covers webhook-id; an unsigned header must not win */
    if (d->hook->signing_key)
        idem = h2o_iovec_init(NULL, 0);
    struct tg_delivery_ids ids = {idem, wid, event, req->entity};
    if (tg_ingest_dedupe_key(&ids, d->key)) {
        r = (struct refusal){400, TG_M_REJECTED_BAD_REQUEST, "bad_idempotency_key",
                             "Idempotency-Key must be 1-128 printable characters"};
        return refuse(req, d, &r);
    }
    /* A signed webhook-id has its own key space: no unsigned Idempotency-Key (which cannot hold
     * a blank) can take a signed delivery's place in advance. */
    if (d->hook->signing_key && wid.base) {
        char wid_key[129];
        snprintf(wid_key, sizeof wid_key, "%.128s", d->key);
        snprintf(d->key, sizeof d->key, "signed %s", wid_key);
    }
    if (cfg->audit.fail_closed && !tg_audit_healthy()) {
        r = (struct refusal){503, TG_M_REJECTED_UNAVAILABLE, "audit_unavailable",
                             "the audit trail cannot be written (audit.fail_closed)"};
        return refuse(req, d, &r);
    }
    return 0;
}

static int on_hook(void *data, h2o_req_t *req)
{
    struct tg_ingest *in = data;
    struct tg_config *cfg = tg_config_holder_get(in->config);
    struct delivery *d = tg_xcalloc(1, sizeof *d);
    d->in = in;
    tg_http_peer(req, d->remote, sizeof d->remote);
    if (admit(req, cfg, d) == 0) {
        tg_http_ticket_init(&d->ticket, req, TG_ROUTE_HOOKS);
        if (enqueue(req, cfg, d) != 0)
            on_enqueued(NULL, d); /* answers the failure and frees */
        d = NULL;                 /* on_enqueued answers and frees */
    }
    free(d);
    tg_config_unref(cfg);
    return 0;
}

struct tg_ingest *tg_ingest_new(struct tg_server *s, struct tg_config_holder *config,
                                struct tg_tally *tally)
{
    struct tg_ingest *in = tg_xcalloc(1, sizeof *in);
    in->config = config;
    in->tally = tally;
    tg_server_route(s, "/hooks/gitlab", on_hook, in);
    return in;
}

void tg_ingest_free(struct tg_ingest *in)
{
    free(in);
}
