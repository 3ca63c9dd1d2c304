/* reports_trivy.c -- Trivy JSON: schema 2, the legacy list (or null), `trivy k8s` reports.
 *
 * Counts Vulnerabilities, failing Misconfigurations and Secrets of every Result; Licenses
 * only as a figure. A vulnerability's identity includes its Result's Target, which may come
 * after the list, so identities wait in rp_trivy until the Result ends. Every list here is
 * an array of objects or null; a top-level list is a legacy report only when each entry is
 * a Result object (has one of its keys, and no array member a Result does not have), else the
 * document is another tool's.
 */
#include "decide/reports_impl.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

enum { R_TARGET, R_CLASS, R_TYPE }; /* level 2: a Result */
enum {
    T_ID,
    T_PKG,
    T_VER,
    T_PATH,
    T_FIXED,
    T_TITLE,
    T_SEV,
    T_STATUS,
    T_AVDID,
    T_LINE
}; /* level 3 */

/* Misconfigurations and secrets: an id (ID, else AVDID), a title and a line. */
static void offer(struct rp_parser *p, struct rp_sink *s)
{
    static const int8_t shown[RP_F_COUNT] = {T_ID, -1, -1, -1, -1, T_TITLE};
    struct rp_find f = {.sev = rp_sev(rp_slot(p, 3, T_SEV)), .file_pending = 1};
    const struct rp_value *line = rp_slot(p, 3, T_LINE);
    rp_find_from(&f, p, 3, shown);
    rp_find_set(&f, RP_F_ID, rp_slot(p, 3, T_AVDID));
    f.line = line->kind == RK_NUM && line->has_int ? (long)line->ival : 0;
    rp_offer(p, s, &f);
}

static void vuln_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)n;
    static const struct rp_ident_field ident[] = {{T_ID, "VulnerabilityID"},
                                                  {T_PKG, "PkgName"},
                                                  {T_VER, "InstalledVersion"},
                                                  {T_PATH, "PkgPath"}};
    uint64_t key;
    if (rp_ident_hash(p, s, &(struct rp_ident){3, ident, TG_ARRAY_SIZE(ident)}, &key) < 0)
        return;
    struct rp_trivy *t = &p->trivy;
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 64;
        t->pending = tg_xrealloc(t->pending, t->cap * sizeof *t->pending);
    }
    t->pending[t->n++] = key;
    s->n[RP_N_VULNS]++;
    static const int8_t shown[RP_F_COUNT] = {T_ID, T_PKG, T_VER, T_FIXED, -1, T_TITLE};
    struct rp_find f = {.sev = rp_sev(rp_slot(p, 3, T_SEV)), .file_pending = 1};
    rp_find_from(&f, p, 3, shown);
    rp_offer(p, s, &f);
}

/* Trivy's statuses: FAIL (also when absent) is a finding, PASS and EXCEPTION are not; any
 * other value is one Trivy does not write, so which it meant would be a guess. */
static void misconf_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    static const char *const statuses[] = {"FAIL", "PASS", "EXCEPTION", NULL};
    const struct rp_value *st = rp_slot(p, 3, T_STATUS);
    char buf[48];
    int w = st->kind == RK_ABSENT ? 0 : rp_word_of(st, statuses);
    (void)n;
    if (w < 0) {
        rp_sink_fail(p, s, "%s.Status is %s, not a Trivy status (FAIL, PASS, EXCEPTION)",
                     rp_path(p, NULL, 1), rp_shown(st, buf, sizeof buf));
        return;
    }
    if (w > 0) {
        s->n[RP_N_NOTFAIL]++;
        return;
    }
    s->n[RP_N_MISCONF]++;
    offer(p, s);
}

static void secret_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)n;
    s->n[RP_N_SECRETS]++;
    offer(p, s);
}

static void licenses_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)p;
    s->n[RP_N_LICENSES] += n;
}

static void result_begin(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)s;
    (void)n;
    p->trivy.n = 0;
}

/* The Target is final now: finish the identities and give waiting findings their file. */
static void result_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)n;
    const struct rp_value *target = rp_slot(p, 2, R_TARGET);
    /* every member of result_fields is a Result key: an object with none is not a Result */
    if (s == &p->sinks[RP_S_TRIVY_LEGACY] && p->closing_seen == 0)
        p->foreign = 1;
    struct rp_trivy *t = &p->trivy;
    if (t->n && rp_unhashable(target)) {
        rp_sink_fail(p, s, "%s.Target is %s, not a scalar", rp_path(p, NULL, 1),
                     rp_kind_name(target->kind));
        return;
    }
    uint64_t th = rp_hash_of(p, target);
    for (size_t i = 0; i < t->n; i++) {
        uint64_t pair[2] = {th, t->pending[i]};
        rp_sink_ident(s, rp_siphash(p->hkey, pair, sizeof pair));
    }
    t->n = 0;
    int shown = target->kind == RK_STR || target->kind == RK_NUM;
    rp_sink_patch_file(s, shown ? target->text : "", shown ? target->tlen : 0);
}

static const struct rp_node vuln_fields[] = {
    RP_FIELD("VulnerabilityID", 3, T_ID, RC_HASH),   RP_FIELD("PkgName", 3, T_PKG, RC_HASH),
    RP_FIELD("InstalledVersion", 3, T_VER, RC_HASH), RP_FIELD("PkgPath", 3, T_PATH, RC_HASH),
    RP_FIELD("FixedVersion", 3, T_FIXED, 0),         RP_FIELD("Title", 3, T_TITLE, 0),
    RP_FIELD("Severity", 3, T_SEV, RC_SEV),          RP_END,
};
static const struct rp_node cause_fields[] = {RP_FIELD("StartLine", 3, T_LINE, RC_INT), RP_END};
static const struct rp_node misconf_fields[] = {
    RP_FIELD("ID", 3, T_ID, 0),
    RP_FIELD("AVDID", 3, T_AVDID, 0),
    RP_FIELD("Title", 3, T_TITLE, 0),
    RP_FIELD("Severity", 3, T_SEV, RC_SEV),
    RP_FIELD("Status", 3, T_STATUS, 0),
    RP_SHOW("CauseMetadata", cause_fields),
    RP_END,
};
static const struct rp_node secret_fields[] = {
    RP_FIELD("RuleID", 3, T_ID, 0),
    RP_FIELD("Title", 3, T_TITLE, 0),
    RP_FIELD("Severity", 3, T_SEV, RC_SEV),
    RP_FIELD("StartLine", 3, T_LINE, RC_INT),
    RP_END,
};
static const struct rp_node vuln = RP_ITEM("Vulnerabilities", 3, vuln_fields, NULL, vuln_end);
static const struct rp_node misconf =
    RP_ITEM("Misconfigurations", 3, misconf_fields, NULL, misconf_end);
static const struct rp_node secret = RP_ITEM("Secrets", 3, secret_fields, NULL, secret_end);

/* Class and Type are read only to know a Result when one is seen (their bits). */
#define PRESENCE(k, slt, b)                                                                        \
    {                                                                                              \
        RP_KEY(k), RN_FIELD, 0, 0, 2, slt, 0, b, NULL, NULL, NULL, NULL, NULL                      \
    }
static const struct rp_node result_fields[] = {
    RP_FIELD("Target", 2, R_TARGET, RC_HASH),
    RP_LIST("Vulnerabilities", RM_DICTS, 1, 0, &vuln, NULL),
    RP_LIST("Misconfigurations", RM_DICTS, 2, 0, &misconf, NULL),
    RP_LIST("Secrets", RM_DICTS, 3, 0, &secret, NULL),
    RP_LIST("Licenses", RM_DICTS, 4, 0, NULL, licenses_end),
    PRESENCE("Class", R_CLASS, 5),
    PRESENCE("Type", R_TYPE, 6),
    /* the other arrays a Trivy Result holds (--list-all-pkgs, custom resources) */
    RP_SHOW("Packages", NULL),
    RP_SHOW("CustomResources", NULL),
    RP_END,
};
/* In a legacy list, a member holding an array that no Trivy Result has ("vulns") marks
 * another tool's document: its findings would be read as none. */
static const struct rp_node result = {RP_KEY("Results"),
                                      RN_OBJECT,
                                      RM_DICT,
                                      RF_ITEM | RF_KNOWN_ARRAYS,
                                      2,
                                      0,
                                      0,
                                      0,
                                      result_fields,
                                      NULL,
                                      result_begin,
                                      result_end,
                                      NULL};

/* trivy k8s: {Namespace, Kind, Name, Results[]} per resource. */
static const struct rp_node resource_fields[] = {RP_LIST("Results", RM_DICTS, 1, 0, &result, NULL),
                                                 RP_END};
static const struct rp_node resource = RP_ITEM("resource", 1, resource_fields, NULL, NULL);

const struct rp_node rp_trivy_top[] = {
    RP_LIST("Results", RM_DICTS, RP_DOC_RESULTS, RP_S_TRIVY, &result, NULL),
    RP_DOCFIELD("SchemaVersion", 0, RP_DOC_SCHEMAVERSION),
    RP_DOCFIELD("ClusterName", 1, RP_DOC_CLUSTERNAME),
    RP_LIST("Vulnerabilities", RM_DICTS, RP_DOC_K8S_VULNS, RP_S_TRIVY_K8S, &resource, NULL),
    RP_LIST("Misconfigurations", RM_DICTS, RP_DOC_K8S_MISCONF, RP_S_TRIVY_K8S, &resource, NULL),
    RP_LIST("Resources", RM_DICTS, RP_DOC_K8S_RESOURCES, RP_S_TRIVY_K8S, &resource, NULL),
    /* `trivy k8s --report summary`: the same resources under another key */
    RP_LIST("Findings", RM_DICTS, RP_DOC_K8S_FINDINGS, RP_S_TRIVY_K8S, &resource, NULL),
    RP_END,
};

/* The legacy report: the document itself is the list of Results. */
const struct rp_node rp_trivy_legacy[] = {
    RP_LIST("document", RM_ROOT, 0, RP_S_TRIVY_LEGACY, &result, NULL),
    RP_END,
};

json_t *rp_trivy_extra(struct rp_parser *p, struct rp_sink *s)
{
    static const struct {
        const char *name;
        int counter;
    } figures[] = {
        {"vulnerabilities", RP_N_VULNS},
        {"misconfigurations", RP_N_MISCONF},
        {"secrets", RP_N_SECRETS},
        {"licenses", RP_N_LICENSES},
        {"misconfig_not_fail", RP_N_NOTFAIL},
    };
    (void)p;
    json_t *o = json_object();
    for (size_t i = 0; i < TG_ARRAY_SIZE(figures); i++)
        if (s->n[figures[i].counter])
            json_object_set_new(o, figures[i].name,
                                json_integer((json_int_t)s->n[figures[i].counter]));
    json_object_set_new(o, "duplicates",
                        json_integer((json_int_t)(s->n[RP_N_IDENT] - s->idents.n)));
    return o;
}

void rp_trivy_dispose(struct rp_trivy *t)
{
    free(t->pending);
    memset(t, 0, sizeof *t);
}
