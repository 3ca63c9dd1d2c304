/* reports_sink.c -- where counted findings go: buckets, the top-N heap, identities, visits.
 *
 * A sink belongs to one candidate format. The heap keeps the N best findings seen so far
 * (an index heap, worst on top, so a better finding replaces the root in O(log N)); only
 * findings that enter it are copied. Nothing here reads the document.
 */
#include "decide/reports_impl.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

void rp_sink_init(struct rp_sink *s, enum tg_report_format fmt)
{
    memset(s, 0, sizeof *s);
    s->fmt = (uint8_t)fmt;
    rp_hmap_init(&s->idents, 0);
    tg_buf_init(&s->visits);
}

void rp_sink_dispose(struct rp_sink *s)
{
    rp_hmap_dispose(&s->idents);
    free(s->keys.v);
    free(s->top);
    tg_buf_dispose(&s->visits);
    memset(s, 0, sizeof *s);
}

/* 1 when a ranks before b: more severe, or as severe and earlier in the file. */
static int better(const struct rp_entry *a, const struct rp_entry *b)
{
    return a->sev > b->sev || (a->sev == b->sev && a->seq < b->seq);
}

static void swap(struct rp_entry *a, struct rp_entry *b)
{
    struct rp_entry t = *a;
    *a = *b;
    *b = t;
}

static void sift_up(struct rp_sink *s, size_t i)
{
    while (i > 0 && better(&s->top[(i - 1) / 2], &s->top[i])) {
        swap(&s->top[(i - 1) / 2], &s->top[i]);
        i = (i - 1) / 2;
    }
}

static void sift_down(struct rp_sink *s, size_t i)
{
    for (;;) {
        size_t w = i, l = 2 * i + 1, r = l + 1;
        if (l < s->ntop && better(&s->top[w], &s->top[l]))
            w = l;
        if (r < s->ntop && better(&s->top[w], &s->top[r]))
            w = r;
        if (w == i)
            return;
        swap(&s->top[w], &s->top[i]);
        i = w;
    }
}

static void fill(struct rp_entry *e, const struct rp_find *f, uint64_t seq)
{
    e->seq = seq;
    e->sev = f->sev;
    e->line = f->line;
    e->file_pending = f->file_pending;
    for (int i = 0; i < RP_F_COUNT; i++) {
        size_t n = rp_utf8_cut(f->s[i] ? f->s[i] : "", f->n[i], RP_TEXT_CAP - 1);
        memcpy(e->text[i], f->s[i] ? f->s[i] : "", n);
        e->len[i] = (uint16_t)n;
    }
}

/* Entries are ~1.5 KB and the heap is short, so entries move by value. */
static void keep(struct rp_sink *s, size_t top, const struct rp_find *f, uint64_t seq)
{
    if (s->ntop < top) {
        if (s->ntop == s->captop) {
            s->captop = s->captop ? s->captop * 2 : 16;
            s->captop = s->captop > top ? top : s->captop;
            s->top = tg_xrealloc(s->top, s->captop * sizeof *s->top);
        }
        fill(&s->top[s->ntop], f, seq);
        sift_up(s, s->ntop++);
    } else if (f->sev > s->top[0].sev) {
        fill(&s->top[0], f, seq);
        sift_down(s, 0);
    }
}

static void visit(struct rp_parser *p, struct rp_sink *s, const struct rp_find *f)
{
    size_t n = rp_utf8_cut(f->s[RP_F_ID] ? f->s[RP_F_ID] : "", f->n[RP_F_ID], RP_TEXT_CAP - 1);
    if (s->direct) {
        p->opt.visit(p->opt.visit_arg, n ? f->s[RP_F_ID] : "", n, (enum tg_severity)f->sev);
        return;
    }
    unsigned char hdr[2] = {f->sev, (unsigned char)n};
    tg_buf_append(&s->visits, hdr, 2);
    tg_buf_append(&s->visits, f->s[RP_F_ID], n);
}

void rp_offer(struct rp_parser *p, struct rp_sink *s, const struct rp_find *f)
{
    uint64_t seq = p->seq++;
    s->counts[f->sev]++;
    if (p->opt.visit)
        visit(p, s, f);
    if (p->opt.top)
        keep(s, p->opt.top, f, seq);
}

void rp_sink_patch_file(struct rp_sink *s, const char *file, size_t n)
{
    n = rp_utf8_cut(file, n, RP_TEXT_CAP - 1);
    for (size_t i = 0; i < s->ntop; i++) {
        if (!s->top[i].file_pending)
            continue;
        memcpy(s->top[i].text[RP_F_FILE], file, n);
        s->top[i].len[RP_F_FILE] = (uint16_t)n;
        s->top[i].file_pending = 0;
    }
}

int rp_ident_hash(struct rp_parser *p, struct rp_sink *s, const struct rp_ident *id, uint64_t *out)
{
    int level = id->level;
    const struct rp_ident_field *fields = id->fields;
    size_t n = id->nfields;
    uint64_t h[8];
    n = n < TG_ARRAY_SIZE(h) ? n : TG_ARRAY_SIZE(h);
    for (size_t i = 0; i < n; i++) {
        const struct rp_value *v = rp_slot(p, level, fields[i].slot);
        if (rp_unhashable(v)) {
            rp_sink_fail(p, s, "%s.%s is %s, not a scalar (an identity field)", rp_path(p, NULL, 1),
                         fields[i].name, rp_kind_name(v->kind));
            return -1;
        }
        h[i] = rp_hash_of(p, v);
    }
    *out = rp_siphash(p->hkey, h, n * sizeof h[0]);
    return 0;
}

int rp_sink_ident(struct rp_sink *s, uint64_t key)
{
    s->n[RP_N_IDENT]++;
    return rp_hmap_put(&s->idents, key, 0, 0);
}

void rp_find_set(struct rp_find *f, enum rp_field field, const struct rp_value *v)
{
    if (f->n[field] > 0 || (v->kind != RK_STR && v->kind != RK_NUM))
        return;
    f->s[field] = v->text;
    f->n[field] = v->tlen;
}

void rp_find_from(struct rp_find *f, struct rp_parser *p, int level, const int8_t map[RP_F_COUNT])
{
    for (int i = 0; i < RP_F_COUNT; i++)
        if (map[i] >= 0)
            rp_find_set(f, (enum rp_field)i, rp_slot(p, level, map[i]));
}

int rp_keycount_add(struct rp_keycount *k, const struct rp_value *v, const char **why)
{
    char key[RP_TEXT_CAP];
    size_t len;
    int rc = rp_key_text(v, key, sizeof key, &len);
    if (rc < 0) {
        *why = rc == -1 ? "is a list or an object, not a scalar" : "is longer than 255 bytes";
        return -1;
    }
    for (size_t i = 0; i < k->count; i++) {
        if (k->v[i].len == len && memcmp(k->v[i].key, key, len) == 0) {
            k->v[i].n++;
            return 0;
        }
    }
    if (k->count == RP_KEYS_MAX) {
        *why = "has more than 256 distinct values";
        return -1;
    }
    k->v = tg_xrealloc(k->v, (k->count + 1) * sizeof *k->v);
    memcpy(k->v[k->count].key, key, len);
    k->v[k->count].len = len;
    k->v[k->count++].n = 1;
    return 0;
}

/* Length of the valid UTF-8 character at s (NUL excluded), or 0. */
static size_t char_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80                   ? 1
                 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2
                 : s[0] >= 0xe0 && s[0] < 0xf0 ? 3
                 : s[0] >= 0xf0 && s[0] < 0xf5 ? 4
                                               : 0;
    if (len == 0 || len > n || s[0] == 0)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((len == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (len == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
        (len == 4 && s[0] == 0xf0 && s[1] < 0x90) || (len == 4 && s[0] == 0xf4 && s[1] >= 0x90))
        return 0;
    return len;
}

/* Display copy: NUL and invalid bytes become U+FFFD, at most TG_REPORT_TEXT_MAX bytes. */
static void display(struct tg_buf *b, const char *s, size_t n)
{
    size_t start = b->len, i = 0;
    while (i < n) {
        size_t l = char_len((const unsigned char *)s + i, n - i);
        size_t out = l ? l : 3;
        if (b->len - start + out > TG_REPORT_TEXT_MAX)
            break;
        tg_buf_append(b, l ? s + i : "\xef\xbf\xbd", out);
        i += l ? l : 1;
    }
    tg_buf_putc(b, '\0');
}

json_t *rp_keycount_json(const struct rp_keycount *k)
{
    json_t *o = json_object();
    struct tg_buf b;
    tg_buf_init(&b);
    for (size_t i = 0; i < k->count; i++) {
        if (json_object_setn_new(o, k->v[i].key, k->v[i].len,
                                 json_integer((json_int_t)k->v[i].n)) == 0)
            continue;
        tg_buf_reset(&b);
        display(&b, k->v[i].key, k->v[i].len);
        json_object_set_new(o, b.data, json_integer((json_int_t)k->v[i].n));
    }
    tg_buf_dispose(&b);
    return o;
}

static int cmp_entries(const void *a, const void *b)
{
    return better(a, b) ? -1 : better(b, a) ? 1 : 0;
}

/* One allocation: the findings array, then their strings. */
static void export_findings(struct rp_sink *s, struct tg_report_summary *out)
{
    struct tg_buf text;
    tg_buf_init(&text);
    if (s->ntop)
        qsort(s->top, s->ntop, sizeof *s->top, cmp_entries);
    size_t offs[RP_F_COUNT];
    size_t *all = tg_xmalloc((s->ntop ? s->ntop : 1) * sizeof offs);
    for (size_t i = 0; i < s->ntop; i++) {
        for (int f = 0; f < RP_F_COUNT; f++) {
            all[i * RP_F_COUNT + f] = text.len;
            display(&text, s->top[i].text[f], s->top[i].len[f]);
        }
    }
    size_t head = s->ntop * sizeof *out->findings;
    char *block = tg_xmalloc(head + text.len + 1);
    memcpy(block + head, text.data ? text.data : "", text.len);
    out->findings = (struct tg_report_finding *)(void *)block;
    for (size_t i = 0; i < s->ntop; i++) {
        const char *t = block + head;
        const size_t *o = all + i * RP_F_COUNT;
        out->findings[i] = (struct tg_report_finding){.severity = (enum tg_severity)s->top[i].sev,
                                                      .id = t + o[RP_F_ID],
                                                      .package = t + o[RP_F_PACKAGE],
                                                      .version = t + o[RP_F_VERSION],
                                                      .fixed = t + o[RP_F_FIXED],
                                                      .file = t + o[RP_F_FILE],
                                                      .line = s->top[i].line,
                                                      .title = t + o[RP_F_TITLE]};
    }
    out->nfindings = s->ntop;
    free(all);
    tg_buf_dispose(&text);
}

void rp_sink_finish(struct rp_parser *p, struct rp_sink *s, struct tg_report_summary *out)
{
    memcpy(out->counts, s->counts, sizeof out->counts);
    out->total = 0;
    for (int b = 0; b < TG_SEV_COUNT; b++)
        out->total += s->counts[b];
    export_findings(s, out);
    if (p->opt.visit == NULL || s->direct)
        return;
    const unsigned char *v = (const unsigned char *)s->visits.data;
    for (size_t i = 0; i + 2 <= s->visits.len; i += 2 + v[i + 1])
        p->opt.visit(p->opt.visit_arg, (const char *)v + i + 2, v[i + 1], (enum tg_severity)v[i]);
}
