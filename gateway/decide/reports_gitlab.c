/* reports_gitlab.c -- GitLab security reports (SAST, container and dependency scanning,
 * secret detection; schema 2.x to 15.x): vulnerabilities[] with an optional severity.
 *
 * A missing severity counts as unknown and is also reported as "severity_missing".
 */
#include "decide/reports_impl.h"

enum { G_SEV, G_ID, G_NAME, G_MSG, G_DESC, G_IDENT, G_FILE, G_LINE, G_PKG, G_VER }; /* level 1 */

static void vuln_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)n;
    const struct rp_value *sev = rp_slot(p, 1, G_SEV), *line = rp_slot(p, 1, G_LINE);
    if (sev->kind == RK_ABSENT)
        s->n[RP_N_SEVMISSING]++;
    static const int8_t shown[RP_F_COUNT] = {G_IDENT, G_PKG, G_VER, -1, G_FILE, G_NAME};
    struct rp_find f = {.sev = rp_sev(sev)};
    rp_find_from(&f, p, 1, shown);
    rp_find_set(&f, RP_F_ID, rp_slot(p, 1, G_ID));
    rp_find_set(&f, RP_F_TITLE, rp_slot(p, 1, G_MSG));
    rp_find_set(&f, RP_F_TITLE, rp_slot(p, 1, G_DESC));
    f.line = line->kind == RK_NUM && line->has_int ? (long)line->ival : 0;
    rp_offer(p, s, &f);
}

static const struct rp_node ident_fields[] = {RP_FIELD("value", 1, G_IDENT, 0), RP_END};
static const struct rp_node ident = RP_SHOW("identifiers", ident_fields);
static const struct rp_node package_fields[] = {RP_FIELD("name", 1, G_PKG, 0), RP_END};
static const struct rp_node dependency_fields[] = {
    RP_SHOW("package", package_fields),
    RP_FIELD("version", 1, G_VER, 0),
    RP_END,
};
static const struct rp_node location_fields[] = {
    RP_FIELD("file", 1, G_FILE, 0),
    RP_FIELD("start_line", 1, G_LINE, RC_INT),
    RP_SHOW("dependency", dependency_fields),
    RP_END,
};
static const struct rp_node vuln_fields[] = {
    RP_FIELD("severity", 1, G_SEV, RC_SEV), RP_FIELD("id", 1, G_ID, 0),
    RP_FIELD("name", 1, G_NAME, 0),         RP_FIELD("message", 1, G_MSG, 0),
    RP_FIELD("description", 1, G_DESC, 0),  RP_SHOWLIST("identifiers", &ident),
    RP_SHOW("location", location_fields),   RP_END,
};
static const struct rp_node vuln = RP_ITEM("vulnerabilities", 1, vuln_fields, NULL, vuln_end);
static const struct rp_node scan_fields[] = {
    RP_RAWFIELD("type", RP_RAW_SCANTYPE, 0),
    RP_RAWFIELD("status", RP_RAW_SCANSTATUS, 1),
    RP_END,
};

const struct rp_node rp_gitlab_top[] = {
    RP_LIST("vulnerabilities", RM_DICTS, RP_DOC_GITLAB_VULNS, RP_S_GITLAB, &vuln, NULL),
    RP_OBJ("scan", RP_DOC_SCAN, RP_S_GITLAB, scan_fields, NULL),
    RP_END,
};

json_t *rp_gitlab_extra(struct rp_parser *p, struct rp_sink *s, char *err, size_t errlen)
{
    json_t *o = json_object();
    json_object_set_new(o, "severity_missing", json_integer((json_int_t)s->n[RP_N_SEVMISSING]));
    if (rp_raw_set(p, o, &(struct rp_raw_field){"schema_version", RP_RAW_VERSION}, err, errlen) <
            0 ||
        rp_raw_set(p, o, &(struct rp_raw_field){"scan_type", RP_RAW_SCANTYPE}, err, errlen) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
