/* reports.h -- scan reports (Trivy, Horusec, GitLab, SARIF, Grype) to severity counts.
 *
 * One streaming pass over the JSON (yajl) yields the six severity buckets, the per-format
 * "extra" figures and the N most severe findings, by the counting rule of the README ("Scan
 * reports"). A report whose shape is not understood is refused, never counted as empty: an array
 * container of another type, a value the format does not define (SARIF kind, level, suppression
 * status; Trivy misconfiguration Status), another tool's document, a document with keys of two
 * formats, or a document of another format than the forced one. Memory grows with the number of
 * findings (the top-N list, duplicate keys, SARIF results waiting for their rules), never with the
 * bytes. Nothing here keeps global state; one parser belongs to one thread at a time. Like all of
 * decide/, it depends on base/ only (scripts/style.sh checks it).
 */
#ifndef TG_REPORTS_H
#define TG_REPORTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Ordered so that a greater value is more severe. Unknown sorts below info: it carries no
 * rating, so a top-N list shows rated findings first. The six buckets are counted apart. */
enum tg_severity {
    TG_SEV_UNKNOWN,
    TG_SEV_INFO,
    TG_SEV_LOW,
    TG_SEV_MEDIUM,
    TG_SEV_HIGH,
    TG_SEV_CRITICAL,
};
#define TG_SEV_COUNT 6

/* "critical", "high", ... (a static string). */
const char *tg_severity_name(enum tg_severity s);
/* Strict: exactly one of the six lower-case bucket names. Returns 0 or -1 (for policy files). */
int tg_severity_parse(const char *name, enum tg_severity *out);
/* Lenient, the counting rule: case-insensitive after trimming white space, Negligible is info,
 * anything else (Undefined, empty, unknown words) is unknown. s need not be NUL-terminated. */
enum tg_severity tg_severity_bucket(const char *s, size_t n);

enum tg_report_format {
    TG_REPORT_AUTO, /* detect from the document's shape */
    TG_REPORT_TRIVY,
    TG_REPORT_HORUSEC,
    TG_REPORT_GITLAB,
    TG_REPORT_SARIF,
    TG_REPORT_GRYPE,
};

/* "auto", "trivy", "horusec", "gitlab", "sarif", "grype" (a static string). */
const char *tg_report_format_name(enum tg_report_format f);
/* The inverse of tg_report_format_name. Returns 0 or -1. */
int tg_report_format_parse(const char *name, enum tg_report_format *out);

/* One finding of the top-N list. Strings are display copies owned by the summary: valid
 * UTF-8, NUL-terminated, at most TG_REPORT_TEXT_MAX bytes (cut at a character boundary),
 * embedded NULs shown as U+FFFD; "" when the format or the finding has no such field. */
#define TG_REPORT_TEXT_MAX 255
struct tg_report_finding {
    enum tg_severity severity;
    const char *id;      /* CVE, GHSA or rule id */
    const char *package; /* with version: dependency findings */
    const char *version; /* installed version */
    const char *fixed;   /* first fixed version (Trivy, Grype) */
    const char *file;    /* Trivy: the Result's Target; others: the source file */
    long line;           /* 0 when unknown */
    const char *title;
};

struct tg_report_summary {
    enum tg_report_format format;  /* the format counted (never AUTO after a success) */
    uint64_t counts[TG_SEV_COUNT]; /* indexed by enum tg_severity */
    uint64_t total;
    /* The "extra" figures of this format, e.g. trivy {"duplicates": 0,
     * "vulnerabilities": 8}. Owned: one reference, dropped by tg_report_summary_dispose. */
    json_t *extra;
    /* The most severe findings first; equal severities keep file order. Owned. */
    struct tg_report_finding *findings;
    size_t nfindings;
    /* Non-empty when the scanner itself declared that it failed, saying where: GitLab
     * scan.status, Horusec status other than "success", SARIF
     * runs[].invocations[].executionSuccessful false. Its findings are counted all the same. */
    char scan_failed[160];
};

/* Called once for every counted finding, in file order, with the id's bytes (not
 * NUL-terminated, may contain NUL, cut to TG_REPORT_TEXT_MAX; len 0 when the finding has
 * none). With a forced format it runs during the parse; with TG_REPORT_AUTO (and for trivy
 * k8s reports, which a Results key anywhere overrides) the pairs are kept until the format is
 * known and replayed by tg_report_parser_finish (memory: the ids' bytes). */
typedef void (*tg_report_visit_fn)(void *arg, const char *id, size_t idlen, enum tg_severity sev);

struct tg_report_options {
    enum tg_report_format format; /* TG_REPORT_AUTO detects */
    size_t top;                   /* how many findings to keep (0: none) */
    tg_report_visit_fn visit;     /* may be NULL */
    void *visit_arg;
};

/* An incremental parser, for reports that arrive in pieces (a libcurl download). */
struct tg_report_parser;

/* opt is copied. Never fails (out of memory is fatal); free with tg_report_parser_free. */
struct tg_report_parser *tg_report_parser_new(const struct tg_report_options *opt);
void tg_report_parser_free(struct tg_report_parser *p);
/* Feeds the next n bytes. Returns 0, or -1 with err = "FORMAT: byte N: reason" (FORMAT is
 * the forced one, or the best guess so far); after -1 the parser only accepts _free. */
int tg_report_parser_feed(struct tg_report_parser *p, const void *chunk, size_t n, char *err,
                          size_t errlen);
/* Ends the document and fills out (caller storage; release with tg_report_summary_dispose).
 * Returns 0, or -1 with err as above (truncated, unrecognised or malformed report; a
 * malformed one names the JSON path: "trivy: byte 36: $.Results is an object, not an
 * array"; a forced format names the detected one) and out left empty. Call once. */
int tg_report_parser_finish(struct tg_report_parser *p, struct tg_report_summary *out, char *err,
                            size_t errlen);

/* A whole report in memory. */
struct tg_report_doc {
    const void *data;
    size_t len;
};

/* Whole-document conveniences over the parser. The fd is read to its end in 64 KiB chunks
 * and not closed; a read error is reported like a parse error. */
int tg_report_parse_buf(const struct tg_report_doc *doc, const struct tg_report_options *opt,
                        struct tg_report_summary *out, char *err, size_t errlen);
int tg_report_parse_fd(int fd, const struct tg_report_options *opt, struct tg_report_summary *out,
                       char *err, size_t errlen);

/* Frees what the summary owns and leaves it empty; safe on an empty or zeroed summary. */
void tg_report_summary_dispose(struct tg_report_summary *s);

#endif
