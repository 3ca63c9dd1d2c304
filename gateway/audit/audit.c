/* audit.c -- the audit trail: every step Tollgate takes, hash-chained in Redis.
 *
 *   record n:  {"action":..., "actor":..., ..., "prev": hash(n-1), "seq": n, "time": ...}
 *   hash(n)  = hex SHA-256( hash(n-1) hex  ||  canonical(record n without "hash") )
 *   hash(0)  = "0" x 64                     time(n) >= time(n-1) (the writer sees to it)
 *
 *   <prefix>audit            stream, entry id "<seq>-0": record (canonical JSON incl. hash), hash
 *   <prefix>audit:head       hash: seq, hash, time (ms) of the newest record
 *   <prefix>audit:once~h:<sha256 of k>   the seq that recorded a once-only step (30 days);
 *                            "<seq>:pending" until the file sink took its line
 *   <prefix>audit:inbox      notes of code that cannot append itself; :inbox:lock:<id> (30 s)
 *   <prefix>audit:idx:time   zset seq by time (ms)
 *   <prefix>audit:idx:<kind>~h:<sha256 hex of value>   zsets of seq (score seq) per actor,
 *                            project, environment, ref and project_ref (<project>:<ref>):
 *                            free text never appears in a key name
 *   <prefix>audit:idx:<kind>:<value>   the same for action, pipeline and sha (fixed shapes)
 *
 * The append script writes only if the head is still the one the record was built on; on a
 * conflict it returns the current head and the writer rebuilds the record on top of it.
 * Worker, api-pool and main threads each own a writer; the health flag is process-wide.
 */
#include "audit/audit.h"
#include "audit/audit_keys.h"
#include "base/scrub.h"
#include "deliver/template.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/redisconn.h"
#include "base/util.h"
#include "forward/dojo_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define TG_MODULE      "audit"
#define MAX_CONFLICTS  64
#define PROBE_BYTES    4096 /* the probe's write: larger than nearly every record */
#define ONCE_TTL       "2592000"
#define MAX_INDEXES    8
#define MAX_KEYS       (4 + MAX_INDEXES)
#define SECRET_MIN_LEN 8 /* shorter values would redact ordinary words */
#define REDACTED       "[redacted: held a configured secret]"

/* A process global (main.c lists it): did the last append of this process succeed? */
static atomic_int audit_healthy = 1;

struct tg_audit {
    char *prefix;
    char *file;
    int fd;
    int fail_closed;
    int head_known;
    long long head_seq;
    uint64_t head_ms;
    char head_hash[TG_SHA256_HEX_LEN + 1];
    char **secrets; /* copies of the configured secret values, wiped on free */
    size_t nsecrets;
};

/* What one attempt of the script came to. */
enum attempt { ATTEMPT_FAILED = -1, ATTEMPT_CONFLICT, ATTEMPT_APPENDED, ATTEMPT_DUPLICATE };

/* ARGV: seq, prev hash, record, hash, once TTL ("0": none), time ms, sink ("1": a file sink
 * will confirm the once key after writing the line, so a duplicate knows whether to repair). */
static const char append_lua[] =
    "local head = redis.call('HMGET', KEYS[2], 'seq', 'hash', 'time')\n"
    "local seq = tonumber(head[1] or '0')\n"
    "local hash = head[2] or string.rep('0', 64)\n"
    "local time = head[3] or '0'\n"
    "if ARGV[5] ~= '0' then\n"
    "  local done = redis.call('GET', KEYS[3])\n"
    "  if done then\n"
    "    local s = string.match(done, '^%d+') or '0'\n"
    "    local e = string.find(done, ':pending', 1, true) and redis.call('XRANGE', KEYS[1], s .. "
    "'-0', s .. '-0')[1]\n"
    "    return {'dup', s, e and e[2][2] or ''}\n"
    "  end\n"
    "end\n"
    "if seq + 1 ~= tonumber(ARGV[1]) or hash ~= ARGV[2] or tonumber(ARGV[6]) < tonumber(time) "
    "then\n"
    "  return {'conflict', tostring(seq), hash, time}\n"
    "end\n"
    "redis.call('XADD', KEYS[1], ARGV[1] .. '-0', 'record', ARGV[3], 'hash', ARGV[4])\n"
    "redis.call('HSET', KEYS[2], 'seq', ARGV[1], 'hash', ARGV[4], 'time', ARGV[6])\n"
    "if ARGV[5] ~= '0' then\n"
    "  redis.call('SET', KEYS[3], ARGV[7] == '1' and ARGV[1] .. ':pending' or ARGV[1], 'EX', "
    "ARGV[5])\n"
    "end\n"
    "redis.call('ZADD', KEYS[4], ARGV[6], ARGV[1])\n"
    "for i = 5, #KEYS do redis.call('ZADD', KEYS[i], ARGV[1], ARGV[1]) end\n"
    "return {'ok'}\n";

static void add_secret(struct tg_audit *a, const struct tg_secret *s)
{
    if (s->value == NULL || s->len < SECRET_MIN_LEN)
        return;
    a->secrets = tg_xrealloc(a->secrets, (a->nsecrets + 1) * sizeof *a->secrets);
    a->secrets[a->nsecrets++] = tg_xstrndup(s->value, s->len);
}

static void add_template_token(void *arg, const struct tg_secret *s)
{
    add_secret(arg, s);
}

static void collect_secrets(struct tg_audit *a, const struct tg_config *cfg)
{
    const struct tg_chat *chats[] = {&cfg->slack, &cfg->mattermost};
    for (size_t i = 0; i < cfg->nwebhooks; i++) {
        add_secret(a, &cfg->webhooks[i].token);
        add_secret(a, &cfg->webhooks[i].signing_token);
    }
    for (size_t i = 0; i < cfg->napi_tokens; i++)
        add_secret(a, &cfg->api_tokens[i].token);
    add_secret(a, &cfg->gitlab.api_token);
    if (cfg->defectdojo)
        add_secret(a, &cfg->defectdojo->api_key);
    add_secret(a, &cfg->console.client_secret);
    for (size_t i = 0; i < TG_ARRAY_SIZE(chats); i++) {
        add_secret(a, &chats[i]->secret);
        add_secret(a, &chats[i]->webhook_url);
        add_secret(a, &chats[i]->bot_token);
    }
    tg_template_set_each_token(cfg->templates, add_template_token, a);
}

void tg_audit_follow(struct tg_audit **a, const struct tg_config **made_from,
                     const struct tg_config *cfg)
{
    if (*made_from == cfg && *a)
        return;
    tg_audit_free(*a);
    *a = tg_audit_new(cfg);
    *made_from = cfg;
}

struct tg_audit *tg_audit_new(const struct tg_config *cfg)
{
    struct tg_audit *a = tg_xcalloc(1, sizeof *a);
    a->prefix = tg_xstrdup(cfg->redis.prefix);
    a->file = cfg->audit.file ? tg_xstrdup(cfg->audit.file) : NULL;
    a->fail_closed = cfg->audit.fail_closed;
    a->fd = -1;
    collect_secrets(a, cfg);
    return a;
}

void tg_audit_free(struct tg_audit *a)
{
    if (a == NULL)
        return;
    if (a->fd >= 0)
        close(a->fd);
    for (size_t i = 0; i < a->nsecrets; i++) {
        explicit_bzero(a->secrets[i], strlen(a->secrets[i]));
        free(a->secrets[i]);
    }
    free(a->secrets);
    free(a->prefix);
    free(a->file);
    free(a);
}

int tg_audit_fail_closed(const struct tg_audit *a)
{
    return a->fail_closed;
}

int tg_audit_healthy(void)
{
    return atomic_load(&audit_healthy);
}

static void set_healthy(int ok)
{
    if (atomic_exchange(&audit_healthy, ok) != ok)
        TG_LOG(ok ? TG_LOG_INFO : TG_LOG_ERROR, ok ? "recovered" : "failing",
               ok ? "the audit trail is written again" : "the audit trail cannot be written");
}

char *tg_audit_canonical(json_t *record)
{
    json_t *copy = json_copy(record);
    json_object_del(copy, "hash");
    char *s = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    json_decref(copy);
    return s;
}

void tg_audit_chain_hash(const char *prev, const char *canonical, char out[TG_SHA256_HEX_LEN + 1])
{
    struct tg_sha256 h;
    unsigned char d[TG_SHA256_LEN];
    tg_sha256_init(&h);
    tg_sha256_update(&h, prev, strlen(prev));
    tg_sha256_update(&h, canonical, strlen(canonical));
    tg_sha256_final(&h, d);
    tg_hex_encode(d, sizeof d, out);
}

/* ---- building a record ---- */

/* An empty string is no value: null, and no index entry. */
static int given(const char *s)
{
    return s && *s;
}

static json_t *str_or_null(const char *s)
{
    return given(s) ? json_string_nocheck(s) : json_null(); /* bad UTF-8 is scrubbed, not dropped */
}

static json_t *build(const struct tg_audit_record *r, long long seq, const char *prev, uint64_t ms)
{
    char ts[40];
    tg_rfc3339(ts, sizeof ts, ms);
    json_t *o = json_object();
    json_object_set_new(o, "seq", json_integer(seq));
    json_object_set_new(o, "time", json_string(ts));
    json_object_set_new(o, "action", str_or_null(r->action));
    json_object_set_new(o, "actor", str_or_null(given(r->actor) ? r->actor : "system"));
    json_object_set_new(o, "project", str_or_null(r->project));
    json_object_set_new(o, "ref", str_or_null(r->ref));
    json_object_set_new(o, "sha", str_or_null(r->sha));
    json_object_set_new(o, "pipeline", r->pipeline ? json_integer(r->pipeline) : json_null());
    json_object_set_new(o, "environment", str_or_null(r->environment));
    json_object_set_new(o, "decision", str_or_null(r->decision));
    json_object_set_new(o, "reasons", r->reasons ? json_deep_copy(r->reasons) : json_null());
    json_object_set_new(o, "details", r->details ? json_deep_copy(r->details) : json_null());
    json_object_set_new(o, "prev", json_string(prev));
    return o;
}

static int holds_secret(const struct tg_audit *a, const char *s, size_t n)
{
    for (size_t i = 0; i < a->nsecrets; i++)
        if (memmem(s, n, a->secrets[i], strlen(a->secrets[i])))
            return 1;
    return 0;
}

/* Cleans one string: a configured secret replaces the whole string; a token-shaped value
 * (scrub.h) is replaced where it stands; when utf8 is set, a string JSON cannot carry is
 * replaced. Returns 1 when it changed v. */
static int clean_string(const struct tg_audit *a, json_t *v, int utf8)
{
    const char *s = json_string_value(v);
    size_t n = json_string_length(v), m;
    if (holds_secret(a, s, n))
        return json_string_set(v, REDACTED) == 0;
    if (utf8) {
        json_t *probe = json_stringn(s, n); /* NULL when not UTF-8 */
        json_decref(probe);
        return probe == NULL && json_string_set(v, "[not UTF-8]") == 0;
    }
    char *clean = tg_scrub(s, n, &m);
    int changed = clean && json_string_setn_nocheck(v, clean, m) == 0;
    free(clean);
    return changed;
}

/* Cleans every string of v; returns how many changed. */
static int scrub(const struct tg_audit *a, json_t *v, int utf8)
{
    const char *k;
    json_t *item;
    size_t i;
    int n = 0;
    if (json_is_object(v))
        json_object_foreach(v, k, item) n += scrub(a, item, utf8);
    else if (json_is_array(v))
        json_array_foreach(v, i, item) n += scrub(a, item, utf8);
    else if (json_is_string(v))
        n += clean_string(a, v, utf8);
    return n;
}

/* The canonical bytes of rec after scrubbing secrets (every string is looked at: a secret
 * may be spelt with escapes in JSON) and, when JSON cannot carry a string, bad UTF-8. */
TG_UNITTEST char *canonical_clean(const struct tg_audit *a, json_t *rec)
{
    int n = scrub(a, rec, 0);
    char *canon = tg_audit_canonical(rec);
    if (canon == NULL) {
        n += scrub(a, rec, 1);
        canon = tg_audit_canonical(rec);
    }
    if (n)
        TG_LOG(TG_LOG_WARN, "scrubbed", "%d value(s) of a %s record held a secret or bad UTF-8", n,
               json_string_value(json_object_get(rec, "action")));
    return canon ? canon : tg_xstrdup("{}");
}

/* ---- the file sink ---- */

static int sink_open(struct tg_audit *a, char *err, size_t errlen)
{
    if (a->fd < 0 && (a->fd = open(a->file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640)) < 0) {
        snprintf(err, errlen, "audit file %s: %s", a->file, strerror(errno));
        return -1;
    }
    return 0;
}

/* Writes len bytes at the end of the file, all or nothing: under an exclusive flock(2) (the
 * sink's other threads and processes hold their own descriptions), so the size before the
 * write is the line's start; a short or failed write or fsync (a full disk) is cut back to it
 * with ftruncate, so no partial line stays for the next one to be glued to. keep: 0 cuts back
 * even a good write (the probe). Returns 0, or -1 with errno. */
static int append_whole(int fd, const char *buf, size_t len, int keep)
{
    struct stat st;
    if (flock(fd, LOCK_EX) != 0)
        return -1;
    int rc = fstat(fd, &st);
    ssize_t w = rc == 0 ? write(fd, buf, len) : -1;
    int saved = errno;
    if (rc == 0 && (w != (ssize_t)len || fsync(fd) != 0)) {
        saved = w >= 0 && w != (ssize_t)len ? ENOSPC : errno;
        rc = -1;
    }
    if (rc == -1 || !keep) {
        if (w > 0 && (ftruncate(fd, st.st_size) != 0 || fsync(fd) != 0))
            TG_LOG(TG_LOG_ERROR, "sink_torn",
                   "could not cut a failed write back (%s): the "
                   "file holds a partial line",
                   strerror(errno));
    }
    flock(fd, LOCK_UN);
    errno = saved;
    return rc;
}

static int file_sink(struct tg_audit *a, const char *line, char *err, size_t errlen)
{
    if (a->file == NULL || *line == '\0')
        return 0;
    if (sink_open(a, err, errlen))
        return -1;
    size_t n = strlen(line);
    char *buf = tg_xasprintf("%s\n", line);
    int rc = append_whole(a->fd, buf, n + 1,
                          1); /* one write: lines from several threads never interleave */
    int saved = errno;
    free(buf);
    if (rc != 0) {
        snprintf(err, errlen, "audit file %s: %s", a->file, strerror(saved));
        close(a->fd);
        a->fd = -1;
        return -1;
    }
    return 0;
}

/* ---- appending ---- */

/* The seq indexes of r into keys (at most TG_AUDIT_MAX_INDEXES); returns how many. */
static int record_indexes(const char *prefix, const struct tg_audit_record *r, char keys[][512])
{
    char pipeline[24];
    int n = 0;
    tg_audit_index_key(keys[n++], 512, prefix,
                       &(struct tg_audit_index_ref){TG_AUDIT_IDX_ACTION, r->action, NULL});
    tg_audit_index_key(keys[n++], 512, prefix,
                       &(struct tg_audit_index_ref){TG_AUDIT_IDX_ACTOR,
                                                    given(r->actor) ? r->actor : "system", NULL});
    if (given(r->project))
        tg_audit_index_key(keys[n++], 512, prefix,
                           &(struct tg_audit_index_ref){TG_AUDIT_IDX_PROJECT, r->project, NULL});
    if (r->pipeline) {
        snprintf(pipeline, sizeof pipeline, "%lld", r->pipeline);
        tg_audit_index_key(keys[n++], 512, prefix,
                           &(struct tg_audit_index_ref){TG_AUDIT_IDX_PIPELINE, pipeline, NULL});
    }
    if (given(r->environment))
        tg_audit_index_key(
            keys[n++], 512, prefix,
            &(struct tg_audit_index_ref){TG_AUDIT_IDX_ENVIRONMENT, r->environment, NULL});
    if (given(r->sha))
        tg_audit_index_key(keys[n++], 512, prefix,
                           &(struct tg_audit_index_ref){TG_AUDIT_IDX_SHA, r->sha, NULL});
    if (given(r->ref))
        tg_audit_index_key(keys[n++], 512, prefix,
                           &(struct tg_audit_index_ref){TG_AUDIT_IDX_REF, r->ref, NULL});
    if (given(r->ref) && given(r->project))
        tg_audit_index_key(
            keys[n++], 512, prefix,
            &(struct tg_audit_index_ref){TG_AUDIT_IDX_PROJECT_REF, r->ref, r->project});
    return n;
}

/* Keys the script touches: stream, head, once, time index, then the indexes of r. */
static int index_keys(const struct tg_audit *a, const struct tg_audit_record *r, char keys[][512])
{
    int n = 0;
    tg_audit_key(keys[n++], 512, a->prefix, TG_AK_STREAM);
    tg_audit_key(keys[n++], 512, a->prefix, TG_AK_HEAD);
    tg_audit_once_key(keys[n++], 512, a->prefix, r->once ? r->once : "-");
    tg_audit_key(keys[n++], 512, a->prefix, TG_AK_IDX_TIME);
    return n + record_indexes(a->prefix, r, keys + n);
}

int tg_audit_record_indexes(const char *prefix, json_t *record, char keys[][512])
{
    json_t *p = json_object_get(record, "pipeline");
    struct tg_audit_record r = {
        .action = json_string_value(json_object_get(record, "action")),
        .actor = json_string_value(json_object_get(record, "actor")),
        .project = json_string_value(json_object_get(record, "project")),
        .ref = json_string_value(json_object_get(record, "ref")),
        .sha = json_string_value(json_object_get(record, "sha")),
        .pipeline = json_integer_value(p),
        .environment = json_string_value(json_object_get(record, "environment")),
    };
    if (r.action == NULL)
        return 0;
    return record_indexes(prefix, &r, keys);
}

static void set_head(struct tg_audit *a, const char *seq, const char *hash, const char *ms)
{
    a->head_seq = seq ? atoll(seq) : 0;
    a->head_ms = ms ? strtoull(ms, NULL, 10) : 0;
    snprintf(a->head_hash, sizeof a->head_hash, "%s", hash ? hash : TG_AUDIT_GENESIS);
    a->head_known = 1;
}

static const char *str_at(const redisReply *r, size_t i)
{
    return r->type == REDIS_REPLY_ARRAY && i < r->elements &&
                   r->element[i]->type == REDIS_REPLY_STRING
               ? r->element[i]->str
               : NULL;
}

static int load_head(struct tg_audit *a, redisContext *c)
{
    redisReply *rep =
        redisCommand(c, "HMGET %s seq hash time", TG_AUDIT_KEY(a->prefix, TG_AK_HEAD));
    int ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 3;
    if (ok)
        set_head(a, str_at(rep, 0), str_at(rep, 1), str_at(rep, 2));
    freeReplyObject(rep);
    return ok ? 0 : -1;
}

/* The record r would be as seq head+1, with its hash; *ms is its time. Caller frees. */
static char *seal(struct tg_audit *a, const struct tg_audit_record *r, uint64_t *ms,
                  char hash[TG_SHA256_HEX_LEN + 1])
{
    uint64_t now = tg_now_ms();
    *ms = now > a->head_ms ? now : a->head_ms; /* never before its predecessor */
    json_t *rec = build(r, a->head_seq + 1, a->head_hash, *ms);
    char *canon = canonical_clean(a, rec);
    tg_audit_chain_hash(a->head_hash, canon, hash);
    json_object_set_new(rec, "hash", json_string(hash));
    char *full = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
    free(canon);
    json_decref(rec);
    return full;
}

static enum attempt read_outcome(struct tg_audit *a, const redisReply *rep, const char *hash,
                                 uint64_t ms, char **line)
{
    const char *what = rep ? str_at(rep, 0) : NULL;
    if (what && strcmp(what, "ok") == 0) {
        a->head_seq++;
        a->head_ms = ms;
        memcpy(a->head_hash, hash, TG_SHA256_HEX_LEN + 1);
        return ATTEMPT_APPENDED;
    }
    free(*line);
    *line = NULL;
    if (what && strcmp(what, "dup") == 0 && rep->elements == 3) {
        *line = tg_xstrdup(str_at(rep, 2) ? str_at(rep, 2) : "");
        return ATTEMPT_DUPLICATE;
    }
    if (what && strcmp(what, "conflict") == 0 && rep->elements == 4) {
        set_head(a, str_at(rep, 1), str_at(rep, 2), str_at(rep, 3));
        return ATTEMPT_CONFLICT;
    }
    if (rep && rep->type == REDIS_REPLY_ERROR)
        TG_LOG(TG_LOG_ERROR, "append_error", "%.200s", rep->str);
    return ATTEMPT_FAILED;
}

/* One run of the script; *line gets the line for the file sink. */
static enum attempt try_append(struct tg_audit *a, redisContext *c, const struct tg_audit_record *r,
                               char **line)
{
    char keys[MAX_KEYS][512], seq[24], hash[TG_SHA256_HEX_LEN + 1], now[24];
    const char *argv[MAX_KEYS + 7];
    size_t argvlen[MAX_KEYS + 7];
    uint64_t ms;
    int nkeys = index_keys(a, r, keys);
    *line = seal(a, r, &ms, hash);
    snprintf(seq, sizeof seq, "%lld", a->head_seq + 1);
    snprintf(now, sizeof now, "%llu", (unsigned long long)ms);
    const char *args[] = {seq, a->head_hash,       *line, hash, r->once ? ONCE_TTL : "0",
                          now, a->file ? "1" : "0"};
    for (int i = 0; i < nkeys; i++) {
        argv[i] = keys[i];
        argvlen[i] = strlen(keys[i]);
    }
    for (size_t i = 0; i < TG_ARRAY_SIZE(args); i++) {
        argv[nkeys + i] = args[i];
        argvlen[nkeys + i] = strlen(args[i]);
    }
    redisReply *rep =
        tg_redis_eval(c, &(struct tg_redis_script_call){.source = append_lua,
                                                        .nkeys = nkeys,
                                                        .argc = nkeys + (int)TG_ARRAY_SIZE(args),
                                                        .argv = argv,
                                                        .argvlen = argvlen});
    enum attempt res = read_outcome(a, rep, hash, ms, line);
    freeReplyObject(rep);
    return res;
}

/* Redis part of an append: the script, rebuilt on conflicts. *line as for try_append. */
static enum attempt append_redis(struct tg_audit *a, redisContext *c,
                                 const struct tg_audit_record *r, char **line)
{
    enum attempt res = ATTEMPT_CONFLICT;
    for (int i = 0; i < MAX_CONFLICTS && res == ATTEMPT_CONFLICT; i++) {
        free(*line);
        *line = NULL;
        if (!a->head_known && load_head(a, c))
            return ATTEMPT_FAILED;
        if ((res = try_append(a, c, r, line)) == ATTEMPT_FAILED)
            a->head_known = 0;
    }
    return res == ATTEMPT_CONFLICT ? ATTEMPT_FAILED : res;
}

/* The sink took the line of a once-only step: its duplicates need not write it again. */
static void confirm_once(struct tg_audit *a, redisContext *c, const struct tg_audit_record *r,
                         const char *line)
{
    json_t *rec = json_loads(line, 0, NULL);
    long long seq = json_integer_value(json_object_get(rec, "seq"));
    json_decref(rec);
    char key[512];
    tg_audit_once_key(key, sizeof key, a->prefix, r->once); /* as index_keys names it */
    redisReply *rep = redisCommand(c, "SET %s %lld XX KEEPTTL", key, seq);
    freeReplyObject(rep); /* a miss costs one repeated line in the sink, never a lost one */
}

int tg_audit_append(struct tg_audit *a, redisContext *c, const struct tg_audit_record *r, char *err,
                    size_t errlen)
{
    char *line = NULL;
    int rc = -1;
    enum attempt res = c ? append_redis(a, c, r, &line) : ATTEMPT_FAILED;
    if (res == ATTEMPT_FAILED)
        snprintf(err, errlen, "audit append failed: %s",
                 c && c->err ? c->errstr : "Redis refused the record");
    else
        rc = file_sink(a, line, err, errlen);
    if (rc == 0 && a->file && r->once && *line)
        confirm_once(a, c, r, line);
    set_healthy(rc == 0); /* before the counters: whoever sees a failure counted sees the flag */
    if (rc)
        tg_metrics_inc(TG_M_AUDIT_FAILURES);
    else if (res == ATTEMPT_APPENDED)
        tg_metrics_inc(TG_M_AUDIT_RECORDS);
    if (rc == 0 && res == ATTEMPT_APPENDED && a->head_seq % 1000 == 0)
        TG_LOG(TG_LOG_INFO, "head", "seq %lld hash %s", a->head_seq, a->head_hash);
    free(line);
    return rc;
}

/* ---- the inbox ---- */

/* Open and fsync succeed on a full disk: only a write of a record's size that is taken back
 * shows the sink can append again (a larger record that still fails marks it failing anew). */
static int probe_write(int fd)
{
    static const char zeros[PROBE_BYTES];
    return append_whole(fd, zeros, sizeof zeros, 0);
}

/* While the process is unhealthy: are Redis and the file sink usable again? */
static void probe(struct tg_audit *a, redisContext *c)
{
    char err[256];
    redisReply *r = redisCommand(c, "PING");
    int ok = r && r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    if (ok && a->file && (sink_open(a, err, sizeof err) || probe_write(a->fd) != 0))
        ok = 0;
    if (ok)
        set_healthy(1);
    else
        tg_metrics_inc(TG_M_AUDIT_PROBES_FAILED);
}

const char *tg_audit_field(const redisReply *kv, const char *name)
{
    for (size_t i = 0; kv && kv->type == REDIS_REPLY_ARRAY && i + 1 < kv->elements; i += 2)
        if (kv->element[i]->type == REDIS_REPLY_STRING && strcmp(kv->element[i]->str, name) == 0)
            return kv->element[i + 1]->type == REDIS_REPLY_STRING ? kv->element[i + 1]->str : NULL;
    return NULL;
}

/* Only one writer at a time takes a note (else both would write its line to the sink);
 * a writer that dies leaves it to the others when the lock expires. */
static int lock_note(struct tg_audit *a, redisContext *c, const char *id)
{
    char key[512];
    tg_audit_inbox_lock_key(key, sizeof key, a->prefix, id);
    redisReply *r = redisCommand(c, "SET %s 1 NX PX 30000", key);
    int rc = r == NULL ? -1 : r->type == REDIS_REPLY_STATUS ? 0 : 1;
    freeReplyObject(r);
    return rc;
}

/* Records one note and deletes it: 0 done, 1 not now (another writer has it, or the append
 * failed: left for later), -1 Redis failed. */
static int drain_one(struct tg_audit *a, redisContext *c, const redisReply *entry)
{
    char err[256], once[96];
    const char *id = entry->element[0]->str, *action = tg_audit_field(entry->element[1], "action");
    int rc = lock_note(a, c, id);
    if (rc)
        return rc;
    const char *text = tg_audit_field(entry->element[1], "details");
    json_t *details = json_loads(text ? text : "null", JSON_DECODE_ANY, NULL);
    snprintf(once, sizeof once, "inbox:%s", id);
    struct tg_audit_record r = {
        .action = action ? action : "note", .actor = "system", .details = details, .once = once};
    rc = tg_audit_append(a, c, &r, err, sizeof err);
    json_decref(details);
    if (rc) {
        TG_LOG(TG_LOG_WARN, "inbox_waits", "%s", err);
        return c->err ? -1 : 1;
    }
    redisReply *del = redisCommand(c, "XDEL %s %s", TG_AUDIT_KEY(a->prefix, TG_AK_INBOX), id);
    rc = del && del->type == REDIS_REPLY_INTEGER ? 0 : -1;
    freeReplyObject(del);
    return rc;
}

int tg_audit_drain_inbox(struct tg_audit *a, redisContext *c, int max)
{
    if (!tg_audit_healthy())
        probe(a, c);
    redisReply *r =
        redisCommand(c, "XRANGE %s - + COUNT %d", TG_AUDIT_KEY(a->prefix, TG_AK_INBOX), max);
    int n = 0, rc = 0;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; i < r->elements && rc >= 0; i++)
        if ((rc = drain_one(a, c, r->element[i])) == 0)
            n++;
    freeReplyObject(r);
    return rc < 0 ? -1 : n;
}
