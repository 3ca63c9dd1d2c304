/* audit_query.c -- filters, keyset pages and single records of the audit trail.
 *
 *   window   [lo, hi] of seq: the cursor, the head, and since/until turned into seqs through
 *            <prefix>audit:idx:time (time never goes back along the chain, so the first
 *            record at or after since and the last at or before until bound it)
 *   driver   the filter index with the fewest seqs in the window, or the stream itself when
 *            the window is smaller (or there is no indexed filter)
 *   checks   every other filter index, by ZSCORE (project and ref together use the one set of
 *            that ref within that project)
 *
 * The script walks the driver in the query's order and stops at `want` records or after
 * `budget` candidates; this file calls it until the page is full, the window is empty or
 * REQUEST_BUDGET candidates were looked at. Reads only; api-pool threads and the CLI.
 */
#include "audit/audit_query.h"
#include "audit/audit_keys.h"
#include "api/api.h"
#include "audit/audit.h"
#include "base/crypto.h"
#include "base/redisconn.h"
#include "base/util.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL_BUDGET    2048  /* candidates one script call may look at (Redis is busy ~5 ms) */
#define REQUEST_BUDGET 16384 /* and one page (~40 ms at worst: then a partial page) */
#define OPEN_HI        "9007199254740991"
#define VALUE_MAX      1024
#define BASE64URL      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

/* KEYS: stream, time index, head, filter indexes...
 * ARGV: lo, hi, since ms|'', until ms|'', asc|desc, want, budget
 * Returns {more|done, lo, hi, examined, record...}: lo/hi the window left to walk. */
static const char query_lua[] =
    "local lo, hi = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local head = tonumber(redis.call('HGET', KEYS[3], 'seq') or '0')\n"
    "if hi > head then hi = head end\n"
    "local function edge(min, max, rev)\n"
    "  local r = rev and redis.call('ZREVRANGEBYSCORE', KEYS[2], max, min, 'WITHSCORES', 'LIMIT', "
    "0, 1)\n"
    "    or redis.call('ZRANGEBYSCORE', KEYS[2], min, max, 'WITHSCORES', 'LIMIT', 0, 1)\n"
    "  if #r == 0 then return nil end\n"
    "  local best\n"
    "  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], r[2], r[2])) do\n"
    "    local s = tonumber(m)\n"
    "    if not best or (rev and s > best) or (not rev and s < best) then best = s end\n"
    "  end\n"
    "  return best\n"
    "end\n"
    "local tmin, tmax = tonumber(ARGV[3]), tonumber(ARGV[4])\n"
    "if tmin then local s = edge(ARGV[3], '+inf', false); if not s then hi = -1 elseif s > lo then "
    "lo = s end end\n"
    "if tmax then local s = edge('-inf', ARGV[4], true); if not s then hi = -1 elseif s < hi then "
    "hi = s end end\n"
    "local function result(state, out, examined)\n"
    "  local r = {state, string.format('%d', lo), string.format('%d', hi), tostring(examined)}\n"
    "  for _, rec in ipairs(out) do r[#r + 1] = rec end\n"
    "  return r\n"
    "end\n"
    "local driver, checks, best = nil, {}, hi - lo + 1\n"
    "for i = 4, #KEYS do\n"
    "  local n = lo <= hi and redis.call('ZCOUNT', KEYS[i], lo, hi) or 0\n"
    "  if n == 0 then hi = lo - 1; return result('done', {}, 0) end\n"
    "  if n < best then\n"
    "    if driver then checks[#checks + 1] = driver end\n"
    "    driver, best = KEYS[i], n\n"
    "  else checks[#checks + 1] = KEYS[i] end\n"
    "end\n"
    "local function record(fields)\n"
    "  for i = 1, #fields, 2 do if fields[i] == 'record' then return fields[i + 1] end end\n"
    "end\n"
    "local function keep(s)\n"
    "  for _, k in ipairs(checks) do if not redis.call('ZSCORE', k, s) then return false end end\n"
    "  if tmin or tmax then\n"
    "    local t = tonumber(redis.call('ZSCORE', KEYS[2], s) or '-1')\n"
    "    if (tmin and t < tmin) or (tmax and t > tmax) then return false end\n"
    "  end\n"
    "  return true\n"
    "end\n"
    "local asc, want, budget = ARGV[5] == 'asc', tonumber(ARGV[6]), tonumber(ARGV[7])\n"
    "local out, examined = {}, 0\n"
    "while #out < want and examined < budget and lo <= hi do\n"
    "  local n, seqs, recs = math.min(256, budget - examined), {}, {}\n"
    "  if driver and asc then seqs = redis.call('ZRANGEBYSCORE', driver, lo, hi, 'LIMIT', 0, n)\n"
    "  elseif driver then seqs = redis.call('ZREVRANGEBYSCORE', driver, hi, lo, 'LIMIT', 0, n)\n"
    "  else\n"
    "    local es = asc and redis.call('XRANGE', KEYS[1], lo .. '-0', hi .. '-0', 'COUNT', n)\n"
    "      or redis.call('XREVRANGE', KEYS[1], hi .. '-0', lo .. '-0', 'COUNT', n)\n"
    "    for i, e in ipairs(es) do seqs[i] = string.match(e[1], '^%d+'); recs[i] = record(e[2]) "
    "end\n"
    "  end\n"
    "  if #seqs == 0 then hi = lo - 1 end\n"
    "  for i, m in ipairs(seqs) do\n"
    "    local s = tonumber(m)\n"
    "    examined = examined + 1\n"
    "    if asc then lo = s + 1 else hi = s - 1 end\n"
    "    if keep(m) then\n"
    "      local rec = recs[i]\n"
    "      if driver then\n"
    "        local e = redis.call('XRANGE', KEYS[1], m .. '-0', m .. '-0')[1]\n"
    "        rec = e and record(e[2])\n"
    "      end\n"
    "      if rec then out[#out + 1] = rec end\n"
    "    end\n"
    "    if #out >= want then break end\n"
    "  end\n"
    "end\n"
    "return result(lo <= hi and 'more' or 'done', out, examined)\n";

/* ---- parameters ---- */

enum param_kind { P_STRING, P_PIPELINE, P_SINCE, P_UNTIL, P_LIMIT, P_ORDER, P_CURSOR };

static const struct param {
    const char *name;
    enum param_kind kind;
    size_t offset; /* of the char * field, for P_STRING */
} params[] = {
    {"project", P_STRING, offsetof(struct tg_audit_query, project)},
    {"ref", P_STRING, offsetof(struct tg_audit_query, ref)},
    {"sha", P_STRING, offsetof(struct tg_audit_query, sha)},
    {"environment", P_STRING, offsetof(struct tg_audit_query, environment)},
    {"action", P_STRING, offsetof(struct tg_audit_query, action)},
    {"actor", P_STRING, offsetof(struct tg_audit_query, actor)},
    {"pipeline", P_PIPELINE, 0},
    {"since", P_SINCE, 0},
    {"until", P_UNTIL, 0},
    {"limit", P_LIMIT, 0},
    {"order", P_ORDER, 0},
    {"cursor", P_CURSOR, 0}, /* last: it is checked against the filters */
};

void tg_audit_query_init(struct tg_audit_query *q)
{
    memset(q, 0, sizeof *q);
    q->until_ms = UINT64_MAX;
    q->limit = TG_AUDIT_LIMIT_DEFAULT;
    q->desc = 1;
}

void tg_audit_query_dispose(struct tg_audit_query *q)
{
    free(q->project);
    free(q->ref);
    free(q->sha);
    free(q->environment);
    free(q->action);
    free(q->actor);
    tg_audit_query_init(q);
}

int tg_query_check_names(const char *qs, struct tg_query_names *qn, char *err, size_t errlen)
{
    const char *const *names = qn->names;
    size_t nnames = qn->nnames;
    unsigned *present = &qn->present;
    for (const char *p = qs; *p;) {
        size_t n = strcspn(p, "&"), nl = strcspn(p, "=&");
        size_t i = 0;
        while (i < nnames && (strlen(names[i]) != nl || strncmp(p, names[i], nl) != 0))
            i++;
        if (n > 0 && i == nnames) {
            snprintf(err, errlen, "unknown parameter \"%.*s\"", (int)(nl < 64 ? nl : 64), p);
            return -1;
        }
        if (n > 0 && (*present & (1u << i))) {
            snprintf(err, errlen, "parameter \"%s\" given twice", names[i]);
            return -1;
        }
        if (n > 0)
            *present |= 1u << i;
        p += n + (p[n] == '&');
    }
    return 0;
}

static int parse_time(const char *name, char *v, uint64_t *ms, char *err, size_t errlen)
{
    for (char *s = v; *s; s++) /* a '+' of an offset arrives as ' ' unless the client encoded it */
        if (*s == ' ')
            *s = '+';
    if (tg_parse_time(v, ms) == 0)
        return 0;
    snprintf(err, errlen, "%s must be an RFC 3339 time (2026-11-26T14:21:02Z) or a date", name);
    return -1;
}

static int apply(struct tg_audit_query *q, const struct param *p, char *v, char *err, size_t errlen)
{
    long long n;
    switch (p->kind) {
    case P_STRING:
        *(char **)((char *)q + p->offset) = tg_xstrdup(v);
        return 0;
    case P_PIPELINE:
        if (tg_parse_int(v, 1, INT64_MAX, &n) == 0) {
            q->pipeline = n;
            return 0;
        }
        snprintf(err, errlen, "pipeline must be a positive integer");
        return -1;
    case P_SINCE:
        return parse_time("since", v, &q->since_ms, err, errlen);
    case P_UNTIL:
        return parse_time("until", v, &q->until_ms, err, errlen);
    case P_LIMIT:
        if (tg_parse_int(v, 1, TG_AUDIT_LIMIT_MAX, &n) == 0) {
            q->limit = (int)n;
            return 0;
        }
        snprintf(err, errlen, "limit must be 1 to %d", TG_AUDIT_LIMIT_MAX);
        return -1;
    case P_ORDER:
        if (strcmp(v, "asc") == 0 || strcmp(v, "desc") == 0) {
            q->desc = v[0] == 'd';
            return 0;
        }
        snprintf(err, errlen, "order must be asc or desc");
        return -1;
    case P_CURSOR:
        if (tg_audit_cursor_decode(q, v, &q->after) == 0)
            return 0;
        snprintf(err, errlen, "cursor is malformed or belongs to other filters or another order");
        return -1;
    }
    return -1;
}

int tg_audit_query_parse(const char *qs, struct tg_audit_query *q, char *err, size_t errlen)
{
    struct tg_api_request req = {.query = (char *)qs};
    char v[VALUE_MAX];
    unsigned present = 0;
    tg_audit_query_init(q);
    const char *names[TG_ARRAY_SIZE(params)];
    for (size_t i = 0; i < TG_ARRAY_SIZE(params); i++)
        names[i] = params[i].name;
    struct tg_query_names qn = {names, TG_ARRAY_SIZE(params), 0};
    if (tg_query_check_names(qs, &qn, err, errlen))
        return -1;
    present = qn.present;
    for (size_t i = 0; i < TG_ARRAY_SIZE(params); i++) {
        if (!(present & (1u << i)))
            continue;
        if (tg_api_query(&req, params[i].name, v, sizeof v) == NULL || *v == '\0' ||
            strlen(v) == sizeof v - 1) {
            snprintf(err, errlen, "%s needs a value of 1 to %d bytes", params[i].name,
                     VALUE_MAX - 2);
            return -1;
        }
        if (apply(q, &params[i], v, err, errlen))
            return -1;
    }
    if (q->since_ms > q->until_ms) {
        snprintf(err, errlen, "since is after until");
        return -1;
    }
    return 0;
}

/* ---- cursors ---- */

static void fingerprint(const struct tg_audit_query *q, char out[13])
{
    const char *strs[] = {q->project, q->ref, q->sha, q->environment, q->action, q->actor};
    char nums[80];
    unsigned char d[TG_SHA256_LEN];
    struct tg_sha256 h;
    tg_sha256_init(&h);
    for (size_t i = 0; i < TG_ARRAY_SIZE(strs);
         i++) { /* "\1value\0" or "\0": absent is not empty */
        tg_sha256_update(&h, strs[i] ? "\1" : "\0", 1);
        if (strs[i])
            tg_sha256_update(&h, strs[i], strlen(strs[i]) + 1);
    }
    snprintf(nums, sizeof nums, "%lld/%llu/%llu", q->pipeline, (unsigned long long)q->since_ms,
             (unsigned long long)q->until_ms);
    tg_sha256_update(&h, nums, strlen(nums));
    tg_sha256_final(&h, d);
    tg_hex_encode(d, 6, out);
}

void tg_audit_cursor_encode(const struct tg_audit_query *q, long long seq,
                            char out[TG_AUDIT_CURSOR_MAX])
{
    char plain[48], fp[13];
    fingerprint(q, fp);
    int n = snprintf(plain, sizeof plain, "1.%c.%lld.%s", q->desc ? 'd' : 'a', seq, fp);
    size_t len = tg_base64_encode((const unsigned char *)plain, (size_t)n, out);
    while (len > 0 && out[len - 1] == '=')
        out[--len] = '\0';
    for (char *p = out; *p; p++) /* base64url: the cursor travels in a query string */
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
}

int tg_audit_cursor_decode(const struct tg_audit_query *q, const char *cursor, long long *seq)
{
    char b64[TG_AUDIT_CURSOR_MAX + 4], plain[TG_AUDIT_CURSOR_MAX], fp[13],
        want[TG_AUDIT_CURSOR_MAX];
    size_t n = strlen(cursor);
    if (n == 0 || n > TG_AUDIT_CURSOR_MAX - 1 || strspn(cursor, BASE64URL) != n)
        return -1;
    for (size_t i = 0; i < n; i++)
        b64[i] = cursor[i] == '-' ? '+' : cursor[i] == '_' ? '/' : cursor[i];
    while (n % 4)
        b64[n++] = '=';
    long len = tg_base64_decode(b64, n, (unsigned char *)plain, sizeof plain - 1);
    if (len <= 0)
        return -1;
    plain[len] = '\0';
    char *dot = strrchr(plain, '.');
    if (dot == NULL || strncmp(plain, q->desc ? "1.d." : "1.a.", 4) != 0)
        return -1;
    *dot = '\0';
    fingerprint(q, fp);
    if (tg_parse_int(plain + 4, 1, INT64_MAX, seq) || strcmp(dot + 1, fp) != 0)
        return -1;
    tg_audit_cursor_encode(q, *seq, want); /* the one spelling we hand out */
    return strcmp(want, cursor) == 0 ? 0 : -1;
}

/* ---- matching ---- */

static int str_field_is(json_t *record, const char *name, const char *want)
{
    return want == NULL || (json_is_string(json_object_get(record, name)) &&
                            strcmp(json_string_value(json_object_get(record, name)), want) == 0);
}

int tg_audit_query_match(const struct tg_audit_query *q, json_t *record)
{
    uint64_t ms;
    const char *time = json_string_value(json_object_get(record, "time"));
    if (!json_is_object(record) || time == NULL || tg_parse_time(time, &ms) || ms < q->since_ms ||
        ms > q->until_ms)
        return 0;
    if (q->pipeline && json_integer_value(json_object_get(record, "pipeline")) != q->pipeline)
        return 0;
    return str_field_is(record, "project", q->project) && str_field_is(record, "ref", q->ref) &&
           str_field_is(record, "sha", q->sha) &&
           str_field_is(record, "environment", q->environment) &&
           str_field_is(record, "action", q->action) && str_field_is(record, "actor", q->actor);
}

/* ---- running a page ---- */

/* The keys of one query: stream, time index, head, then one per indexed filter. */
struct plan {
    char keys[10][512];
    int nkeys;
};

static void add_index(struct plan *p, const char *prefix, enum tg_audit_index kind,
                      const char *value, const char *project)
{
    if (value)
        tg_audit_index_key(p->keys[p->nkeys++], sizeof p->keys[0], prefix,
                           &(struct tg_audit_index_ref){kind, value, project});
}

static void make_plan(struct plan *p, const char *prefix, const struct tg_audit_query *q)
{
    char pipeline[24];
    memset(p, 0, sizeof *p);
    tg_audit_key(p->keys[p->nkeys++], sizeof p->keys[0], prefix, TG_AK_STREAM);
    tg_audit_key(p->keys[p->nkeys++], sizeof p->keys[0], prefix, TG_AK_IDX_TIME);
    tg_audit_key(p->keys[p->nkeys++], sizeof p->keys[0], prefix, TG_AK_HEAD);
    snprintf(pipeline, sizeof pipeline, "%lld", q->pipeline);
    add_index(p, prefix, TG_AUDIT_IDX_PROJECT, q->ref ? NULL : q->project, NULL);
    add_index(p, prefix, TG_AUDIT_IDX_PIPELINE, q->pipeline ? pipeline : NULL, NULL);
    add_index(p, prefix, TG_AUDIT_IDX_ENVIRONMENT, q->environment, NULL);
    add_index(p, prefix, TG_AUDIT_IDX_ACTION, q->action, NULL);
    add_index(p, prefix, TG_AUDIT_IDX_ACTOR, q->actor, NULL);
    add_index(p, prefix, TG_AUDIT_IDX_SHA, q->sha, NULL);
    add_index(p, prefix, TG_AUDIT_IDX_REF, q->project ? NULL : q->ref, NULL);
    add_index(p, prefix, TG_AUDIT_IDX_PROJECT_REF, q->project ? q->ref : NULL, q->project);
}

/* The window left and the records of one script call. */
struct call {
    long long lo, hi, examined;
    int done;
    int want;         /* records this call may return */
    long long budget; /* entries this call may examine */
};

static redisReply *call_script(redisContext *c, const struct plan *p,
                               const struct tg_audit_query *q, const struct call *st)
{
    char lo[24], hi[24], since[24] = "", until[24] = "", swant[24], sbudget[24];
    const char *argv[TG_ARRAY_SIZE(p->keys) + 7];
    size_t lens[TG_ARRAY_SIZE(p->keys) + 7];
    snprintf(lo, sizeof lo, "%lld", st->lo);
    snprintf(hi, sizeof hi, "%lld", st->hi);
    if (q->since_ms)
        snprintf(since, sizeof since, "%llu", (unsigned long long)q->since_ms);
    if (q->until_ms != UINT64_MAX)
        snprintf(until, sizeof until, "%llu", (unsigned long long)q->until_ms);
    snprintf(swant, sizeof swant, "%d", st->want);
    snprintf(sbudget, sizeof sbudget, "%lld", st->budget);
    const char *args[] = {lo, hi, since, until, q->desc ? "desc" : "asc", swant, sbudget};
    for (int i = 0; i < p->nkeys; i++) {
        argv[i] = p->keys[i];
        lens[i] = strlen(p->keys[i]);
    }
    for (size_t i = 0; i < TG_ARRAY_SIZE(args); i++) {
        argv[p->nkeys + i] = args[i];
        lens[p->nkeys + i] = strlen(args[i]);
    }
    return tg_redis_eval(c,
                         &(struct tg_redis_script_call){.source = query_lua,
                                                        .nkeys = p->nkeys,
                                                        .argc = p->nkeys + (int)TG_ARRAY_SIZE(args),
                                                        .argv = argv,
                                                        .argvlen = lens});
}

/* Takes one reply into st and page; -1 when it is not the script's answer. */
static int take(const redisReply *r, struct call *st, const struct tg_audit_query *q,
                json_t *records)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 4)
        return -1;
    for (size_t i = 0; i < r->elements; i++)
        if (r->element[i]->type != REDIS_REPLY_STRING)
            return -1;
    st->done = strcmp(r->element[0]->str, "done") == 0;
    st->lo = atoll(r->element[1]->str);
    st->hi = atoll(r->element[2]->str);
    st->examined += atoll(r->element[3]->str);
    for (size_t i = 4; i < r->elements; i++) {
        json_t *rec = json_loadb(r->element[i]->str, r->element[i]->len, 0, NULL);
        if (rec && tg_audit_query_match(q, rec))
            json_array_append(records, rec);
        json_decref(rec);
    }
    return 0;
}

int tg_audit_query_run(const struct tg_audit_db *db, const struct tg_audit_query *q,
                       struct tg_audit_page *out, char *err, size_t errlen)
{
    redisContext *c = db->c;
    const char *prefix = db->prefix;
    struct plan p;
    struct call st = {.lo = q->after && !q->desc ? q->after + 1 : 1,
                      .hi = q->after && q->desc ? q->after - 1 : atoll(OPEN_HI)};
    size_t limit = (size_t)q->limit;
    int rc = 0;
    out->records = json_array();
    out->next = 0;
    make_plan(&p, prefix, q);
    while (rc == 0 && !st.done && json_array_size(out->records) <= limit &&
           st.examined < REQUEST_BUDGET) {
        long long left = REQUEST_BUDGET - st.examined;
        st.want = (int)(limit + 1 - json_array_size(out->records));
        st.budget = left < CALL_BUDGET ? left : CALL_BUDGET;
        redisReply *r = call_script(c, &p, q, &st);
        if ((rc = take(r, &st, q, out->records)) != 0)
            snprintf(err, errlen, "audit query failed: %s",
                     r && r->type == REDIS_REPLY_ERROR ? r->str
                     : c->err                          ? c->errstr
                                                       : "unexpected reply");
        freeReplyObject(r);
    }
    if (rc == 0 && json_array_size(out->records) > limit) {
        out->next =
            json_integer_value(json_object_get(json_array_get(out->records, limit - 1), "seq"));
        json_array_remove(out->records, limit);
    } else if (rc == 0 && !st.done) {
        out->next = q->desc ? st.hi + 1 : st.lo - 1; /* the budget ran out: go on from here */
    }
    return rc;
}

void tg_audit_page_dispose(struct tg_audit_page *p)
{
    json_decref(p->records);
    p->records = NULL;
}

int tg_audit_get(redisContext *c, const char *prefix, long long seq, json_t **out)
{
    redisReply *r =
        redisCommand(c, "XRANGE %s %lld-0 %lld-0", TG_AUDIT_KEY(prefix, TG_AK_STREAM), seq, seq);
    *out = NULL;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    const char *rec = r->elements == 1 ? tg_audit_field(r->element[0]->element[1], "record") : NULL;
    *out = rec ? json_loads(rec, 0, NULL) : NULL;
    freeReplyObject(r);
    return 0;
}
