/* reports_engine.c -- walks yajl's events against the formats' schema nodes.
 *
 * Owns the frame stack, field capture, raw-value capture and the document-wide guards
 * (nesting depth, integer literal length, strict UTF-8). It never allocates per
 * event: subtrees the schema does not name are skipped by counting depth, and strings are
 * looked at in yajl's buffer. It never decides counts: the formats' hooks do.
 */
#include "decide/reports_impl.h"
#include "base/util.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t rp_offset(const struct rp_parser *p)
{
    return p->base + (p->yajl ? yajl_get_bytes_consumed(p->yajl) : 0);
}

/* The first reason wins: what went wrong first is what the user should fix first. */
static void vrecord(struct rp_parser *p, char *dst, size_t n, uint64_t *off, const char *fmt,
                    va_list ap)
{
    vsnprintf(dst, n, fmt, ap);
    *off = rp_offset(p);
}

int rp_fail(struct rp_parser *p, const char *fmt, ...)
{
    if (p->failed)
        return 0;
    va_list ap;
    va_start(ap, fmt);
    vrecord(p, p->err, sizeof p->err, &p->err_off, fmt, ap);
    va_end(ap);
    p->failed = 1;
    return 0;
}

/* The sink's open frames turn into skipped depth, so its subtree costs nothing more. */
void rp_sink_fail(struct rp_parser *p, struct rp_sink *s, const char *fmt, ...)
{
    if (s->dead)
        return;
    va_list ap;
    va_start(ap, fmt);
    vrecord(p, s->err, sizeof s->err, &s->err_off, fmt, ap);
    va_end(ap);
    s->dead = 1;
    uint8_t id = (uint8_t)(s - p->sinks);
    unsigned i = 0;
    while (i < p->nframes && p->frames[i].sink != id)
        i++;
    p->skip += p->nframes - i;
    p->nframes = i;
}

static int sink_active(const struct rp_parser *p, uint8_t id)
{
    if (id == RP_S_NONE)
        return 1;
    if (p->sinks[id].dead)
        return 0;
    return p->opt.format == TG_REPORT_AUTO || p->sinks[id].fmt == p->opt.format;
}

const char *rp_kind_name(uint8_t kind)
{
    static const char *const names[] = {"absent",   "null",     "false",  "true",
                                        "a number", "a string", "a list", "an object"};
    return names[kind];
}

int rp_word_of(const struct rp_value *v, const char *const *words)
{
    for (int i = 0; v->kind == RK_STR && words[i]; i++)
        if (v->len == strlen(words[i]) && memcmp(v->text, words[i], v->len) == 0)
            return i;
    return -1;
}

const char *rp_shown(const struct rp_value *v, char *buf, size_t n)
{
    int printable = v->kind == RK_STR && v->len == v->tlen && v->len <= 40;
    for (size_t i = 0; printable && i < v->len; i++)
        printable = v->text[i] >= 0x20 && v->text[i] < 0x7f && v->text[i] != '"';
    if (!printable)
        return rp_kind_name(v->kind);
    snprintf(buf, n, "\"%.40s\"", v->text);
    return buf;
}

size_t rp_utf8_check(struct rp_parser *p, const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (p->utf8_need) {
            if (s[i] < p->utf8_lo || s[i] > p->utf8_hi)
                return i;
            p->utf8_lo = 0x80;
            p->utf8_hi = 0xbf;
            p->utf8_need--;
            i++;
            continue;
        }
        uint64_t w;
        while (i + 8 <= n && (memcpy(&w, s + i, 8), (w & 0x8080808080808080ULL) == 0))
            i += 8;
        if (i == n)
            break;
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c < 0xc2 || c > 0xf4)
            return i;
        p->utf8_need = c < 0xe0 ? 1 : c < 0xf0 ? 2 : 3;
        p->utf8_lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
        p->utf8_hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
        i++;
    }
    return n;
}

/* ---- captured values ---- */

static void number(struct rp_parser *p, struct rp_value *v, const char *s, size_t n)
{
    v->isint = memchr(s, '.', n) == NULL && memchr(s, 'e', n) == NULL && memchr(s, 'E', n) == NULL;
    tg_buf_reset(&p->scratch);
    tg_buf_append(&p->scratch, s, n);
    v->num = strtod(p->scratch.data, NULL);
    v->truthy = v->num != 0;
    if (v->isint) {
        v->truthy = strspn(p->scratch.data, "-0") != n;
        errno = 0;
        v->ival = strtoll(p->scratch.data, NULL, 10);
        v->has_int = errno == 0;
    }
}

/* 1, 1.0 and true are one identity, so numbers hash by a normalised text. */
static uint64_t value_hash(struct rp_parser *p, const struct rp_value *v, const char *s, size_t n)
{
    char norm[40];
    uint64_t key[2] = {p->hkey[0] ^ v->kind, p->hkey[1]};
    if (v->kind == RK_TRUE || v->kind == RK_FALSE || v->kind == RK_NUM) {
        key[0] = p->hkey[0] ^ RK_NUM;
        if (v->kind != RK_NUM) {
            s = v->kind == RK_TRUE ? "1" : "0";
            n = 1;
        } else if (v->isint && n == 2 && memcmp(s, "-0", 2) == 0) {
            s = "0";
            n = 1;
        } else if (!v->isint && v->num == (double)(long long)v->num) {
            n = (size_t)snprintf(norm, sizeof norm, "%.0f", v->num);
            s = norm;
        } else if (!v->isint) {
            rp_float_text(v->num, norm, sizeof norm);
            s = norm;
            n = strlen(norm);
        }
    } else if (v->kind != RK_STR) {
        key[0] = p->hkey[0] ^ RK_NULL;
        n = 0; /* absent and null are both None */
    }
    return rp_siphash(key, s, n);
}

uint64_t rp_hash_of(struct rp_parser *p, const struct rp_value *v)
{
    static const struct rp_value none = {.kind = RK_NULL};
    return v->kind == RK_ABSENT ? value_hash(p, &none, "", 0) : v->hash;
}

uint64_t rp_hash_text(struct rp_parser *p, const char *s, size_t n)
{
    static const struct rp_value str = {.kind = RK_STR};
    return value_hash(p, &str, s, n);
}

static void capture(struct rp_parser *p, const struct rp_node *node, uint8_t kind, const char *s,
                    size_t n)
{
    struct rp_value *v = rp_slot(p, node->level, node->slot);
    memset(v, 0, offsetof(struct rp_value, text));
    v->kind = kind;
    v->len = n;
    v->tlen = (uint16_t)rp_utf8_cut(s, n, RP_TEXT_CAP - 1);
    if (v->tlen)
        memcpy(v->text, s, v->tlen);
    v->text[v->tlen] = '\0';
    v->truthy = kind == RK_TRUE || (kind == RK_STR && n > 0);
    if (kind == RK_NUM)
        number(p, v, s, n);
    if (kind == RK_TRUE || kind == RK_FALSE) {
        v->isint = v->has_int = 1;
        v->ival = kind == RK_TRUE;
        v->num = (double)v->ival;
    }
    if (kind == RK_STR && (node->mode & RC_INT) && n > 0 && n < 19 &&
        strspn(v->text, "0123456789") == n) {
        v->has_int = 1;
        v->ival = strtoll(v->text, NULL, 10);
    }
    if (node->mode & RC_SEV)
        v->sev = kind == RK_STR ? rp_bucket_word(s, n) : TG_SEV_UNKNOWN;
    if (node->mode & RC_SCORE)
        v->score = rp_score_bucket(&p->scratch, kind, s, n, v->num);
    if (node->mode & RC_HASH)
        v->hash = value_hash(p, v, s, n);
}

/* A container at a field: only its shape matters (empty? usable as an identity?). */
static void set_shape(struct rp_parser *p, const struct rp_node *node, uint8_t kind, int truthy)
{
    struct rp_value *v = rp_slot(p, node->level, node->slot);
    memset(v, 0, offsetof(struct rp_value, text));
    v->kind = kind;
    v->truthy = (uint8_t)truthy;
    v->text[0] = '\0';
}

/* ---- raw capture: a value re-serialised as compact JSON (version, status, scan.type) ---- */

static void raw_put(struct rp_parser *p, const char *s, size_t n, int sep)
{
    struct rp_raw *r = &p->raw[p->raw_cur];
    if (r->overflow || r->buf.len + n + 8 > RP_RAW_CAP) {
        r->overflow = 1;
        return;
    }
    char last = r->buf.len ? r->buf.data[r->buf.len - 1] : '[';
    if (sep && last != '[' && last != '{' && last != ':')
        tg_buf_putc(&r->buf, ',');
    tg_buf_append(&r->buf, s, n);
}

static void raw_scalar(struct rp_parser *p, uint8_t kind, const char *s, size_t n)
{
    static const char *const lits[] = {
        [RK_NULL] = "null", [RK_FALSE] = "false", [RK_TRUE] = "true"};
    struct tg_buf q;
    if (kind == RK_STR) {
        tg_buf_init(&q);
        tg_buf_json_str(&q, s, n);
        raw_put(p, q.data, q.len, 1);
        tg_buf_dispose(&q);
    } else {
        raw_put(p, kind == RK_NUM ? s : lits[kind], kind == RK_NUM ? n : strlen(lits[kind]), 1);
    }
}

static void raw_begin(struct rp_parser *p, const struct rp_node *node)
{
    struct rp_raw *r = &p->raw[node->mode];
    p->raw_cur = node->mode;
    tg_buf_reset(&r->buf);
    r->present = 1;
    r->overflow = r->headlen = 0;
}

/* The start of a captured scalar's text: detection reads "version" through it. */
static void raw_head(struct rp_parser *p, uint8_t kind, const char *s, size_t n)
{
    struct rp_raw *r = &p->raw[p->raw_cur];
    char num[48];
    struct rp_value v;
    if (kind == RK_NUM) {
        number(p, &v, s, n);
        n = rp_number_text(&(struct rp_number){s, n, v.isint, v.num}, num, sizeof num) == 0
                ? strlen(num)
                : 0;
        s = num;
    } else if (kind != RK_STR) {
        n = 0;
    }
    r->headlen = (uint8_t)(n < sizeof r->head ? n : sizeof r->head);
    if (r->headlen)
        memcpy(r->head, s, r->headlen);
}

/* ---- frames ---- */

static struct rp_frame *push(struct rp_parser *p, const struct rp_node *node, uint8_t mode,
                             uint8_t sink, int isarray)
{
    if (p->nframes == RP_MAX_FRAMES) {
        rp_fail(p, "report schema nested too deep");
        return NULL;
    }
    struct rp_frame *f = &p->frames[p->nframes++];
    memset(f, 0, sizeof *f);
    f->node = node;
    f->mode = mode;
    f->sink = sink;
    f->isarray = (uint8_t)isarray;
    return f;
}

/* ---- JSON paths of offending values ---- */

static void path_put(struct rp_parser *p, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void path_put(struct rp_parser *p, size_t *len, const char *fmt, ...)
{
    va_list ap;
    if (*len >= sizeof p->path - 1)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(p->path + *len, sizeof p->path - *len, fmt, ap);
    va_end(ap);
    *len = n < 0 ? *len : *len + (size_t)n;
    if (*len >= sizeof p->path - 1) { /* cut: say so rather than show a wrong path */
        memcpy(p->path + sizeof p->path - 4, "...", 4);
        *len = sizeof p->path - 1;
    }
}

const char *rp_path(struct rp_parser *p, const char *key, int elem)
{
    size_t len = 0;
    path_put(p, &len, "$");
    for (unsigned i = 1; i < p->nframes; i++) {
        const struct rp_frame *up = &p->frames[i - 1];
        if (up->mode == RPF_LIST)
            path_put(p, &len, "[%llu]", (unsigned long long)(up->count - 1));
        else
            path_put(p, &len, ".%s", p->frames[i].node->key);
    }
    if (key)
        path_put(p, &len, ".%s", key);
    else if (elem && p->nframes > 0)
        path_put(p, &len, "[%llu]", (unsigned long long)(p->frames[p->nframes - 1].count - 1));
    return p->path;
}

/* An element of a list: which node receives it, or NULL to skip it. */
static const struct rp_node *element(struct rp_parser *p, struct rp_frame *f, uint8_t kind)
{
    const struct rp_node *list = f->node, *elem = list->sub;
    f->count++;
    switch (list->mode) {
    case RM_DICTS:
        if (kind != RK_OBJ)
            rp_sink_fail(p, &p->sinks[f->sink], "%s is %s, not an object", rp_path(p, NULL, 1),
                         rp_kind_name(kind));
        return kind == RK_OBJ ? elem : NULL;
    case RM_ROOT:
        p->foreign |= kind != RK_OBJ;
        return kind == RK_OBJ ? elem : NULL;
    case RM_SHOW:
        if (f->count > 1)
            return NULL;
        if (elem->type == RN_FIELD)
            return kind == RK_OBJ || kind == RK_ARR ? NULL : elem;
        return kind == RK_OBJ ? elem : NULL;
    default:
        return NULL;
    }
}

/* Where the value that starts now goes: its node (NULL: skip it) and its sink. */
static const struct rp_node *arrive(struct rp_parser *p, uint8_t kind, uint8_t *sink)
{
    if (p->nframes == 0) {
        if (p->root_kind != RK_ABSENT)
            return NULL;
        p->root_kind = kind;
        *sink = kind == RK_ARR ? rp_trivy_legacy->sink : RP_S_NONE;
        if (kind != RK_OBJ && kind != RK_ARR)
            return NULL;
        return sink_active(p, *sink) ? (kind == RK_OBJ ? &rp_doc : rp_trivy_legacy) : NULL;
    }
    struct rp_frame *f = &p->frames[p->nframes - 1];
    const struct rp_node *node = NULL;
    *sink = f->sink;
    if (f->mode == RPF_OBJ) {
        node = f->pending;
        f->pending = NULL;
        if (node == NULL && kind == RK_ARR && (f->node->flags & RF_KNOWN_ARRAYS) &&
            f->sink == RP_S_TRIVY_LEGACY)
            p->foreign = 1;
    } else if (f->mode == RPF_LIST) {
        node = element(p, f, kind);
    } else if (f->mode == RPF_PROBE && f->count++ == 0 && f->node->type == RN_OBJECT &&
               f->node->mode == RM_DICT) {
        rp_sink_fail(p, &p->sinks[f->sink], "%s is a non-empty list, not an object",
                     rp_path(p, NULL, 0));
    }
    if (node && node->sink)
        *sink = node->sink;
    return node && sink_active(p, *sink) ? node : NULL;
}

static int truthy_scalar(struct rp_parser *p, uint8_t kind, const char *s, size_t n)
{
    struct rp_value v;
    if (kind == RK_TRUE || kind == RK_STR)
        return kind == RK_TRUE || n > 0;
    if (kind != RK_NUM)
        return 0;
    number(p, &v, s, n);
    return v.truthy;
}

/* A scalar as yajl hands it over: its kind (RK_*) and its text. */
struct scalar {
    uint8_t kind;
    const char *s;
    size_t n;
};

static void scalar_at_object(struct rp_parser *p, const struct rp_node *node, struct rp_sink *s,
                             const struct scalar *v)
{
    uint8_t kind = v->kind;
    const char *str = v->s;
    size_t n = v->n;
    int truthy = truthy_scalar(p, kind, str, n);
    if (node->mode == RM_DICT && truthy)
        rp_sink_fail(p, s, "%s is %s, not an object", rp_path(p, node->key, 0), rp_kind_name(kind));
    if (node->mode != RM_LAZY)
        return;
    set_shape(p, node, kind, truthy);
    if (kind == RK_STR && node->str)
        node->str(p, s, str, n);
}

/* An array the format defines may be null (no entries); any other scalar there is a shape
 * this parser does not understand, so the report must not count as having no findings. */
static void not_an_array(struct rp_parser *p, const struct rp_node *node, struct rp_sink *s,
                         uint8_t kind)
{
    if (node->mode == RM_DICTS && kind != RK_NULL)
        rp_sink_fail(p, s, "%s is %s, not an array", rp_path(p, node->key, 0), rp_kind_name(kind));
}

static int scalar(struct rp_parser *p, uint8_t kind, const char *s, size_t n)
{
    if (p->raw_depth) {
        raw_scalar(p, kind, s, n);
        return 1;
    }
    uint8_t sink;
    const struct rp_node *node = arrive(p, kind, &sink);
    if (node == NULL)
        return !p->failed;
    switch (node->type) {
    case RN_FIELD:
        capture(p, node, kind, s, n);
        break;
    case RN_RAW:
        raw_begin(p, node);
        raw_head(p, kind, s, n);
        raw_scalar(p, kind, s, n);
        break;
    case RN_OBJECT:
        scalar_at_object(p, node, &p->sinks[sink], &(struct scalar){kind, s, n});
        break;
    case RN_LIST:
        not_an_array(p, node, &p->sinks[sink], kind);
        break;
    }
    return !p->failed;
}

static void open_object(struct rp_parser *p, const struct rp_node *node, uint8_t sink)
{
    if (node->mode == RM_LAZY)
        set_shape(p, node, RK_OBJ, 1);
    if (push(p, node, RPF_OBJ, sink, 0) == NULL)
        return;
    if (node->flags & RF_ITEM) {
        for (int i = 0; i < RP_SLOTS; i++)
            memset(&p->slots[node->level][i], 0, offsetof(struct rp_value, text));
        if (node->begin)
            node->begin(p, &p->sinks[sink], 0);
    }
}

static void container(struct rp_parser *p, int isarray)
{
    uint8_t sink, kind = isarray ? RK_ARR : RK_OBJ;
    const struct rp_node *node = arrive(p, kind, &sink);
    if (node == NULL) {
        p->skip++;
        return;
    }
    if (node->type == RN_RAW) {
        raw_begin(p, node);
        raw_put(p, isarray ? "[" : "{", 1, 1);
        p->raw_depth = 1;
    } else if (node->type == RN_FIELD) {
        push(p, node, RPF_PROBE, sink, isarray);
    } else if (node->type == RN_LIST) {
        if (isarray) {
            push(p, node, RPF_LIST, sink, isarray);
            return;
        }
        not_an_array(p, node, &p->sinks[sink], RK_OBJ);
        p->skip++;
    } else if (isarray) {
        if (node->mode == RM_SHOW)
            p->skip++;
        else
            push(p, node, RPF_PROBE, sink, 1);
    } else {
        open_object(p, node, sink);
    }
}

static void close_frame(struct rp_parser *p)
{
    struct rp_frame f = p->frames[--p->nframes];
    struct rp_sink *s = &p->sinks[f.sink];
    if (f.mode == RPF_PROBE) {
        if (f.node->type == RN_FIELD || f.node->mode == RM_LAZY)
            set_shape(p, f.node, f.isarray ? RK_ARR : RK_OBJ, f.count > 0);
        return;
    }
    if (p->nframes == 0 && f.node == &rp_doc)
        p->doc_seen = f.seen;
    p->closing_seen = f.seen;
    if (f.node->end)
        f.node->end(p, s, f.count);
}

static const struct rp_node *find_key(const struct rp_node *c, const char *key, size_t n)
{
    for (; c && c->key; c++)
        if (c->keylen == n && memcmp(c->key, key, n) == 0)
            return c;
    return NULL;
}

static const struct rp_node *child(const struct rp_node *node, const char *key, size_t n)
{
    if (node->groups == NULL)
        return find_key(node->sub, key, n);
    for (const struct rp_node *const *g = node->groups; *g; g++) {
        const struct rp_node *c = find_key(*g, key, n);
        if (c)
            return c;
    }
    return NULL;
}

static void map_key(struct rp_parser *p, const char *key, size_t n)
{
    struct rp_frame *f = &p->frames[p->nframes - 1];
    if (f->mode == RPF_OBJ) {
        const struct rp_node *c = child(f->node, key, n);
        f->pending = c;
        if (c == NULL)
            return;
        if ((f->seen & (1u << c->bit)) && (c->flags & RF_NODUP)) {
            rp_sink_fail(p, &p->sinks[c->sink ? c->sink : f->sink], "%s: duplicate key",
                         rp_path(p, c->key, 0));
            return;
        }
        f->seen |= 1u << c->bit;
        return;
    }
    f->count++; /* a probed object: it has members */
}

/* ---- yajl callbacks: skipped subtrees return at the first test ---- */

static int cb_null(void *ctx)
{
    struct rp_parser *p = ctx;
    return p->skip ? 1 : scalar(p, RK_NULL, NULL, 0);
}

static int cb_boolean(void *ctx, int b)
{
    struct rp_parser *p = ctx;
    return p->skip ? 1 : scalar(p, b ? RK_TRUE : RK_FALSE, NULL, 0);
}

static int cb_number(void *ctx, const char *s, size_t n)
{
    struct rp_parser *p = ctx;
    if (n > RP_INT_DIGITS_MAX && n - (s[0] == '-') > RP_INT_DIGITS_MAX &&
        memchr(s, '.', n) == NULL && memchr(s, 'e', n) == NULL && memchr(s, 'E', n) == NULL)
        return rp_fail(p, "integer with %zu digits (more than %d)", n - (s[0] == '-'),
                       RP_INT_DIGITS_MAX);
    return p->skip ? 1 : scalar(p, RK_NUM, s, n);
}

static int cb_string(void *ctx, const unsigned char *s, size_t n)
{
    struct rp_parser *p = ctx;
    return p->skip ? 1 : scalar(p, RK_STR, (const char *)s, n);
}

static int start(struct rp_parser *p, int isarray)
{
    if (++p->depth > RP_MAX_DEPTH)
        return rp_fail(p, "nesting deeper than %d levels", RP_MAX_DEPTH);
    if (p->skip) {
        p->skip++;
    } else if (p->raw_depth) {
        raw_put(p, isarray ? "[" : "{", 1, 1);
        p->raw_depth++;
    } else {
        container(p, isarray);
    }
    return !p->failed;
}

static int end(struct rp_parser *p, int isarray)
{
    p->depth--;
    if (p->skip) {
        p->skip--;
    } else if (p->raw_depth) {
        raw_put(p, isarray ? "]" : "}", 1, 0);
        p->raw_depth--;
    } else {
        close_frame(p);
    }
    return !p->failed;
}

static int cb_start_map(void *ctx)
{
    return start(ctx, 0);
}

static int cb_end_map(void *ctx)
{
    return end(ctx, 0);
}

static int cb_start_array(void *ctx)
{
    return start(ctx, 1);
}

static int cb_end_array(void *ctx)
{
    return end(ctx, 1);
}

static int cb_map_key(void *ctx, const unsigned char *key, size_t n)
{
    struct rp_parser *p = ctx;
    if (p->skip)
        return 1;
    if (p->raw_depth) {
        struct tg_buf q;
        tg_buf_init(&q);
        tg_buf_json_str(&q, (const char *)key, n);
        tg_buf_putc(&q, ':');
        raw_put(p, q.data, q.len, 1);
        tg_buf_dispose(&q);
        return 1;
    }
    map_key(p, (const char *)key, n);
    return !p->failed;
}

const yajl_callbacks rp_callbacks = {
    cb_null,      cb_boolean, NULL,       NULL,           cb_number,    cb_string,
    cb_start_map, cb_map_key, cb_end_map, cb_start_array, cb_end_array,
};
