/* reports_horusec.c -- Horusec JSON: analysisVulnerabilities[].vulnerabilities.
 *
 * Every entry counts whatever its type (Vulnerability, Risk Accepted, False Positive,
 * Corrected); the split by type, the status and the version are the extra figures.
 */
#include "decide/reports_impl.h"

enum { H_ID, H_SEV, H_TYPE, H_RULE, H_FILE, H_LINE, H_DETAILS, H_HASH }; /* level 1 */

static void entry_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)n;
    const char *why;
    if (rp_keycount_add(&s->keys, rp_slot(p, 1, H_TYPE), &why) < 0) {
        rp_sink_fail(p, s, "%s.vulnerabilities.type %s", rp_path(p, NULL, 1), why);
        return;
    }
    const struct rp_value *line = rp_slot(p, 1, H_LINE);
    static const int8_t shown[RP_F_COUNT] = {H_RULE, -1, -1, -1, H_FILE, H_DETAILS};
    struct rp_find f = {.sev = rp_sev(rp_slot(p, 1, H_SEV))};
    rp_find_from(&f, p, 1, shown);
    rp_find_set(&f, RP_F_ID, rp_slot(p, 1, H_HASH));
    f.line = line->has_int ? (long)line->ival : 0;
    rp_offer(p, s, &f);
}

static const struct rp_node vuln_fields[] = {
    RP_FIELD("severity", 1, H_SEV, RC_SEV), RP_FIELD("type", 1, H_TYPE, 0),
    RP_FIELD("rule_id", 1, H_RULE, 0),      RP_FIELD("file", 1, H_FILE, 0),
    RP_FIELD("line", 1, H_LINE, RC_INT),    RP_FIELD("details", 1, H_DETAILS, 0),
    RP_FIELD("vulnHash", 1, H_HASH, 0),     RP_END,
};
static const struct rp_node entry_fields[] = {
    RP_OBJ("vulnerabilities", 1, 0, vuln_fields, NULL),
    RP_FIELD("vulnerabilityID", 1, H_ID, 0),
    RP_END,
};
static const struct rp_node entry =
    RP_ITEM("analysisVulnerabilities", 1, entry_fields, NULL, entry_end);

const struct rp_node rp_horusec_top[] = {
    RP_LIST("analysisVulnerabilities", RM_DICTS, RP_DOC_HORUSEC, RP_S_HORUSEC, &entry, NULL),
    RP_END,
};

json_t *rp_horusec_extra(struct rp_parser *p, struct rp_sink *s, char *err, size_t errlen)
{
    json_t *o = json_object();
    json_object_set_new(o, "types", rp_keycount_json(&s->keys));
    if (rp_raw_set(p, o, &(struct rp_raw_field){"status", RP_RAW_STATUS}, err, errlen) < 0 ||
        rp_raw_set(p, o, &(struct rp_raw_field){"version", RP_RAW_VERSION}, err, errlen) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
