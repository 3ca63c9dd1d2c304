/* reports_grype.c -- Grype JSON: matches[]{vulnerability, artifact}.
 *
 * Negligible counts as info. A match whose (id, package name, version) was seen before in
 * the file is still counted, and reported as a duplicate.
 */
#include "decide/reports_impl.h"
#include "base/util.h"

enum { M_ID, M_SEV, M_DESC, M_FIX, M_NAME, M_VER, M_PATH }; /* level 1 */

static void match_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)n;
    static const struct rp_ident_field ident[] = {
        {M_ID, "vulnerability.id"}, {M_NAME, "artifact.name"}, {M_VER, "artifact.version"}};
    uint64_t key;
    if (rp_ident_hash(p, s, &(struct rp_ident){1, ident, TG_ARRAY_SIZE(ident)}, &key) < 0)
        return;
    rp_sink_ident(s, key);
    static const int8_t shown[RP_F_COUNT] = {M_ID, M_NAME, M_VER, M_FIX, M_PATH, M_DESC};
    struct rp_find f = {.sev = rp_sev(rp_slot(p, 1, M_SEV))};
    rp_find_from(&f, p, 1, shown);
    rp_offer(p, s, &f);
}

static const struct rp_node fixed_version = RP_FIELD("versions", 1, M_FIX, 0);
static const struct rp_node fix_fields[] = {RP_SHOWLIST("versions", &fixed_version), RP_END};
static const struct rp_node vuln_fields[] = {
    RP_FIELD("id", 1, M_ID, RC_HASH),
    RP_FIELD("severity", 1, M_SEV, RC_SEV),
    RP_FIELD("description", 1, M_DESC, 0),
    RP_SHOW("fix", fix_fields),
    RP_END,
};
static const struct rp_node location_fields[] = {RP_FIELD("path", 1, M_PATH, 0), RP_END};
static const struct rp_node location = RP_SHOW("locations", location_fields);
static const struct rp_node artifact_fields[] = {
    RP_FIELD("name", 1, M_NAME, RC_HASH),
    RP_FIELD("version", 1, M_VER, RC_HASH),
    RP_SHOWLIST("locations", &location),
    RP_END,
};
static const struct rp_node match_fields[] = {
    RP_OBJ("vulnerability", 1, 0, vuln_fields, NULL),
    RP_OBJ("artifact", 2, 0, artifact_fields, NULL),
    RP_END,
};
static const struct rp_node match = RP_ITEM("matches", 1, match_fields, NULL, match_end);

const struct rp_node rp_grype_top[] = {
    RP_LIST("matches", RM_DICTS, RP_DOC_MATCHES, RP_S_GRYPE, &match, NULL),
    RP_END,
};

json_t *rp_grype_extra(struct rp_parser *p, struct rp_sink *s)
{
    (void)p;
    json_t *o = json_object();
    json_object_set_new(o, "duplicates",
                        json_integer((json_int_t)(s->n[RP_N_IDENT] - s->idents.n)));
    return o;
}
