/* audit_archive.c -- moving records past audit.retention from Redis into sealed segments.
 *
 *   pass    lease (SET NX PX) -> the due records from the start (time <= now - retention,
 *           never the newest) -> a segment: the one a crashed pass left at the start, else a
 *           new one, only into a directory that ends at the start - 1 (tmp file, fsync,
 *           lease and start checked again, link, fsync of the directory) -> re-read: the
 *           chain from the start's prev, the name's last seq and hash, the same hash in Redis ->
 *           trim script (lease and start unchanged: stream up to the last seq, its index
 *           entries, the start moved) -> lease released
 *   files   audit-<first>-<last>-<hash>.jsonl.zst, one zstd frame of the stored records
 *
 * Runs on the main thread's housekeeping (maint.c) and in `tollgate audit archive`.
 */
#include "audit/audit_archive.h"
#include "audit/audit_keys.h"
#include "audit/audit.h"
#include "base/buf.h"
#include "base/redisconn.h"
#include "base/util.h"

#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define NAME_LEN          (6 + 20 + 1 + 20 + 1 + TG_SHA256_HEX_LEN + 10)
#define SEGMENT_MAX_BYTES (1ull << 31) /* a segment larger than this is refused as damaged */

/* ARGV: lease token, expected start, last seq, last hash, then the moved seqs (idx:time). */
static const char trim_lua[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'lease'} end\n"
    "local s = redis.call('HGET', KEYS[3], 'seq') or '1'\n"
    "if s ~= ARGV[2] then return {'moved', s} end\n"
    "redis.call('XTRIM', KEYS[2], 'MINID', string.format('%d-0', tonumber(ARGV[3]) + 1))\n"
    "redis.call('HSET', KEYS[3], 'seq', string.format('%d', tonumber(ARGV[3]) + 1), 'prev', "
    "ARGV[4])\n"
    "for i = 5, #ARGV do redis.call('ZREM', KEYS[4], ARGV[i]) end\n"
    "for i = 5, #KEYS do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[3]) end\n"
    "return {'ok'}\n";

static const char release_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end\n"
    "return 1\n";

int tg_audit_start_get(redisContext *c, const char *prefix, long long *seq,
                       char prev[TG_SHA256_HEX_LEN + 1])
{
    redisReply *r = redisCommand(c, "HMGET %s seq prev", TG_AUDIT_KEY(prefix, TG_AK_START));
    int ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2;
    *seq = 1;
    snprintf(prev, TG_SHA256_HEX_LEN + 1, "%s", TG_AUDIT_GENESIS);
    if (ok && r->element[0]->type == REDIS_REPLY_STRING &&
        r->element[1]->type == REDIS_REPLY_STRING && r->element[1]->len == TG_SHA256_HEX_LEN) {
        *seq = atoll(r->element[0]->str);
        memcpy(prev, r->element[1]->str, TG_SHA256_HEX_LEN + 1);
    }
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/* ---- segments on disk ---- */

static int parse_name(const char *name, struct tg_audit_segment *s)
{
    char a[21], b[21];
    if (strlen(name) != NAME_LEN || strncmp(name, "audit-", 6) != 0 || name[26] != '-' ||
        name[47] != '-' || strcmp(name + NAME_LEN - 10, ".jsonl.zst") != 0)
        return -1;
    memcpy(a, name + 6, 20);
    a[20] = '\0';
    memcpy(b, name + 27, 20);
    b[20] = '\0';
    memcpy(s->hash, name + 48, TG_SHA256_HEX_LEN);
    s->hash[TG_SHA256_HEX_LEN] = '\0';
    if (strspn(a, "0123456789") != 20 || strspn(b, "0123456789") != 20 ||
        strspn(s->hash, "0123456789abcdef") != TG_SHA256_HEX_LEN)
        return -1;
    s->first = atoll(a);
    s->last = atoll(b);
    return s->first >= 1 && s->last >= s->first ? 0 : -1;
}

static int by_first(const void *x, const void *y)
{
    const struct tg_audit_segment *a = x, *b = y;
    return a->first < b->first   ? -1
           : a->first > b->first ? 1
                                 : (a->last > b->last) - (a->last < b->last);
}

int tg_audit_segments_list(const char *dir, struct tg_audit_segment **out, size_t *n, char *err,
                           size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    if (d == NULL) {
        snprintf(err, errlen, "audit archive %s: %s", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        struct tg_audit_segment s = {0};
        if (parse_name(e->d_name, &s))
            continue;
        if (*n == cap)
            *out = tg_xrealloc(*out, (cap = cap ? cap * 2 : 64) * sizeof **out);
        s.name = tg_xstrdup(e->d_name);
        (*out)[(*n)++] = s;
    }
    closedir(d);
    if (*n > 1)
        qsort(*out, *n, sizeof **out, by_first);
    return 0;
}

void tg_audit_segments_free(struct tg_audit_segment *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i].name);
    free(v);
}

/* The whole file into *buf; 0 or -1 with err. */
static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    FILE *f = fopen(path, "rb");
    *buf = NULL;
    if (f == NULL || fstat(fileno(f), &st) != 0 || (uint64_t)st.st_size > SEGMENT_MAX_BYTES) {
        snprintf(err, errlen, "%s: %s", path, f ? "too large" : strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    *len = (size_t)st.st_size;
    *buf = tg_xmalloc(*len + 1);
    int ok = fread(*buf, 1, *len, f) == *len;
    fclose(f);
    if (!ok) {
        snprintf(err, errlen, "%s: short read", path);
        free(*buf);
        *buf = NULL;
    }
    return ok ? 0 : -1;
}

/* The decompressed content of path (any zstd frames, with or without a content size: a
 * segment recompressed by the zstd tool still reads); caller frees. NULL with err. */
static char *decompress_file(const char *path, size_t *outlen, char *err, size_t errlen)
{
    char *z;
    size_t zlen, ret = 1;
    if (read_file(path, &z, &zlen, err, errlen))
        return NULL;
    ZSTD_DStream *d = ZSTD_createDStream();
    struct tg_buf out;
    tg_buf_init(&out);
    ZSTD_inBuffer in = {z, zlen, 0};
    char chunk[65536];
    while (in.pos < in.size && !ZSTD_isError(ret) && out.len <= SEGMENT_MAX_BYTES) {
        ZSTD_outBuffer o = {chunk, sizeof chunk, 0};
        ret = ZSTD_decompressStream(d, &o, &in);
        tg_buf_append(&out, chunk, o.pos);
    }
    for (int more = !ZSTD_isError(ret) && ret != 0; more && out.len <= SEGMENT_MAX_BYTES;) {
        ZSTD_outBuffer o = {chunk, sizeof chunk, 0}; /* flush what the last input left */
        ret = ZSTD_decompressStream(d, &o, &in);
        tg_buf_append(&out, chunk, o.pos);
        more = !ZSTD_isError(ret) && o.pos == sizeof chunk;
    }
    ZSTD_freeDStream(d);
    free(z);
    if (ZSTD_isError(ret) || ret != 0 || zlen == 0 || out.len > SEGMENT_MAX_BYTES) {
        snprintf(err, errlen, "%s: damaged (%s)", path,
                 ZSTD_isError(ret) ? ZSTD_getErrorName(ret)
                 : zlen == 0       ? "empty"
                                   : "truncated");
        tg_buf_dispose(&out);
        return NULL;
    }
    *outlen = out.len;
    return tg_buf_steal(&out);
}

int tg_audit_segment_each(const char *dir, const struct tg_audit_segment *s,
                          const struct tg_audit_line_fn *each, char *err, size_t errlen)
{
    char *path = tg_xasprintf("%s/%s", dir, s->name);
    size_t len = 0;
    char *text = decompress_file(path, &len, err, errlen);
    free(path);
    if (text == NULL)
        return -1;
    int rc = 0;
    for (char *p = text, *end = text + len; rc == 0 && p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        if (n)
            rc = each->fn(each->arg, p, n);
        p += n + 1;
    }
    free(text);
    return rc;
}

/* Writes buf compressed to tmp and fsyncs it. 0, or -1 with err (tmp removed). */
static int write_tmp(const char *tmp, const struct tg_buf *lines, char *err, size_t errlen)
{
    size_t cap = ZSTD_compressBound(lines->len);
    char *z = tg_xmalloc(cap);
    size_t zlen = ZSTD_compress(z, cap, lines->data, lines->len, 3);
    int fd = ZSTD_isError(zlen) ? -1 : open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640),
        rc = -1;
    if (fd < 0)
        snprintf(err, errlen, "%s: %s", tmp,
                 ZSTD_isError(zlen) ? ZSTD_getErrorName(zlen) : strerror(errno));
    else if (write(fd, z, zlen) != (ssize_t)zlen || fsync(fd) != 0)
        snprintf(err, errlen, "%s: write or fsync failed: %s", tmp, strerror(errno));
    else
        rc = 0;
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
        rc = -1;
    }
    if (rc)
        unlink(tmp);
    free(z);
    return rc;
}

/* Gives tmp its segment name without replacing a file of that name (link, not rename: a
 * stale pass must never overwrite, and later unlink, a segment another pass sealed), then
 * fsyncs the directory. 1 when this call created the name, 0 when it existed, -1 with err. */
static int seal(const char *dir, const char *tmp, const char *name, char *err, size_t errlen)
{
    char *path = tg_xasprintf("%s/%s", dir, name);
    int linked = link(tmp, path) == 0, e = linked ? 0 : errno, rc = linked || e == EEXIST ? 0 : -1;
    if (rc)
        snprintf(err, errlen, "%s: %s", path, strerror(e));
    unlink(tmp);
    int dfd = rc ? -1 : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rc == 0 && (dfd < 0 || fsync(dfd) != 0)) { /* the name itself must survive a crash */
        snprintf(err, errlen, "%s: cannot fsync the directory: %s", dir, strerror(errno));
        rc = -1;
    }
    if (dfd >= 0)
        close(dfd);
    free(path);
    return rc < 0 ? -1 : linked;
}

/* Test hooks (README "Fault injection"): with TOLLGATE_ARCHIVE_HOLD=PATH a pass waits, its
 * segment written but not yet named, until PATH exists (at most 10 min); with
 * TOLLGATE_ARCHIVE_HOLD_SEALED=PATH, after naming it and before the re-read: a pass that
 * outlives its lease, without a timing margin. */
static void hold_point(const char *var)
{
    const char *path = getenv(var);
    for (int i = 0; path && i < 60000 && access(path, F_OK) != 0; i++)
        usleep(10000);
}

/* ---- one pass ---- */

/* What a pass moves: the records' lines, then (after the re-read) their index keys and seqs. */
struct batch {
    struct tg_buf lines;
    long long first, last, count;
    char last_hash[TG_SHA256_HEX_LEN + 1];
    char prev[TG_SHA256_HEX_LEN + 1]; /* the start's prev: the re-read chains on it */
    const char *prefix;
    char **keys, **seqs;
    size_t nkeys, nseqs, capkeys, capseqs;
    char *err;
    size_t errlen;
    int made; /* this pass gave its segment its name (it may remove it again) */
};

static void push(char ***v, size_t *n, size_t *cap, char *s)
{
    if (*n == *cap)
        *v = tg_xrealloc(*v, (*cap = *cap ? *cap * 2 : 256) * sizeof **v);
    (*v)[(*n)++] = s;
}

static void batch_dispose(struct batch *b)
{
    for (size_t i = 0; i < b->nkeys; i++)
        free(b->keys[i]);
    for (size_t i = 0; i < b->nseqs; i++)
        free(b->seqs[i]);
    free(b->keys);
    free(b->seqs);
    tg_buf_dispose(&b->lines);
}

/* 1 when the entry is due: older than the cutoff, not the newest; its line joins b. */
static int take_due(struct batch *b, const redisReply *e, long long head, uint64_t cutoff)
{
    const char *record = tg_audit_field(e->element[1], "record"),
               *hash = tg_audit_field(e->element[1], "hash");
    json_t *rec = record ? json_loads(record, 0, NULL) : NULL;
    long long seq = json_integer_value(json_object_get(rec, "seq"));
    const char *time = json_string_value(json_object_get(rec, "time"));
    uint64_t ms = 0;
    int due = rec && hash && seq == b->last + 1 && seq < head && time &&
              tg_parse_time(time, &ms) == 0 && ms <= cutoff;
    if (due) {
        tg_buf_puts(&b->lines, record);
        tg_buf_putc(&b->lines, '\n');
        b->last = seq;
        b->count++;
        snprintf(b->last_hash, sizeof b->last_hash, "%s", hash);
    }
    json_decref(rec);
    return due;
}

/* The due records from the start into b; 0 (b->count may be 0) or -1 with err. */
static int collect_due(redisContext *c, const struct tg_audit_archive_args *a, struct batch *b,
                       char *err, size_t errlen)
{
    redisReply *h = redisCommand(c, "HGET %s seq", TG_AUDIT_KEY(a->prefix, TG_AK_HEAD));
    long long head = h && h->type == REDIS_REPLY_STRING ? atoll(h->str) : 0;
    int ok = h && (h->type == REDIS_REPLY_STRING || h->type == REDIS_REPLY_NIL);
    freeReplyObject(h);
    redisReply *r = ok ? redisCommand(c, "XRANGE %s %lld-0 + COUNT %d",
                                      TG_AUDIT_KEY(a->prefix, TG_AK_STREAM), b->first, a->batch)
                       : NULL;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "cannot read %saudit: %s", a->prefix,
                 c->err ? c->errstr : "unexpected reply");
        freeReplyObject(r);
        return -1;
    }
    uint64_t cutoff = a->now_ms > a->retention_ms ? a->now_ms - a->retention_ms : 0;
    b->last = b->first - 1;
    for (size_t i = 0; i < r->elements && take_due(b, r->element[i], head, cutoff); i++)
        ;
    freeReplyObject(r);
    return 0;
}

static int fail(struct batch *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct batch *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, b->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* One line of the re-read: it must chain on the one before; its keys and seq are gathered. */
static int reread_line(void *arg, const char *line, size_t len)
{
    struct batch *b = arg;
    char computed[TG_SHA256_HEX_LEN + 1], keys[TG_AUDIT_MAX_INDEXES][512];
    json_t *rec = json_loadb(line, len, 0, NULL);
    long long seq = json_integer_value(json_object_get(rec, "seq"));
    const char *prev = json_string_value(json_object_get(rec, "prev"));
    const char *hash = json_string_value(json_object_get(rec, "hash"));
    char *canon = rec ? tg_audit_canonical(rec) : NULL;
    int rc = 0;
    if (canon)
        tg_audit_chain_hash(b->prev, canon, computed);
    if (canon == NULL || seq != b->last + 1 || prev == NULL || strcmp(prev, b->prev) ||
        hash == NULL || strcmp(hash, computed)) {
        rc = fail(b, "seq %lld does not chain on seq %lld", b->last + 1, b->last);
    } else {
        int n = tg_audit_record_indexes(b->prefix, rec, keys);
        for (int i = 0; i < n; i++)
            push(&b->keys, &b->nkeys, &b->capkeys, tg_xstrdup(keys[i]));
        push(&b->seqs, &b->nseqs, &b->capseqs, tg_xasprintf("%lld", seq));
        b->last = seq;
        memcpy(b->prev, hash, sizeof b->prev);
    }
    free(canon);
    json_decref(rec);
    return rc;
}

static int by_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Folds repeated index keys (most records share their action's and actor's). */
static void unique_keys(struct batch *b)
{
    size_t keep = 0;
    if (b->nkeys > 1) /* never a NULL array to qsort, even of 0 elements */
        qsort(b->keys, b->nkeys, sizeof *b->keys, by_str);
    for (size_t i = 0; i < b->nkeys; i++) {
        if (keep && strcmp(b->keys[keep - 1], b->keys[i]) == 0)
            free(b->keys[i]);
        else
            b->keys[keep++] = b->keys[i];
    }
    b->nkeys = keep;
}

/* 1 when another segment in the directory covers part of s's range. */
static int overlapped(const char *dir, const struct tg_audit_segment *s)
{
    struct tg_audit_segment *v;
    size_t n;
    char err[256];
    int found = 0;
    if (tg_audit_segments_list(dir, &v, &n, err, sizeof err))
        return 0;
    for (size_t i = 0; i < n; i++)
        found |= strcmp(v[i].name, s->name) != 0 && v[i].first <= s->last && v[i].last >= s->first;
    tg_audit_segments_free(v, n);
    return found;
}

/* When Redis no longer holds s's records because another pass archived them meanwhile (this
 * one outlived its lease): says so in err and, when this pass named s and another segment now
 * holds those seqs, removes s, so the archive is not left with two overlapping segments.
 * 1 in that case, else 0. */
static int superseded(redisContext *c, const struct tg_audit_archive_args *a,
                      const struct tg_audit_segment *s, struct batch *b)
{
    long long start;
    char prev[TG_SHA256_HEX_LEN + 1];
    if (tg_audit_start_get(c, a->prefix, &start, prev) || start <= s->first)
        return 0;
    int drop = b->made && overlapped(a->dir, s);
    char *path = tg_xasprintf("%s/%s", a->dir, s->name);
    if (drop)
        unlink(path);
    free(path);
    fail(b,
         "another pass archived seq %lld to %lld meanwhile (Redis now starts at seq %lld): %s %s",
         s->first, s->last, start, drop ? "removed this pass's segment" : "nothing moved; kept",
         s->name);
    return 1;
}

/* Re-reads segment s: it chains from the start's prev to its name's last seq and hash, and
 * Redis holds the same hash there (so the segment is Redis's records, not other ones). */
static int reread(redisContext *c, const struct tg_audit_archive_args *a,
                  const struct tg_audit_segment *s, struct batch *b)
{
    b->last = s->first - 1;
    struct tg_audit_line_fn each = {reread_line, b};
    int rc = tg_audit_segment_each(a->dir, s, &each, b->err, b->errlen);
    if (rc == 0 && (b->last != s->last || strcmp(b->prev, s->hash) != 0))
        rc = fail(b, "segment %s ends at seq %lld, not where its name says", s->name, b->last);
    if (rc)
        return -1;
    redisReply *r = redisCommand(c, "XRANGE %s %lld-0 %lld-0",
                                 TG_AUDIT_KEY(a->prefix, TG_AK_STREAM), s->last, s->last);
    const char *hash = r && r->type == REDIS_REPLY_ARRAY && r->elements == 1
                           ? tg_audit_field(r->element[0]->element[1], "hash")
                           : NULL;
    if (hash == NULL || strcmp(hash, s->hash) != 0)
        rc = superseded(c, a, s, b)
                 ? -1
                 : fail(b, "segment %s does not hold the records Redis holds", s->name);
    freeReplyObject(r);
    unique_keys(b);
    return rc;
}

/* A script's keys and arguments: argv/lens hold the nkeys keys then the arguments, argc in
 * all. */
struct script_args {
    const char **argv;
    const size_t *lens;
    size_t nkeys, argc;
};

/* tg_redis_eval for a script with many keys and arguments (a batch's, beyond its 64):
 * EVALSHA, then EVAL when the server has not seen it. */
static redisReply *eval_batch(redisContext *c, const char *source, const struct script_args *sa)
{
    const char **argv = sa->argv;
    const size_t *lens = sa->lens;
    size_t nkeys = sa->nkeys, argc = sa->argc;
    char sha[41], nk[24];
    const char **av = tg_xcalloc(argc + 3, sizeof *av);
    size_t *al = tg_xcalloc(argc + 3, sizeof *al);
    tg_redis_script_sha(source, sha);
    snprintf(nk, sizeof nk, "%zu", nkeys);
    av[0] = "EVALSHA";
    av[1] = sha;
    av[2] = nk;
    for (size_t i = 0; i < argc; i++) {
        av[3 + i] = argv[i];
        al[3 + i] = lens[i];
    }
    for (int i = 0; i < 3; i++)
        al[i] = strlen(av[i]);
    redisReply *r = redisCommandArgv(c, (int)argc + 3, av, al);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        av[0] = "EVAL";
        av[1] = source;
        al[0] = 4;
        al[1] = strlen(source);
        r = redisCommandArgv(c, (int)argc + 3, av, al);
    }
    free(av);
    free(al);
    return r;
}

/* The trim script: 1 moved, 0 when the lease or the start changed meanwhile, -1 on error. */
static int trim(redisContext *c, const struct tg_audit_archive_args *a, const char *token,
                struct batch *b, const struct tg_audit_segment *s)
{
    size_t n = 4 + b->nkeys, argc = n + 4 + b->nseqs, k = 0;
    char keys[4][256], first[24], last[24];
    const char **argv = tg_xcalloc(argc, sizeof *argv);
    size_t *lens = tg_xcalloc(argc, sizeof *lens);
    tg_audit_key(keys[0], sizeof keys[0], a->prefix, TG_AK_ARCHIVE_LEASE);
    tg_audit_key(keys[1], sizeof keys[1], a->prefix, TG_AK_STREAM);
    tg_audit_key(keys[2], sizeof keys[2], a->prefix, TG_AK_START);
    tg_audit_key(keys[3], sizeof keys[3], a->prefix, TG_AK_IDX_TIME);
    snprintf(first, sizeof first, "%lld", s->first);
    snprintf(last, sizeof last, "%lld", s->last);
    for (int i = 0; i < 4; i++)
        argv[k++] = keys[i];
    for (size_t i = 0; i < b->nkeys; i++)
        argv[k++] = b->keys[i];
    argv[k++] = token;
    argv[k++] = first;
    argv[k++] = last;
    argv[k++] = s->hash;
    for (size_t i = 0; i < b->nseqs; i++)
        argv[k++] = b->seqs[i];
    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = eval_batch(c, trim_lua, &(struct script_args){argv, lens, n, argc});
    int rc = r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
                     r->element[0]->type == REDIS_REPLY_STRING
                 ? strcmp(r->element[0]->str, "ok") == 0
                 : -1;
    if (rc < 0)
        fail(b, "trim failed: %s",
             r == NULL                      ? c->errstr
             : r->type == REDIS_REPLY_ERROR ? r->str
                                            : "unexpected reply");
    freeReplyObject(r);
    free(argv);
    free(lens);
    return rc;
}

/* ---- the lease ---- */

/* 1 when this pass holds the lease, 0 when another process does, -1 when Redis failed. */
static int lease_take(redisContext *c, const struct tg_audit_archive_args *a, const char *token)
{
    redisReply *r =
        redisCommand(c, "SET %s %s NX PX %llu", TG_AUDIT_KEY(a->prefix, TG_AK_ARCHIVE_LEASE), token,
                     (unsigned long long)a->lease_ms);
    int rc = r == NULL || r->type == REDIS_REPLY_ERROR ? -1 : r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    return rc;
}

static void lease_release(redisContext *c, const char *prefix, const char *token)
{
    char key[256];
    tg_audit_key(key, sizeof key, prefix, TG_AK_ARCHIVE_LEASE);
    const char *argv[] = {key, token};
    size_t lens[] = {strlen(key), strlen(token)};
    freeReplyObject(
        tg_redis_eval(c, &(struct tg_redis_script_call){.source = release_lua,
                                                        .nkeys = 1,
                                                        .argc = 2,
                                                        .argv = argv,
                                                        .argvlen = lens})); /* else it expires */
}

static const struct tg_audit_segment *segment_at(const struct tg_audit_segment *v, size_t n,
                                                 long long first)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].first == first)
            return &v[i];
    return NULL;
}

/* 1 while this pass still holds the lease and Redis still starts at first, 0 when it lost
 * either (another pass may have archived these records meanwhile), -1 when Redis failed. */
static int still_ours(redisContext *c, const char *prefix, const char *token, long long first)
{
    redisReply *r = redisCommand(c, "GET %s", TG_AUDIT_KEY(prefix, TG_AK_ARCHIVE_LEASE));
    int rc = r == NULL || r->type == REDIS_REPLY_ERROR
                 ? -1
                 : r->type == REDIS_REPLY_STRING && strcmp(r->str, token) == 0;
    freeReplyObject(r);
    long long start;
    char prev[TG_SHA256_HEX_LEN + 1];
    if (rc == 1 && tg_audit_start_get(c, prefix, &start, prev))
        rc = -1;
    return rc == 1 ? start == first : rc;
}

/* Writes the batch as segment fresh: tmp file, then (the lease and the start checked again
 * right before, since a hung write can outlive the lease) its name. A pass that lost them
 * removes its tmp file and moves nothing (*out NULL). 0 or -1 with err. */
/* One archive pass: its connection, its arguments and the token of the lease it holds. */
struct pass {
    redisContext *c;
    const struct tg_audit_archive_args *a;
    const char *token;
};

static int write_new(const struct pass *ps, struct batch *b, struct tg_audit_segment *fresh,
                     const struct tg_audit_segment **out)
{
    redisContext *c = ps->c;
    const struct tg_audit_archive_args *a = ps->a;
    const char *token = ps->token;
    char *tmp = tg_xasprintf("%s/.tmp-%s", a->dir, token);
    int rc = write_tmp(tmp, &b->lines, b->err, b->errlen), ours = 0;
    if (rc == 0) {
        hold_point("TOLLGATE_ARCHIVE_HOLD");
        if ((ours = still_ours(c, a->prefix, token, b->first)) < 0)
            rc =
                fail(b, "cannot check the archive lease: %s", c->err ? c->errstr : "Redis refused");
        if (ours == 1 && (rc = seal(a->dir, tmp, fresh->name, b->err, b->errlen)) >= 0) {
            b->made = rc;
            rc = 0;
        }
        if (rc == 0 && ours == 1)
            hold_point("TOLLGATE_ARCHIVE_HOLD_SEALED");
        else
            unlink(tmp);
    }
    if (rc == 0 && ours == 1)
        *out = fresh;
    free(tmp);
    return rc;
}

/* The segment this pass finishes: one a crashed pass left at the start, else a new one of the
 * due records (fresh->name set), else none (*out NULL). 0 or -1 with err. */
static int pick_segment(const struct pass *ps, struct batch *b, struct tg_audit_segment *fresh,
                        const struct tg_audit_segment **out)
{
    redisContext *c = ps->c;
    const struct tg_audit_archive_args *a = ps->a;
    struct tg_audit_segment *segs;
    size_t nsegs;
    *out = NULL;
    if (tg_audit_segments_list(a->dir, &segs, &nsegs, b->err, b->errlen))
        return -1;
    const struct tg_audit_segment *left = segment_at(segs, nsegs, b->first);
    long long end = nsegs ? segs[nsegs - 1].last : 0;
    if (left) {
        *fresh = *left;
        fresh->name = tg_xstrdup(left->name);
        *out = fresh;
    }
    tg_audit_segments_free(segs, nsegs);
    if (*out)
        return 0;
    /* A directory that does not end where Redis starts is another chain's (another gateway's
     * path, a SIGHUP to a new path, an unmounted share, another prefix): writing here would
     * split the chain across directories. */
    if (end != b->first - 1)
        return fail(b,
                    "the archive %s ends at seq %lld, but Redis starts at seq %lld: it must end at "
                    "seq %lld "
                    "(wrong or unmounted directory?); refusing to split the chain",
                    a->dir, end, b->first, b->first - 1);
    if (collect_due(c, a, b, b->err, b->errlen))
        return -1;
    if (b->count == 0)
        return 0;
    fresh->first = b->first;
    fresh->last = b->last;
    memcpy(fresh->hash, b->last_hash, sizeof fresh->hash);
    fresh->name =
        tg_xasprintf("audit-%020lld-%020lld-%s.jsonl.zst", b->first, b->last, b->last_hash);
    return write_new(ps, b, fresh, out);
}

/* Removes the .tmp-* files of crashed passes: older than the lease, so no live pass (which
 * holds the lease while it writes one) still owns them. */
static void sweep_tmp(const struct tg_audit_archive_args *a)
{
    DIR *d = opendir(a->dir);
    struct dirent *e;
    struct stat st;
    uint64_t now = tg_now_ms();
    while (d && (e = readdir(d)) != NULL) {
        char *path = tg_xasprintf("%s/%s", a->dir, e->d_name);
        if (strncmp(e->d_name, ".tmp-", 5) == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
            (uint64_t)st.st_mtime * 1000 + a->lease_ms < now)
            unlink(path);
        free(path);
    }
    if (d)
        closedir(d);
}

static int pass_locked(redisContext *c, const struct tg_audit_archive_args *a, const char *token,
                       char *err, size_t errlen)
{
    struct batch b = {.prefix = a->prefix, .err = err, .errlen = errlen};
    struct tg_audit_segment fresh = {0};
    const struct tg_audit_segment *s = NULL;
    sweep_tmp(a);
    int rc = tg_audit_start_get(c, a->prefix, &b.first, b.prev);
    if (rc)
        snprintf(err, errlen, "cannot read %saudit:start: %s", a->prefix,
                 c->err ? c->errstr : "unexpected reply");
    else
        rc = pick_segment(&(struct pass){c, a, token}, &b, &fresh, &s);
    if (rc == 0 && s)
        rc = reread(c, a, s, &b);
    if (rc == 0 && s) {
        int t = trim(c, a, token, &b, s);
        rc = t < 0 ? -1 : t ? (int)(s->last - s->first + 1) : 0;
    }
    free(fresh.name);
    batch_dispose(&b);
    return rc;
}

int tg_audit_archive_pass(redisContext *c, const struct tg_audit_archive_args *a, char *err,
                          size_t errlen)
{
    char host[64] = "host", token[160];
    if (a->dir == NULL) {
        snprintf(err, errlen, "audit.archive is not set: this process does not archive");
        return -1;
    }
    gethostname(host, sizeof host - 1);
    host[strcspn(host, "/ \t")] = '\0';
    snprintf(token, sizeof token, "%s.%ld.%llu", host, (long)getpid(),
             (unsigned long long)tg_now_ms());
    int got = lease_take(c, a, token);
    if (got <= 0) {
        if (got < 0)
            snprintf(err, errlen, "cannot take the archive lease: %s",
                     c->err ? c->errstr : "Redis refused");
        return got;
    }
    int rc = pass_locked(c, a, token, err, errlen);
    lease_release(c, a->prefix, token);
    return rc;
}
