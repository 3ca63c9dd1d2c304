/* reports_impl.h -- what the reports_*.c files share; no other module includes it.
 *
 * The engine (reports_engine.c) walks yajl events against a small schema of nodes that
 * each format declares (reports_<format>.c): fields are captured into per-level slots,
 * objects that are findings ("items") reset their level and call the format's hooks, and
 * everything the schema does not name is skipped by counting depth only. Findings go to a
 * sink (reports_sink.c): bucket counts, the top-N heap, identity keys and visitor calls.
 *
 *   document ── key ──► routing node (sink) ── list ──► item (level 1) ── ... ──► item (level 3)
 *                                                          │ fields land in slots[level][slot]
 *                                                          └ end hook: rp_offer(sink, finding)
 */
#ifndef TG_REPORTS_IMPL_H
#define TG_REPORTS_IMPL_H

#include "base/buf.h"
#include "decide/reports.h"

#include <stdarg.h>
#include <stdint.h>
#include <yajl/yajl_parse.h>

#define RP_TEXT_CAP  (TG_REPORT_TEXT_MAX + 1)
#define RP_MAX_DEPTH 10000 /* nesting beyond this is refused */
#define RP_INT_DIGITS_MAX                                                                          \
    4300                 /* longer integer literals are refused (as CVE-2020-10735's fix does) */
#define RP_MAX_FRAMES 24 /* schema depth bound; skipped subtrees use no frames */
#define RP_LEVELS     4
#define RP_SLOTS      12
#define RP_RAW_CAP    65536 /* captured raw values (version, status, scan.type) */
#define RP_KEYS_MAX   256   /* distinct Horusec types / SARIF levels */

/* A JSON value's kind (absent: the key is missing) and whether it is empty-like. */
enum rp_kind { RK_ABSENT, RK_NULL, RK_FALSE, RK_TRUE, RK_NUM, RK_STR, RK_ARR, RK_OBJ };

/* Score of a SARIF security-severity: none (the level decides), or 1 + the bucket. */
enum { RP_SCORE_NONE = 0 };

/* A captured value. Strings and numbers keep a capped copy of their text (UTF-8 safe cut);
 * the derived values below are computed from the full text when the field asks for them. */
struct rp_value {
    uint8_t kind;
    uint8_t truthy;
    uint8_t isint;   /* numbers: an integer literal */
    uint8_t has_int; /* ival holds the integer (numbers, and numeric strings for lines) */
    uint8_t sev;     /* RC_SEV: bucket of a string (unknown otherwise) */
    uint8_t score;   /* RC_SCORE: RP_SCORE_* or 1 + bucket */
    uint16_t tlen;
    int64_t ival;
    double num;    /* numbers */
    uint64_t hash; /* RC_HASH: keyed hash of the value as an identity */
    size_t len;    /* full length of the string or number text */
    char text[RP_TEXT_CAP];
};

/* Capture flags of a field. */
#define RC_HASH  0x01
#define RC_SEV   0x02
#define RC_SCORE 0x04
#define RC_INT   0x08

struct rp_parser;
struct rp_sink;
typedef void (*rp_hook)(struct rp_parser *p, struct rp_sink *s, uint64_t n);
typedef void (*rp_str_hook)(struct rp_parser *p, struct rp_sink *s, const char *str, size_t n);

enum rp_node_type { RN_FIELD, RN_OBJECT, RN_LIST, RN_RAW };
/* How a value that is not the expected container is treated. */
enum rp_mode {
    RM_SHOW,  /* display only: ignore anything unexpected */
    RM_DICT,  /* OBJECT: fields are read from it; an empty-like value has none, another
               * non-object value is malformed */
    RM_LAZY,  /* OBJECT: record the shape in (level, slot); the format judges it when used */
    RM_DICTS, /* LIST: an array the format defines: null means empty; any other type, or an
               * element that is not an object, makes the report malformed */
    RM_ROOT,  /* LIST: the document itself (legacy Trivy); an element that is not a Result
               * object makes the document foreign (rp_parser.foreign) */
};
#define RF_ITEM  0x01 /* OBJECT: a new scratch level (node->level) begins and ends here */
#define RF_NODUP 0x02 /* a repeated key is refused (which one counts would be a guess) */
#define RF_KNOWN_ARRAYS                                                                            \
    0x04 /* legacy Trivy Result: a member it does not name holding an array
                              * makes the document foreign (another tool's list) */

struct rp_node {
    const char *key; /* NULL ends a list of children */
    uint8_t keylen;
    uint8_t type;  /* enum rp_node_type */
    uint8_t mode;  /* enum rp_mode; FIELD: RC_* flags; RAW: capture index */
    uint8_t flags; /* RF_* */
    uint8_t level; /* FIELD, lazy OBJECT: slot level; ITEM: the level it opens */
    uint8_t slot;
    uint8_t sink;              /* enum rp_sink_id; 0 inherits the parent's */
    uint8_t bit;               /* 0..31 among siblings: presence and duplicate detection */
    const struct rp_node *sub; /* OBJECT: children; LIST: the element node */
    const struct rp_node *const *groups; /* the document: children from each format */
    rp_hook begin, end;                  /* items; lists and objects: end only (n = elements) */
    rp_str_hook str;                     /* lazy OBJECT given a string */
};

#define RP_KEY(k) k, (uint8_t)(sizeof(k) - 1)
#define RP_FIELD(k, lvl, slt, cf)                                                                  \
    {                                                                                              \
        RP_KEY(k), RN_FIELD, cf, 0, lvl, slt, 0, 0, NULL, NULL, NULL, NULL, NULL                   \
    }
#define RP_END                                                                                     \
    {                                                                                              \
        NULL, 0, 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL                                 \
    }

#define RP_DOCFIELD(k, slt, b)                                                                     \
    {                                                                                              \
        RP_KEY(k), RN_FIELD, 0, 0, 0, slt, 0, b, NULL, NULL, NULL, NULL, NULL                      \
    }
/* A finding object: a new slot level (RM_DICT). */
#define RP_ITEM(name, lvl, kids, b, e)                                                             \
    {                                                                                              \
        RP_KEY(name), RN_OBJECT, RM_DICT, RF_ITEM, lvl, 0, 0, 0, kids, NULL, b, e, NULL            \
    }
/* A list the format defines (mode RM_DICTS); a repeated key is refused. */
#define RP_LIST(k, mode, b, sink, elem, e)                                                         \
    {                                                                                              \
        RP_KEY(k), RN_LIST, mode, RF_NODUP, 0, 0, sink, b, elem, NULL, NULL, e, NULL               \
    }
/* An object fields are read from (RM_DICT); a repeated key is refused. */
#define RP_OBJ(k, b, sink, kids, e)                                                                \
    {                                                                                              \
        RP_KEY(k), RN_OBJECT, RM_DICT, RF_NODUP, 0, 0, sink, b, kids, NULL, NULL, e, NULL          \
    }
/* Display only: an object, or a list whose first element is looked at. */
#define RP_SHOW(k, kids)                                                                           \
    {                                                                                              \
        RP_KEY(k), RN_OBJECT, RM_SHOW, 0, 0, 0, 0, 0, kids, NULL, NULL, NULL, NULL                 \
    }
#define RP_RAWFIELD(k, which, b)                                                                   \
    {                                                                                              \
        RP_KEY(k), RN_RAW, which, 0, 0, 0, 0, b, NULL, NULL, NULL, NULL, NULL                      \
    }
#define RP_SHOWLIST(k, elem)                                                                       \
    {                                                                                              \
        RP_KEY(k), RN_LIST, RM_SHOW, 0, 0, 0, 0, 0, elem, NULL, NULL, NULL, NULL                   \
    }

/* Top-level keys: their bits in the document frame drive detection (detect() priority). */
enum rp_doc_key {
    RP_DOC_RUNS,
    RP_DOC_SCHEMA,
    RP_DOC_VERSION,
    RP_DOC_STATUS,
    RP_DOC_SCHEMAVERSION,
    RP_DOC_CLUSTERNAME,
    RP_DOC_RESULTS,
    RP_DOC_K8S_VULNS,
    RP_DOC_K8S_MISCONF,
    RP_DOC_K8S_RESOURCES,
    RP_DOC_HORUSEC,
    RP_DOC_MATCHES,
    RP_DOC_GITLAB_VULNS,
    RP_DOC_SCAN,
    RP_DOC_BOMFORMAT,
    RP_DOC_SPECVERSION,
    RP_DOC_K8S_FINDINGS
};
#define RP_BIT(k) (1u << (k))

/* Sinks: one per (format, path) whose subtree counts, chosen at the end. */
enum rp_sink_id {
    RP_S_NONE,
    RP_S_TRIVY,        /* {"Results": [...]} or SchemaVersion present */
    RP_S_TRIVY_K8S,    /* trivy k8s: Vulnerabilities / Misconfigurations / Resources / Findings */
    RP_S_TRIVY_LEGACY, /* a top-level list of Results */
    RP_S_HORUSEC,
    RP_S_GITLAB,
    RP_S_GRYPE,
    RP_S_SARIF,
    RP_SINK_COUNT
};

/* Per-format counters in rp_sink.n. */
enum {
    RP_N_VULNS,
    RP_N_MISCONF,
    RP_N_SECRETS,
    RP_N_LICENSES,
    RP_N_NOTFAIL,
    RP_N_IDENT,          /* trivy, grype */
    RP_N_SEVMISSING = 0, /* gitlab */
    RP_N_SUPPRESSED = 0,
    RP_N_SCORED,
    RP_N_RUNS,
    RP_N_NOTFAILING,
    RP_N_FAILEDRUNS, /* sarif */
    RP_N_COUNT = 6
};

/* An open-addressing set of 64-bit keys with an optional 32-bit value each. */
struct rp_hmap {
    uint64_t *keys;
    uint32_t *vals;
    size_t cap, n;
};

struct rp_keycount {
    struct rp_keyn {
        char key[RP_TEXT_CAP];
        size_t len;
        uint64_t n;
    } * v;
    size_t count;
};

/* Display fields of a finding. */
enum rp_field {
    RP_F_ID,
    RP_F_PACKAGE,
    RP_F_VERSION,
    RP_F_FIXED,
    RP_F_FILE,
    RP_F_TITLE,
    RP_F_COUNT
};

/* A finding offered to a sink: borrowed strings, copied if it enters the top-N. */
struct rp_find {
    uint8_t sev;
    uint8_t file_pending; /* Trivy: the Result's Target is patched in at its end */
    long line;
    const char *s[RP_F_COUNT];
    size_t n[RP_F_COUNT];
};

struct rp_entry {
    uint64_t seq;
    uint8_t sev;
    uint8_t file_pending;
    long line;
    uint16_t len[RP_F_COUNT];
    char text[RP_F_COUNT][RP_TEXT_CAP];
};

struct rp_sink {
    uint8_t fmt;    /* enum tg_report_format */
    uint8_t dead;   /* failed: err holds why; its subtrees are skipped */
    uint8_t direct; /* visits go straight to the caller: this sink is the one counted */
    char err[192];
    uint64_t err_off;
    uint64_t counts[TG_SEV_COUNT];
    uint64_t n[RP_N_COUNT];
    struct rp_hmap idents; /* distinct identity keys (duplicates = entries - distinct) */
    struct rp_keycount keys;
    struct rp_entry *top; /* a heap, worst first */
    size_t ntop, captop;
    struct tg_buf visits; /* auto mode: [sev][len lo][len hi][id bytes]... */
};

enum rp_frame_mode { RPF_OBJ, RPF_LIST, RPF_PROBE };

struct rp_frame {
    const struct rp_node *node;
    const struct rp_node *pending; /* RPF_OBJ: node of the next value, NULL skips it */
    uint64_t count;                /* elements so far */
    uint32_t seen;
    uint8_t mode, sink, isarray;
};

enum { RP_RAW_VERSION, RP_RAW_STATUS, RP_RAW_SCANTYPE, RP_RAW_SCANSTATUS, RP_RAW_COUNT };
struct rp_raw {
    struct tg_buf buf;
    uint8_t present, overflow;
    uint8_t headlen; /* str() of a scalar value starts with head (for detection) */
    char head[8];
};

/* Trivy: identity hashes of one Result's vulnerabilities, finished when its Target is known. */
struct rp_trivy {
    uint64_t *pending;
    size_t n, cap;
};

/* A SARIF level: absent (or null), else 1 + its index in none, note, warning, error. */
enum { RP_LEVEL_ABSENT, RP_LEVEL_NONE, RP_LEVEL_NOTE, RP_LEVEL_WARNING, RP_LEVEL_ERROR };

struct rp_rule {
    uint8_t dc_bad, props_bad, score;
    uint8_t level; /* defaultConfiguration.level (RP_LEVEL_*) */
    uint16_t idlen;
    char id[RP_TEXT_CAP];
    char path[96]; /* its JSON path, for errors found when a result uses it */
};

/* A SARIF result as the rule resolution needs it; s points into the slots, or into the
 * arena for a held result. */
enum { RP_SR_ID, RP_SR_TITLE, RP_SR_FILE, RP_SR_COUNT };
struct rp_sres {
    uint8_t idx_ok, tc_ok, rid_kind, suppressed, level;
    int64_t idx, tc;
    uint64_t rid_hash;
    long line;
    const char *s[RP_SR_COUNT];
    uint16_t n[RP_SR_COUNT];
};

/* A result held until its run's rules are known: only what resolving it needs (a failing,
 * unsuppressed result's rule reference and level; its texts in the arena at off). */
struct rp_sheld {
    int64_t idx, tc;
    uint64_t rid_hash;
    uint64_t off;
    long line;
    uint16_t n[RP_SR_COUNT];
    uint8_t idx_ok, tc_ok, rid_kind, level, suppressed;
};

struct rp_sarif {
    struct rp_rule *rules; /* in file order, driver and extension rules alike */
    size_t nrules, caprules, ndriver;
    uint32_t *driver; /* index in rules[] of the i-th driver rule */
    size_t capdriver;
    struct rp_ext { /* tool.extensions[k]: its rules are rules[first .. first + n) */
        size_t first, n;
    } * ext;
    size_t nexts, capexts;
    size_t ext_first, ext_n; /* the extension being read */
    /* the result being read: its suppressions */
    uint32_t supp_n, supp_open; /* entries; entries under review or rejected */
    struct rp_hmap by_id;       /* id hash -> index in rules[] */
    int tool_done;              /* rules final: resolve results as they come */
    struct rp_sheld *held;      /* results waiting for rules that come later in the run */
    size_t nheld, capheld;
    struct tg_buf arena; /* their strings */
    char failed_at[128]; /* the first invocation whose executionSuccessful is false */
};

struct rp_parser {
    struct tg_report_options opt;
    yajl_handle yajl;
    uint64_t base; /* bytes fed before the current chunk */
    uint64_t err_off;
    int failed;
    char err[256];
    uint32_t depth, skip, raw_depth;
    int raw_cur;
    struct rp_frame frames[RP_MAX_FRAMES];
    unsigned nframes;
    uint8_t root_kind; /* RK_ABSENT until the document starts */
    uint32_t doc_seen; /* bits of the top-level keys present */
    uint64_t seq;
    uint64_t hkey[2]; /* SipHash key, random per parser */
    uint32_t utf8_need;
    uint8_t utf8_lo, utf8_hi;
    struct rp_value slots[RP_LEVELS][RP_SLOTS];
    struct rp_raw raw[RP_RAW_COUNT];
    struct rp_sink sinks[RP_SINK_COUNT];
    uint8_t foreign; /* a top-level list that is not a list of Trivy Results */
    uint8_t nhead;   /* bytes in head: the document's first bytes (a byte order mark?) */
    unsigned char head[3];
    uint32_t closing_seen; /* the member bits of the object whose end hook runs */
    char path[256];        /* rp_path's result */
    struct tg_buf scratch;
    struct rp_trivy trivy;
    struct rp_sarif sarif;
};

/* The bucket of a captured severity: strings only, anything else is unknown. */
static inline uint8_t rp_sev(const struct rp_value *v)
{
    return v->kind == RK_STR ? v->sev : TG_SEV_UNKNOWN;
}

static inline int rp_unhashable(const struct rp_value *v)
{
    return v->kind == RK_ARR || v->kind == RK_OBJ;
}

/* ---- reports_engine.c ---- */
extern const yajl_callbacks rp_callbacks;
/* The byte offset of the event being handled. */
uint64_t rp_offset(const struct rp_parser *p);
static inline struct rp_value *rp_slot(struct rp_parser *p, int level, int slot)
{
    return &p->slots[level][slot];
}
/* The identity hash of a captured scalar; absent hashes like null (both are None). */
uint64_t rp_hash_of(struct rp_parser *p, const struct rp_value *v);
/* The identity hash of the string s (as rp_hash_of of a captured string with that text). */
uint64_t rp_hash_text(struct rp_parser *p, const char *s, size_t n);
const char *rp_kind_name(uint8_t kind);
/* v is a string equal to one of the words (NULL-terminated), exactly: its index, else -1. */
int rp_word_of(const struct rp_value *v, const char *const *words);
/* How an error shows a value a format does not define: a short printable string quoted,
 * else its kind ("a list"). buf: at least 48 bytes. */
const char *rp_shown(const struct rp_value *v, char *buf, size_t n);
/* The JSON path ("$.runs[0].results[2]") of the value being looked at: the open frames,
 * then ".key" when key is given, else "[i]" for the innermost list's current element when
 * elem is set. Returns p->path (valid until the next call; cut when very long). */
const char *rp_path(struct rp_parser *p, const char *key, int elem);
/* Fails the whole parse (structure, depth, UTF-8): returns 0 for yajl to stop. */
int rp_fail(struct rp_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Fails one sink: the other candidate formats go on. Only the first reason is kept. */
void rp_sink_fail(struct rp_parser *p, struct rp_sink *s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Strict UTF-8 (no overlong forms, no surrogates): returns the length of the valid prefix of
 * the chunk, carrying a split sequence over to the next call; n when all is valid. */
size_t rp_utf8_check(struct rp_parser *p, const unsigned char *s, size_t n);

/* ---- reports_sink.c ---- */
void rp_sink_init(struct rp_sink *s, enum tg_report_format fmt);
void rp_sink_dispose(struct rp_sink *s);
/* Counts the finding, visits it and keeps it if it ranks in the top N. */
void rp_offer(struct rp_parser *p, struct rp_sink *s, const struct rp_find *f);
/* Gives entries still waiting for a file (Trivy's Target) this one. */
void rp_sink_patch_file(struct rp_sink *s, const char *file, size_t n);
/* A field of an identity: its slot, and its name under the entry for errors ("PkgName",
 * "vulnerability.id"). */
struct rp_ident_field {
    int slot;
    const char *name;
};
/* What makes an entry's identity: these fields of the entry, which sits at this nesting level. */
struct rp_ident {
    int level;
    const struct rp_ident_field *fields;
    size_t nfields;
};
/* The identity of an entry: a keyed hash of the tuple of the given slots (absent
 * equals null and 1 equals 1.0). -1 after failing the sink, naming the field's JSON path,
 * when a field is a list or an object (unhashable). Call from the entry's end hook. */
int rp_ident_hash(struct rp_parser *p, struct rp_sink *s, const struct rp_ident *id, uint64_t *out);
/* Counts one entry with this identity; returns 1 when it was not seen before. */
int rp_sink_ident(struct rp_sink *s, uint64_t key);
/* Counts one more value under its key text (rp_key_text); -1 with a reason when it cannot be
 * a key. */
int rp_keycount_add(struct rp_keycount *k, const struct rp_value *v, const char **why);
json_t *rp_keycount_json(const struct rp_keycount *k);
/* Moves the sorted top-N and replays visits into the public summary. */
void rp_sink_finish(struct rp_parser *p, struct rp_sink *s, struct tg_report_summary *out);
/* A finding's display field from a slot (strings as is, numbers as their text), unless the
 * field is already set: call in order of preference. */
void rp_find_set(struct rp_find *f, enum rp_field field, const struct rp_value *v);
/* rp_find_set for every field whose map entry is a slot of that level (-1: none). */
void rp_find_from(struct rp_find *f, struct rp_parser *p, int level, const int8_t map[RP_F_COUNT]);

/* ---- reports_hash.c ---- */
uint64_t rp_siphash(const uint64_t key[2], const void *p, size_t n);
void rp_hmap_init(struct rp_hmap *m, int with_vals);
void rp_hmap_dispose(struct rp_hmap *m);
void rp_hmap_clear(struct rp_hmap *m);
/* Inserts key (with val when the map has values). Returns 1 if new, 0 if present; with
 * overwrite the value of a present key is replaced. */
int rp_hmap_put(struct rp_hmap *m, uint64_t key, uint32_t val, int overwrite);
/* Returns 1 and the value when present. */
int rp_hmap_get(const struct rp_hmap *m, uint64_t key, uint32_t *val);

/* ---- reports_values.c: the values the counting rule interprets ---- */
/* The bucket of a severity word: trimmed, case-folded; Negligible is info, others unknown. */
enum tg_severity rp_bucket_word(const char *s, size_t n);
/* The CVSS band of a score: >= 9 critical, >= 7 high, >= 4 medium, > 0 low, else info. */
enum tg_severity rp_cvss_band(double score);
/* A security-severity as a bucket: 1 + the CVSS band of a score from 0 to 10 (a JSON number
 * num, or a string s of ASCII digits with at most one decimal point between digits, white
 * space around allowed), else 1 + the bucket a word names; RP_SCORE_NONE for anything else
 * (NaN, Infinity, 1e1, 1_0, negative, above 10, other words, other kinds). */
uint8_t rp_score_bucket(struct tg_buf *scratch, uint8_t kind, const char *s, size_t n, double num);
/* The shortest round-trip text of v ("2.0", "0.1", "1e+16", "nan") into out (>= 32 bytes). */
void rp_float_text(double v, char *out, size_t outlen);
/* A JSON number: its literal's n bytes, whether that is an integer literal, its value. */
struct rp_number {
    const char *lit;
    size_t n;
    int isint;
    double v;
};
/* The text of a JSON number literal: an integer as written ("-0" is "0"), any other number
 * by rp_float_text. -1 when the result would not fit outlen. */
int rp_number_text(const struct rp_number *num, char *out, size_t outlen);
/* The text of v as a key of an extra figure ("types", "levels"): strings as they are,
 * numbers by rp_number_text, true/false/null as literals; -1 for containers. */
int rp_key_text(const struct rp_value *v, char *out, size_t outlen, size_t *len);
/* Length of the longest prefix of s (at most max bytes) that ends on a character boundary. */
size_t rp_utf8_cut(const char *s, size_t n, size_t max);

/* ---- reports.c: the routing of top-level keys ---- */
extern const struct rp_node rp_doc;

/* ---- the formats: their top-level keys (RP_END-terminated) ---- */
extern const struct rp_node rp_trivy_top[], rp_trivy_legacy[], rp_horusec_top[], rp_gitlab_top[];
extern const struct rp_node rp_grype_top[], rp_sarif_top[];
json_t *rp_trivy_extra(struct rp_parser *p, struct rp_sink *s);
json_t *rp_horusec_extra(struct rp_parser *p, struct rp_sink *s, char *err, size_t errlen);
json_t *rp_gitlab_extra(struct rp_parser *p, struct rp_sink *s, char *err, size_t errlen);
json_t *rp_grype_extra(struct rp_parser *p, struct rp_sink *s);
json_t *rp_sarif_extra(struct rp_parser *p, struct rp_sink *s);
/* Where the scanner declared that it failed (tg_report_summary.scan_failed), "" when not. */
void rp_scan_failed(struct rp_parser *p, enum tg_report_format fmt, const struct rp_sink *s,
                    char *out, size_t n);
void rp_trivy_dispose(struct rp_trivy *t);
void rp_sarif_dispose(struct rp_sarif *s);
/* A captured raw value (RP_RAW_*) and the key it is shown under in the extra figures. */
struct rp_raw_field {
    const char *key;
    int which;
};
/* Sets obj[f->key] to a captured raw value (null when absent). -1 with a reason when it was
 * larger than RP_RAW_CAP. */
int rp_raw_set(struct rp_parser *p, json_t *obj, const struct rp_raw_field *f, char *err,
               size_t errlen);

#endif
