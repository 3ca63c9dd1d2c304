/* reports.c -- the public face of the reports module: parser lifecycle, format detection,
 * the choice of what was counted, and the summary.
 *
 * Detection looks at the top-level keys that one streaming pass saw; each key's subtree was
 * counted by the one format it belongs to, so the pick at the end costs nothing. Detection
 * accepts only documents it identifies positively: anything else (another tool's document,
 * a list that is not a list of Trivy Results) is refused, and a forced format refuses a
 * document that reads as another. Never prints: errors go back as "FORMAT: byte N: reason".
 */
#include "decide/reports.h"
#include "base/log.h"
#include "decide/reports_impl.h"
#include "base/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define TG_MODULE "reports"

#define READ_CHUNK 65536

/* ---- names ---- */

static const char *const severity_names[TG_SEV_COUNT] = {"unknown", "info", "low",
                                                         "medium",  "high", "critical"};
static const char *const format_names[] = {"auto", "trivy", "horusec", "gitlab", "sarif", "grype"};

const char *tg_severity_name(enum tg_severity s)
{
    return (unsigned)s < TG_SEV_COUNT ? severity_names[s] : "unknown";
}

int tg_severity_parse(const char *name, enum tg_severity *out)
{
    for (int i = 0; i < TG_SEV_COUNT; i++) {
        if (strcmp(name, severity_names[i]) == 0) {
            *out = (enum tg_severity)i;
            return 0;
        }
    }
    return -1;
}

enum tg_severity tg_severity_bucket(const char *s, size_t n)
{
    return rp_bucket_word(s, n);
}

const char *tg_report_format_name(enum tg_report_format f)
{
    return (unsigned)f < TG_ARRAY_SIZE(format_names) ? format_names[f] : "auto";
}

int tg_report_format_parse(const char *name, enum tg_report_format *out)
{
    for (size_t i = 0; i < TG_ARRAY_SIZE(format_names); i++) {
        if (strcmp(name, format_names[i]) == 0) {
            *out = (enum tg_report_format)i;
            return 0;
        }
    }
    return -1;
}

/* ---- the document's top-level keys ---- */

static const struct rp_node common_top[] = {
    RP_RAWFIELD("version", RP_RAW_VERSION, RP_DOC_VERSION),
    RP_RAWFIELD("status", RP_RAW_STATUS, RP_DOC_STATUS),
    /* CycloneDX: its "vulnerabilities" are not GitLab's */
    RP_DOCFIELD("bomFormat", 3, RP_DOC_BOMFORMAT),
    RP_DOCFIELD("specVersion", 4, RP_DOC_SPECVERSION),
    RP_END,
};
static const struct rp_node *const doc_groups[] = {
    common_top, rp_sarif_top, rp_trivy_top, rp_horusec_top, rp_grype_top, rp_gitlab_top, NULL,
};
const struct rp_node rp_doc = {RP_KEY("document"), RN_OBJECT, RM_DICT, RF_ITEM, 0, 0, 0, 0, NULL,
                               doc_groups,         NULL,      NULL,    NULL};

static uint32_t doc_bits(const struct rp_parser *p)
{
    if (p->nframes > 0 && p->frames[0].node == &rp_doc)
        return p->frames[0].seen;
    return p->doc_seen;
}

/* str(d.get("version", "")).startswith("2.1") */
static int version_is_21(const struct rp_parser *p)
{
    const struct rp_raw *r = &p->raw[RP_RAW_VERSION];
    return r->present && r->headlen >= 3 && memcmp(r->head, "2.1", 3) == 0;
}

/* The top-level keys that identify a format ("$schema" only beside a "version" of 2.1). */
static const struct {
    uint8_t bit;
    uint8_t fmt;
    const char *key;
} identifying[] = {
    {RP_DOC_RUNS, TG_REPORT_SARIF, "runs"},
    {RP_DOC_SCHEMA, TG_REPORT_SARIF, "$schema"},
    {RP_DOC_SCHEMAVERSION, TG_REPORT_TRIVY, "SchemaVersion"},
    {RP_DOC_CLUSTERNAME, TG_REPORT_TRIVY, "ClusterName"},
    {RP_DOC_RESULTS, TG_REPORT_TRIVY, "Results"},
    {RP_DOC_HORUSEC, TG_REPORT_HORUSEC, "analysisVulnerabilities"},
    {RP_DOC_MATCHES, TG_REPORT_GRYPE, "matches"},
    {RP_DOC_GITLAB_VULNS, TG_REPORT_GITLAB, "vulnerabilities"},
};

#define K8S_KEYS                                                                                   \
    (RP_BIT(RP_DOC_K8S_VULNS) | RP_BIT(RP_DOC_K8S_MISCONF) | RP_BIT(RP_DOC_K8S_RESOURCES) |        \
     RP_BIT(RP_DOC_K8S_FINDINGS))

/* A Trivy document is schema 2 (an integer SchemaVersion 2 when present, Results) or a trivy
 * k8s report (ClusterName and a key of its resources), never both: 0, or -1 with why. */
static int trivy_shape(const struct rp_parser *p, uint32_t bits, char *why, size_t n)
{
    const struct rp_value *sv = &p->slots[0][0];
    int k8s = (bits & RP_BIT(RP_DOC_CLUSTERNAME)) != 0, k8s_keys = (bits & K8S_KEYS) != 0;
    if ((bits & RP_BIT(RP_DOC_SCHEMAVERSION)) &&
        !(sv->kind == RK_NUM && sv->isint && sv->has_int && sv->ival == 2))
        snprintf(
            why, n,
            "not a known report (SchemaVersion is %s%.40s%s, not the integer 2 of a Trivy report)",
            sv->kind == RK_STR ? "\"" : "",
            sv->kind == RK_NUM || sv->kind == RK_STR ? sv->text : rp_kind_name(sv->kind),
            sv->kind == RK_STR ? "\"" : "");
    else if ((bits & RP_BIT(RP_DOC_RESULTS)) && (k8s || k8s_keys))
        snprintf(why, n, "not a known report (both a Trivy \"Results\" list and trivy k8s keys)");
    else if (k8s && !k8s_keys)
        snprintf(
            why, n,
            "not a known report (a trivy k8s \"ClusterName\" without any of Resources, Findings, "
            "Vulnerabilities, Misconfigurations)");
    else if (!k8s && k8s_keys)
        snprintf(why, n,
                 "not a known report (trivy k8s keys (Resources, Findings, Vulnerabilities, "
                 "Misconfigurations) without \"ClusterName\")");
    else
        return 0;
    return -1;
}

/* The one format whose identifying keys the document carries; TG_REPORT_AUTO, with why,
 * when it carries none, or keys of two formats (which one counts would be a guess). */
static enum tg_report_format by_keys(const struct rp_parser *p, uint32_t bits, char *why, size_t n)
{
    int first = -1;
    if (!version_is_21(p))
        bits &= ~RP_BIT(RP_DOC_SCHEMA);
    for (int i = 0; i < (int)TG_ARRAY_SIZE(identifying); i++) {
        if (!(bits & RP_BIT(identifying[i].bit)))
            continue;
        if (first >= 0 && identifying[i].fmt != identifying[first].fmt) {
            snprintf(
                why, n,
                "not a known report (top-level keys of two formats: \"%s\" (%s) and \"%s\" (%s))",
                identifying[first].key, tg_report_format_name(identifying[first].fmt),
                identifying[i].key, tg_report_format_name(identifying[i].fmt));
            return TG_REPORT_AUTO;
        }
        first = first < 0 ? i : first;
    }
    if (first < 0)
        return TG_REPORT_AUTO;
    if (identifying[first].fmt == TG_REPORT_TRIVY && trivy_shape(p, bits, why, n) < 0)
        return TG_REPORT_AUTO;
    return identifying[first].fmt;
}

/* The format the document identifies itself as; TG_REPORT_AUTO, with why, when it is none
 * of them or more than one. */
static enum tg_report_format detect_why(const struct rp_parser *p, char *why, size_t n)
{
    uint32_t bits = doc_bits(p);
    snprintf(why, n,
             "not a known report (no top-level key of Trivy, Horusec, GitLab, SARIF or Grype)");
    if (p->root_kind == RK_NULL)
        return TG_REPORT_TRIVY; /* the legacy empty report */
    if (p->root_kind == RK_ARR && p->foreign)
        snprintf(why, n,
                 "not a known report (a list whose entries are not Trivy Results: another tool's "
                 "document)");
    if (p->root_kind == RK_ARR)
        return p->foreign ? TG_REPORT_AUTO : TG_REPORT_TRIVY;
    if (p->root_kind != RK_OBJ) {
        snprintf(why, n, "not a known report (the document is not an object, a list or null)");
        return TG_REPORT_AUTO;
    }
    if (bits & (RP_BIT(RP_DOC_BOMFORMAT) | RP_BIT(RP_DOC_SPECVERSION))) {
        snprintf(why, n, "not a supported report (a CycloneDX BOM: bomFormat/specVersion)");
        return TG_REPORT_AUTO;
    }
    return by_keys(p, bits, why, n);
}

static enum tg_report_format detect(const struct rp_parser *p)
{
    char why[256];
    return detect_why(p, why, sizeof why);
}

static const char *guess_name(const struct rp_parser *p)
{
    return tg_report_format_name(p->opt.format != TG_REPORT_AUTO ? p->opt.format : detect(p));
}

static int report(char *err, size_t errlen, const char *format, uint64_t off, const char *why)
{
    snprintf(err, errlen, "%s: byte %llu: %s", format, (unsigned long long)off, why);
    return -1;
}

/* ---- lifecycle ---- */

struct tg_report_parser *tg_report_parser_new(const struct tg_report_options *opt)
{
    static const enum tg_report_format sink_formats[RP_SINK_COUNT] = {
        TG_REPORT_AUTO,    TG_REPORT_TRIVY,  TG_REPORT_TRIVY, TG_REPORT_TRIVY,
        TG_REPORT_HORUSEC, TG_REPORT_GITLAB, TG_REPORT_GRYPE, TG_REPORT_SARIF,
    };
    struct rp_parser *p = tg_xcalloc(1, sizeof *p);
    p->opt = *opt;
    for (int i = 0; i < RP_SINK_COUNT; i++) {
        rp_sink_init(&p->sinks[i], sink_formats[i]);
        /* a forced format knows its sink, except trivy k8s: Results anywhere overrides it */
        p->sinks[i].direct = opt->format != TG_REPORT_AUTO && i != RP_S_TRIVY_K8S;
    }
    for (int i = 0; i < RP_RAW_COUNT; i++)
        tg_buf_init(&p->raw[i].buf);
    tg_buf_init(&p->scratch);
    tg_buf_init(&p->sarif.arena);
    rp_hmap_init(&p->sarif.by_id, 1);
    if (getrandom(p->hkey, sizeof p->hkey, GRND_NONBLOCK) != (ssize_t)sizeof p->hkey) {
        p->hkey[0] = (uint64_t)(uintptr_t)p ^ (uint64_t)time(NULL);
        p->hkey[1] = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL;
    }
    p->yajl = yajl_alloc(&rp_callbacks, NULL, p);
    if (p->yajl == NULL)
        TG_LOG_FATAL("out_of_memory", "yajl_alloc failed");
    return (struct tg_report_parser *)p;
}

void tg_report_parser_free(struct tg_report_parser *tp)
{
    struct rp_parser *p = (struct rp_parser *)tp;
    if (p == NULL)
        return;
    yajl_free(p->yajl);
    for (int i = 0; i < RP_SINK_COUNT; i++)
        rp_sink_dispose(&p->sinks[i]);
    for (int i = 0; i < RP_RAW_COUNT; i++)
        tg_buf_dispose(&p->raw[i].buf);
    tg_buf_dispose(&p->scratch);
    rp_trivy_dispose(&p->trivy);
    rp_sarif_dispose(&p->sarif);
    free(p);
}

/* yajl's own reason ("parse error: premature EOF"), unless a callback already failed. A
 * byte order mark is named: editors on Windows add one, and JSON text must not begin with it
 * (RFC 8259 8.1). yajl counts a byte it cannot lex as consumed: the offset names that byte. */
static void syntax_error(struct rp_parser *p, const unsigned char *chunk, size_t n)
{
    if (p->failed)
        return;
    unsigned char *msg = yajl_get_error(p->yajl, 0, chunk, n);
    size_t len = strcspn((const char *)msg, "\r\n");
    if (p->nhead == 3 && memcmp(p->head, "\xef\xbb\xbf", 3) == 0) {
        rp_fail(p, "invalid JSON: the file begins with a UTF-8 byte order mark (EF BB BF), which "
                   "JSON text must "
                   "not; save it without one");
        p->err_off = 0;
    } else {
        rp_fail(p, "invalid JSON: %.*s", (int)len, (const char *)msg);
        if (strstr((const char *)msg, "lexical error: invalid char") && p->err_off > 0)
            p->err_off--;
    }
    yajl_free_error(p->yajl, msg);
}

int tg_report_parser_feed(struct tg_report_parser *tp, const void *chunk, size_t n, char *err,
                          size_t errlen)
{
    struct rp_parser *p = (struct rp_parser *)tp;
    for (size_t i = 0; p->nhead < sizeof p->head && i < n; i++)
        p->head[p->nhead++] = ((const unsigned char *)chunk)[i];
    if (!p->failed) {
        size_t ok = rp_utf8_check(p, chunk, n);
        if (yajl_parse(p->yajl, chunk, ok) != yajl_status_ok) {
            syntax_error(p, chunk, ok);
        } else if (ok < n) {
            rp_fail(p, "invalid UTF-8 (byte 0x%02x)", ((const unsigned char *)chunk)[ok]);
            p->err_off = p->base + ok;
        }
        p->base += ok;
    }
    return p->failed ? report(err, errlen, guess_name(p), p->err_off, p->err) : 0;
}

/* ---- the result ---- */

/* The sink of the detected format fmt. */
static struct rp_sink *counted_sink(struct rp_parser *p, enum tg_report_format fmt)
{
    static const uint8_t sinks[] = {[TG_REPORT_HORUSEC] = RP_S_HORUSEC,
                                    [TG_REPORT_GITLAB] = RP_S_GITLAB,
                                    [TG_REPORT_SARIF] = RP_S_SARIF,
                                    [TG_REPORT_GRYPE] = RP_S_GRYPE};
    uint32_t bits = doc_bits(p);
    if (fmt == TG_REPORT_TRIVY && (p->root_kind == RK_NULL || p->root_kind == RK_ARR))
        return &p->sinks[RP_S_TRIVY_LEGACY];
    if (fmt == TG_REPORT_TRIVY)
        return &p->sinks[bits & RP_BIT(RP_DOC_CLUSTERNAME) ? RP_S_TRIVY_K8S : RP_S_TRIVY];
    return &p->sinks[sinks[fmt]];
}

/* The format to count: the detected one, which a forced format must equal (a document of
 * another kind is refused, never read as an empty report of the forced one). */
static enum tg_report_format chosen_format(const struct rp_parser *p, char *why, size_t n)
{
    char unknown[256];
    enum tg_report_format found = detect_why(p, unknown, sizeof unknown), forced = p->opt.format;
    if (forced == TG_REPORT_AUTO || found == forced) {
        snprintf(why, n, "%s", unknown);
        return found;
    }
    if (found == TG_REPORT_AUTO)
        snprintf(why, n, "expected a %s report, the document is %s", tg_report_format_name(forced),
                 unknown);
    else if (p->root_kind != RK_OBJ)
        snprintf(why, n, "expected a %s report, the document is %s (read as a %s report)",
                 tg_report_format_name(forced), rp_kind_name(p->root_kind),
                 tg_report_format_name(found));
    else
        snprintf(why, n, "expected a %s report, the document is a %s report",
                 tg_report_format_name(forced), tg_report_format_name(found));
    return TG_REPORT_AUTO;
}

static json_t *extra_of(struct rp_parser *p, enum tg_report_format fmt, struct rp_sink *s,
                        char *why, size_t n)
{
    switch (fmt) {
    case TG_REPORT_TRIVY:
        return rp_trivy_extra(p, s);
    case TG_REPORT_HORUSEC:
        return rp_horusec_extra(p, s, why, n);
    case TG_REPORT_GITLAB:
        return rp_gitlab_extra(p, s, why, n);
    case TG_REPORT_GRYPE:
        return rp_grype_extra(p, s);
    case TG_REPORT_SARIF:
        return rp_sarif_extra(p, s);
    default:
        return NULL;
    }
}

int tg_report_parser_finish(struct tg_report_parser *tp, struct tg_report_summary *out, char *err,
                            size_t errlen)
{
    struct rp_parser *p = (struct rp_parser *)tp;
    char why[512];
    memset(out, 0, sizeof *out);
    if (!p->failed && yajl_complete_parse(p->yajl) != yajl_status_ok)
        syntax_error(p, NULL, 0);
    if (p->err_off > p->base) /* yajl finishes by parsing one extra space */
        p->err_off = p->base;
    if (p->failed)
        return report(err, errlen, guess_name(p), p->err_off, p->err);
    enum tg_report_format fmt = chosen_format(p, why, sizeof why);
    if (fmt == TG_REPORT_AUTO)
        return report(err, errlen, tg_report_format_name(p->opt.format), 0, why);
    struct rp_sink *s = counted_sink(p, fmt);
    if (s->dead)
        return report(err, errlen, tg_report_format_name(fmt), s->err_off, s->err);
    json_t *extra = extra_of(p, fmt, s, why, sizeof why);
    if (extra == NULL)
        return report(err, errlen, tg_report_format_name(fmt), 0, why);
    out->format = fmt;
    out->extra = extra;
    rp_scan_failed(p, fmt, s, out->scan_failed, sizeof out->scan_failed);
    rp_sink_finish(p, s, out);
    return 0;
}

int rp_raw_set(struct rp_parser *p, json_t *obj, const struct rp_raw_field *f, char *err,
               size_t errlen)
{
    const char *key = f->key;
    int which = f->which;
    const struct rp_raw *r = &p->raw[which];
    json_error_t e;
    json_t *v;
    static const char *const paths[RP_RAW_COUNT] = {"$.version", "$.status", "$.scan.type",
                                                    "$.scan.status"};
    if (r->overflow) {
        snprintf(err, errlen, "%s is larger than %d bytes", paths[which], RP_RAW_CAP);
        return -1;
    }
    if (!r->present) {
        json_object_set_new(obj, key, json_null());
        return 0;
    }
    /* jansson refuses integers beyond 64 bits: those become doubles, then text */
    v = json_loadb(r->buf.data, r->buf.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (v == NULL)
        v = json_loadb(r->buf.data, r->buf.len,
                       JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &e);
    if (v == NULL)
        v = json_stringn(r->buf.data, r->buf.len);
    json_object_set_new(obj, key, v);
    return 0;
}

/* A captured status that is present and not "success" (its compact JSON text). */
static int not_success(const struct rp_raw *r)
{
    return r->present && !(r->buf.len == 9 && memcmp(r->buf.data, "\"success\"", 9) == 0);
}

void rp_scan_failed(struct rp_parser *p, enum tg_report_format fmt, const struct rp_sink *s,
                    char *out, size_t n)
{
    const struct rp_raw *r = &p->raw[fmt == TG_REPORT_GITLAB ? RP_RAW_SCANSTATUS : RP_RAW_STATUS];
    out[0] = '\0';
    if ((fmt == TG_REPORT_GITLAB || fmt == TG_REPORT_HORUSEC) && not_success(r))
        snprintf(out, n, "%s is %.*s", fmt == TG_REPORT_GITLAB ? "$.scan.status" : "$.status",
                 (int)(r->buf.len < 64 ? r->buf.len : 64), r->buf.data);
    else if (fmt == TG_REPORT_SARIF && s->n[RP_N_FAILEDRUNS])
        snprintf(out, n, "%s.executionSuccessful is false (%llu invocation%s)", p->sarif.failed_at,
                 (unsigned long long)s->n[RP_N_FAILEDRUNS], s->n[RP_N_FAILEDRUNS] > 1 ? "s" : "");
}

void tg_report_summary_dispose(struct tg_report_summary *s)
{
    json_decref(s->extra);
    free(s->findings);
    memset(s, 0, sizeof *s);
}

/* ---- whole documents ---- */

int tg_report_parse_buf(const struct tg_report_doc *doc, const struct tg_report_options *opt,
                        struct tg_report_summary *out, char *err, size_t errlen)
{
    struct tg_report_parser *p = tg_report_parser_new(opt);
    int rc = tg_report_parser_feed(p, doc->data, doc->len, err, errlen);
    if (rc == 0)
        rc = tg_report_parser_finish(p, out, err, errlen);
    else
        memset(out, 0, sizeof *out);
    tg_report_parser_free(p);
    return rc;
}

int tg_report_parse_fd(int fd, const struct tg_report_options *opt, struct tg_report_summary *out,
                       char *err, size_t errlen)
{
    struct tg_report_parser *p = tg_report_parser_new(opt);
    char *buf = tg_xmalloc(READ_CHUNK);
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, buf, READ_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            char why[128];
            snprintf(why, sizeof why, "read error: %s", strerror(errno));
            rc = report(err, errlen, guess_name((struct rp_parser *)p),
                        ((struct rp_parser *)p)->base, why);
        }
        if (r <= 0 || (rc = tg_report_parser_feed(p, buf, (size_t)r, err, errlen)) < 0)
            break;
    }
    if (rc == 0)
        rc = tg_report_parser_finish(p, out, err, errlen);
    else
        memset(out, 0, sizeof *out);
    free(buf);
    tg_report_parser_free(p);
    return rc;
}
