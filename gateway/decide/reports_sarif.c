/* reports_sarif.c -- SARIF 2.1.0: runs[].results[], levels resolved through the rules.
 *
 * Only results of kind "fail" (the default) are findings; the other kinds SARIF defines
 * are counted apart as not failing, and a kind it does not define makes the report
 * malformed. A result's rule -- by rule.index / ruleIndex in the rules of the tool component
 * that rule.toolComponent.index names (the driver when none), then by id in the driver's
 * and the extensions' rules -- gives its default level and its security-severity. Rules
 * normally come before results; when they do not, results of that run are held (bounded by
 * their number, their texts capped) and resolved when the run ends. A result is suppressed
 * when it has suppressions and none of them is under review or rejected.
 */
#include "decide/reports_impl.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

enum { RL_ID, RL_DC, RL_LEVEL, RL_PROPS, RL_SCORE }; /* a rule */
enum {
    RS_RULEID,
    RS_INDEX,
    RS_RULE,
    RS_RULEREF,
    RS_LEVEL,
    RS_KIND,
    RS_MSG,
    RS_URI,
    RS_LINE, /* a result */
    RS_REFINDEX,
    RS_TCINDEX
};
enum { SP_STATUS };  /* level 3: a suppression */
enum { IV_SUCCESS }; /* level 3: an invocation */

static void run_begin(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)s;
    (void)n;
    struct rp_sarif *r = &p->sarif;
    r->nrules = r->ndriver = r->nheld = r->nexts = r->ext_n = 0;
    r->tool_done = 0;
    rp_hmap_clear(&r->by_id);
    tg_buf_reset(&r->arena);
}

/* ---- rules ---- */

static void props_str(struct rp_parser *p, struct rp_sink *s, const char *str, size_t n)
{
    (void)s;
    /* "security-severity" in a_string is a substring test; indexing it then raises */
    rp_slot(p, 2, RL_PROPS)->score = memmem(str, n, "security-severity", 17) != NULL;
}

static const char *const level_words[] = {"none", "note", "warning", "error", NULL};

/* A level (RP_LEVEL_*): absent and null mean none given; a value SARIF does not define
 * fails the sink, naming path (-1). */
static int level_of(struct rp_parser *p, struct rp_sink *s, const struct rp_value *v,
                    const char *path)
{
    char buf[48];
    if (v->kind == RK_ABSENT || v->kind == RK_NULL)
        return RP_LEVEL_ABSENT;
    int w = rp_word_of(v, level_words);
    if (w >= 0)
        return RP_LEVEL_NONE + w;
    rp_sink_fail(p, s, "%s is %s, not a SARIF level (error, warning, note, none)", path,
                 rp_shown(v, buf, sizeof buf));
    return -1;
}

static int rule_fill(struct rp_parser *p, struct rp_sink *s, struct rp_rule *r)
{
    const struct rp_value *id = rp_slot(p, 2, RL_ID), *dc = rp_slot(p, 2, RL_DC);
    const struct rp_value *props = rp_slot(p, 2, RL_PROPS), *score = rp_slot(p, 2, RL_SCORE);
    char where[sizeof r->path + 32];
    memset(r, 0, sizeof *r);
    snprintf(r->path, sizeof r->path, "%s", rp_path(p, NULL, 1));
    snprintf(where, sizeof where, "%s.defaultConfiguration.level", r->path);
    int level = level_of(p, s, rp_slot(p, 2, RL_LEVEL), where);
    if (level < 0)
        return -1;
    r->level = (uint8_t)level;
    r->idlen = id->kind == RK_STR || id->kind == RK_NUM ? id->tlen : 0;
    memcpy(r->id, id->text, r->idlen);
    r->dc_bad = dc->kind != RK_ABSENT && dc->kind != RK_OBJ && dc->truthy;
    if (props->kind == RK_OBJ)
        r->score = score->kind == RK_ABSENT ? RP_SCORE_NONE : score->score;
    else if (props->kind == RK_STR)
        r->props_bad = props->score;
    else
        r->props_bad = props->kind == RK_TRUE || (props->kind == RK_NUM && props->truthy);
    return 0;
}

/* The key of an id among one extension's rules (k: its index in tool.extensions). */
static uint64_t component_key(struct rp_parser *p, uint64_t id_hash, uint64_t k)
{
    uint64_t pair[2] = {id_hash, k + 1};
    return rp_siphash(p->hkey, pair, sizeof pair);
}

static void rule_add(struct rp_parser *p, struct rp_sink *s, int driver)
{
    struct rp_sarif *r = &p->sarif;
    const struct rp_value *id = rp_slot(p, 2, RL_ID);
    if (rp_unhashable(id)) {
        rp_sink_fail(p, s, "%s.id is %s, not a string", rp_path(p, NULL, 1),
                     rp_kind_name(id->kind));
        return;
    }
    if (r->nrules == r->caprules) {
        r->caprules = r->caprules ? r->caprules * 2 : 32;
        r->rules = tg_xrealloc(r->rules, r->caprules * sizeof *r->rules);
    }
    if (rule_fill(p, s, &r->rules[r->nrules]) < 0)
        return;
    uint32_t ix = (uint32_t)r->nrules++;
    if (!driver && r->ext_n++ == 0) /* an extension's rules are contiguous in rules[] */
        r->ext_first = ix;
    if (driver) {
        if (r->ndriver == r->capdriver) {
            r->capdriver = r->capdriver ? r->capdriver * 2 : 32;
            r->driver = tg_xrealloc(r->driver, r->capdriver * sizeof *r->driver);
        }
        r->driver[r->ndriver++] = ix;
    }
    if (id->kind == RK_ABSENT || id->kind == RK_NULL)
        return;
    /* driver rules: the last of an id wins (a dict); extensions: setdefault */
    rp_hmap_put(&r->by_id, rp_hash_of(p, id), ix, driver);
    /* and among the extension's own rules, which a result naming it looks at first */
    if (!driver)
        rp_hmap_put(&r->by_id, component_key(p, rp_hash_of(p, id), r->nexts), ix, 0);
}

static void driver_rule_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)n;
    rule_add(p, s, 1);
}

static void extension_rule_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)n;
    rule_add(p, s, 0);
}

/* tool.extensions[k] ends: it owns the rules added since the previous one ended. */
static void extension_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)s;
    (void)n;
    struct rp_sarif *r = &p->sarif;
    if (r->nexts == r->capexts) {
        r->capexts = r->capexts ? r->capexts * 2 : 8;
        r->ext = tg_xrealloc(r->ext, r->capexts * sizeof *r->ext);
    }
    r->ext[r->nexts].first = r->ext_n ? r->ext_first : 0;
    r->ext[r->nexts++].n = r->ext_n;
    r->ext_n = 0;
}

static void tool_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)s;
    (void)n;
    p->sarif.tool_done = 1;
}

/* ---- results ---- */

static int is_none(uint8_t kind)
{
    return kind == RK_ABSENT || kind == RK_NULL;
}

/* A rule by id: in the named extension's rules first, then the driver's and the others. */
static int rule_by_id(struct rp_parser *p, const struct rp_sres *r, uint64_t h, uint32_t *ix)
{
    struct rp_sarif *sa = &p->sarif;
    if (r->tc_ok && r->tc >= 0 && (uint64_t)r->tc < sa->nexts &&
        rp_hmap_get(&sa->by_id, component_key(p, h, (uint64_t)r->tc), ix))
        return 1;
    return rp_hmap_get(&sa->by_id, h, ix);
}

/* By index in the named component's rules (an unknown component has none), then by id;
 * a hierarchical id ("x/sub", SARIF 2.1.0 3.27.5) names the rule of its longest leading
 * components ("x") when no rule has the whole id. */
static const struct rp_rule *find_rule(struct rp_parser *p, const struct rp_sres *r)
{
    struct rp_sarif *sa = &p->sarif;
    uint32_t ix;
    if (r->idx_ok && r->idx >= 0 && !r->tc_ok && (uint64_t)r->idx < sa->ndriver)
        return &sa->rules[sa->driver[r->idx]];
    if (r->idx_ok && r->idx >= 0 && r->tc_ok && r->tc >= 0 && (uint64_t)r->tc < sa->nexts &&
        (uint64_t)r->idx < sa->ext[r->tc].n)
        return &sa->rules[sa->ext[r->tc].first + (size_t)r->idx];
    if (is_none(r->rid_kind))
        return NULL;
    if (rule_by_id(p, r, r->rid_hash, &ix))
        return &sa->rules[ix];
    const char *id = r->s[RP_SR_ID];
    for (size_t n = r->rid_kind == RK_STR ? r->n[RP_SR_ID] : 0; n > 1; n--)
        if (id[n - 1] == '/' && rule_by_id(p, r, rp_hash_text(p, id, n - 1), &ix))
            return &sa->rules[ix];
    return NULL;
}

/* The bucket: the rule's security-severity when it has one, else the level's. */
static int bucket(struct rp_parser *p, struct rp_sink *s, const struct rp_rule *rule, int level)
{
    static const uint8_t buckets[] = {TG_SEV_INFO, TG_SEV_LOW, TG_SEV_MEDIUM, TG_SEV_HIGH};
    if (rule && rule->props_bad) {
        rp_sink_fail(p, s, "%s.properties is not an object", rule->path);
        return -1;
    }
    if (rule && rule->score != RP_SCORE_NONE) {
        s->n[RP_N_SCORED]++;
        return rule->score - 1;
    }
    return buckets[level - RP_LEVEL_NONE];
}

/* The levels as keys of the "levels" figure. */
static const struct rp_value level_keys[] = {
    {.kind = RK_STR, .len = 4, .tlen = 4, .text = "none"},
    {.kind = RK_STR, .len = 4, .tlen = 4, .text = "note"},
    {.kind = RK_STR, .len = 7, .tlen = 7, .text = "warning"},
    {.kind = RK_STR, .len = 5, .tlen = 5, .text = "error"},
};

static void resolve(struct rp_parser *p, struct rp_sink *s, const struct rp_sres *r)
{
    const struct rp_rule *rule = find_rule(p, r);
    int level = r->level;
    const char *why;
    if (s->dead)
        return;
    if (level == RP_LEVEL_ABSENT && rule && rule->dc_bad) {
        rp_sink_fail(p, s, "%s.defaultConfiguration is not an object", rule->path);
        return;
    }
    level = level == RP_LEVEL_ABSENT && rule ? rule->level : level;
    level = level == RP_LEVEL_ABSENT ? RP_LEVEL_WARNING : level;
    if (r->suppressed) {
        s->n[RP_N_SUPPRESSED]++;
        return;
    }
    if (rp_keycount_add(&s->keys, &level_keys[level - RP_LEVEL_NONE], &why) < 0) {
        rp_sink_fail(p, s, "levels: %s", why);
        return;
    }
    int b = bucket(p, s, rule, level);
    if (b < 0)
        return;
    struct rp_find f = {.sev = (uint8_t)b, .line = r->line};
    f.s[RP_F_ID] = r->n[RP_SR_ID] || rule == NULL ? r->s[RP_SR_ID] : rule->id;
    f.n[RP_F_ID] = r->n[RP_SR_ID] || rule == NULL ? r->n[RP_SR_ID] : rule->idlen;
    f.s[RP_F_TITLE] = r->s[RP_SR_TITLE];
    f.n[RP_F_TITLE] = r->n[RP_SR_TITLE];
    f.s[RP_F_FILE] = r->s[RP_SR_FILE];
    f.n[RP_F_FILE] = r->n[RP_SR_FILE];
    rp_offer(p, s, &f);
}

static void text_of(struct rp_sres *r, int which, const struct rp_value *v)
{
    int shown = v->kind == RK_STR || v->kind == RK_NUM;
    r->s[which] = shown ? v->text : "";
    r->n[which] = shown ? v->tlen : 0;
}

/* An integer index (JSON true and false are 1 and 0); one beyond 64 bits is out of range. */
static int index_of(const struct rp_value *v, int64_t *out)
{
    *out = v->has_int ? v->ival : -1;
    return v->kind == RK_TRUE || v->kind == RK_FALSE || (v->kind == RK_NUM && v->isint);
}

/* The rule reference: "rule" when it is an object (rule.index before ruleIndex, ruleId
 * before rule.id when truthy), the bare ruleId / ruleIndex otherwise. -1 after failing the
 * sink on a level SARIF does not define or a rule id that is a list or an object. */
static int read_result(struct rp_parser *p, struct rp_sink *s, struct rp_sres *r)
{
    static const struct rp_value none = {.kind = RK_ABSENT};
    const struct rp_value *rid = rp_slot(p, 2, RS_RULEID), *rule = rp_slot(p, 2, RS_RULE);
    const struct rp_value *idx = rp_slot(p, 2, RS_INDEX), *line = rp_slot(p, 2, RS_LINE);
    char where[300];
    int ref = rule->kind == RK_OBJ;
    const char *rid_name = rid->truthy ? "ruleId" : "rule.id";
    rid = rid->truthy ? rid : ref ? rp_slot(p, 2, RS_RULEREF) : &none;
    snprintf(where, sizeof where, "%s.level", rp_path(p, NULL, 1));
    int level = level_of(p, s, rp_slot(p, 2, RS_LEVEL), where);
    if (level < 0)
        return -1;
    if (rp_unhashable(rid)) {
        rp_sink_fail(p, s, "%s.%s is %s, not a string", rp_path(p, NULL, 1), rid_name,
                     rp_kind_name(rid->kind));
        return -1;
    }
    if (ref && rp_slot(p, 2, RS_REFINDEX)->kind != RK_ABSENT)
        idx = rp_slot(p, 2, RS_REFINDEX);
    memset(r, 0, sizeof *r);
    r->level = (uint8_t)level;
    r->idx_ok = (uint8_t)index_of(idx, &r->idx);
    r->tc_ok = ref && index_of(rp_slot(p, 2, RS_TCINDEX), &r->tc);
    r->rid_kind = rid->kind;
    r->rid_hash = rp_hash_of(p, rid);
    r->suppressed = p->sarif.supp_n > 0 && p->sarif.supp_open == 0;
    r->line = line->kind == RK_NUM && line->has_int ? (long)line->ival : 0;
    text_of(r, RP_SR_ID, rid);
    text_of(r, RP_SR_TITLE, rp_slot(p, 2, RS_MSG));
    text_of(r, RP_SR_FILE, rp_slot(p, 2, RS_URI));
    return 0;
}

static void hold(struct rp_sarif *sa, const struct rp_sres *r)
{
    if (sa->nheld == sa->capheld) {
        sa->capheld = sa->capheld ? sa->capheld * 2 : 64;
        sa->held = tg_xrealloc(sa->held, sa->capheld * sizeof *sa->held);
    }
    struct rp_sheld *h = &sa->held[sa->nheld++];
    *h = (struct rp_sheld){.idx = r->idx,
                           .tc = r->tc,
                           .rid_hash = r->rid_hash,
                           .off = sa->arena.len,
                           .line = r->line,
                           .idx_ok = r->idx_ok,
                           .tc_ok = r->tc_ok,
                           .rid_kind = r->rid_kind,
                           .level = r->level,
                           .suppressed = r->suppressed};
    for (int i = 0; i < RP_SR_COUNT; i++) {
        h->n[i] = r->n[i];
        tg_buf_append(&sa->arena, r->s[i], r->n[i]);
    }
}

static void unhold(const struct rp_sarif *sa, const struct rp_sheld *h, struct rp_sres *r)
{
    *r = (struct rp_sres){.idx_ok = h->idx_ok,
                          .tc_ok = h->tc_ok,
                          .rid_kind = h->rid_kind,
                          .suppressed = h->suppressed,
                          .level = h->level,
                          .idx = h->idx,
                          .tc = h->tc,
                          .rid_hash = h->rid_hash,
                          .line = h->line};
    const char *at = sa->arena.data + h->off;
    for (int i = 0; i < RP_SR_COUNT; i++) {
        r->s[i] = at;
        r->n[i] = h->n[i];
        at += h->n[i];
    }
}

static void result_begin(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)s;
    (void)n;
    p->sarif.supp_n = p->sarif.supp_open = 0;
}

/* An absent status means accepted; underReview and rejected leave the result counted. */
static void suppression_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    static const char *const statuses[] = {"accepted", "underReview", "rejected", NULL};
    const struct rp_value *st = rp_slot(p, 3, SP_STATUS);
    char buf[48];
    (void)n;
    int w = st->kind == RK_ABSENT ? 0 : rp_word_of(st, statuses);
    if (w < 0) {
        rp_sink_fail(
            p, s,
            "%s.status is %s, not a SARIF suppression status (accepted, underReview, rejected)",
            rp_path(p, NULL, 1), rp_shown(st, buf, sizeof buf));
        return;
    }
    p->sarif.supp_n++;
    p->sarif.supp_open += w > 0;
}

/* 0: a failing result (a finding); 1: another kind SARIF defines; -1: malformed. */
static int result_kind(struct rp_parser *p, struct rp_sink *s)
{
    static const char *const kinds[] = {"fail",          "pass",   "open", "informational",
                                        "notApplicable", "review", NULL};
    const struct rp_value *kind = rp_slot(p, 2, RS_KIND);
    char buf[48];
    int k = kind->kind == RK_ABSENT ? 0 : rp_word_of(kind, kinds);
    if (k < 0)
        rp_sink_fail(p, s,
                     "%s.kind is %s, not a SARIF result kind (fail, pass, open, informational, "
                     "notApplicable, review)",
                     rp_path(p, NULL, 1), rp_shown(kind, buf, sizeof buf));
    return k > 0 ? 1 : k;
}

static void result_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)n;
    struct rp_sres r;
    int k = result_kind(p, s);
    if (k > 0 && read_result(p, s, &r) < 0) /* its values are checked all the same */
        return;
    if (k != 0) {
        s->n[RP_N_NOTFAILING] += k > 0;
        return;
    }
    if (read_result(p, s, &r) < 0)
        return;
    if (p->sarif.tool_done)
        resolve(p, s, &r);
    else
        hold(&p->sarif, &r);
}

static void run_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)n;
    struct rp_sarif *sa = &p->sarif;
    struct rp_sres r;
    for (size_t i = 0; i < sa->nheld && !s->dead; i++) {
        unhold(sa, &sa->held[i], &r);
        resolve(p, s, &r);
    }
    sa->nheld = 0;
}

/* executionSuccessful false: the tool says this run failed, so its results may be partial. */
static void invocation_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)n;
    if (rp_slot(p, 3, IV_SUCCESS)->kind != RK_FALSE)
        return;
    if (s->n[RP_N_FAILEDRUNS]++ == 0)
        snprintf(p->sarif.failed_at, sizeof p->sarif.failed_at, "%s", rp_path(p, NULL, 1));
}

static void runs_end(struct rp_parser *p, struct rp_sink *s, uint64_t n)
{
    (void)p;
    s->n[RP_N_RUNS] = n;
}

/* A lazy object: read only for some results, so its shape is judged then. */
#define LAZY(k, slt, b, kids, hook)                                                                \
    {                                                                                              \
        RP_KEY(k), RN_OBJECT, RM_LAZY, RF_NODUP, 2, slt, 0, b, kids, NULL, NULL, NULL, hook        \
    }

static const struct rp_node dc_fields[] = {RP_FIELD("level", 2, RL_LEVEL, 0), RP_END};
static const struct rp_node props_fields[] = {RP_FIELD("security-severity", 2, RL_SCORE, RC_SCORE),
                                              RP_END};
static const struct rp_node rule_fields[] = {
    RP_FIELD("id", 2, RL_ID, RC_HASH),
    LAZY("defaultConfiguration", RL_DC, 1, dc_fields, NULL),
    LAZY("properties", RL_PROPS, 2, props_fields, props_str),
    RP_END,
};
static const struct rp_node driver_rule = RP_ITEM("rules", 2, rule_fields, NULL, driver_rule_end);
static const struct rp_node extension_rule =
    RP_ITEM("rules", 2, rule_fields, NULL, extension_rule_end);
static const struct rp_node driver_fields[] = {RP_LIST("rules", RM_DICTS, 1, 0, &driver_rule, NULL),
                                               RP_END};
static const struct rp_node extension_fields[] = {
    RP_LIST("rules", RM_DICTS, 1, 0, &extension_rule, NULL), RP_END};
static const struct rp_node extension = RP_OBJ("extensions", 0, 0, extension_fields, extension_end);
static const struct rp_node tool_fields[] = {
    RP_OBJ("driver", 1, 0, driver_fields, NULL),
    RP_LIST("extensions", RM_DICTS, 2, 0, &extension, NULL),
    RP_END,
};

static const struct rp_node tool_component_fields[] = {RP_FIELD("index", 2, RS_TCINDEX, 0), RP_END};
/* toolComponent: read when it is an object, ignored otherwise (the driver is meant) */
static const struct rp_node ruleref_fields[] = {
    RP_FIELD("id", 2, RS_RULEREF, RC_HASH),
    RP_FIELD("index", 2, RS_REFINDEX, 0),
    {RP_KEY("toolComponent"), RN_OBJECT, RM_SHOW, RF_NODUP, 0, 0, 0, 1, tool_component_fields, NULL,
     NULL, NULL, NULL},
    RP_END,
};
static const struct rp_node suppression_fields[] = {RP_FIELD("status", 3, SP_STATUS, 0), RP_END};
static const struct rp_node suppression =
    RP_ITEM("suppressions", 3, suppression_fields, NULL, suppression_end);
static const struct rp_node message_fields[] = {RP_FIELD("text", 2, RS_MSG, 0), RP_END};
static const struct rp_node artifact_fields[] = {RP_FIELD("uri", 2, RS_URI, 0), RP_END};
static const struct rp_node region_fields[] = {RP_FIELD("startLine", 2, RS_LINE, RC_INT), RP_END};
static const struct rp_node physical_fields[] = {
    RP_SHOW("artifactLocation", artifact_fields),
    RP_SHOW("region", region_fields),
    RP_END,
};
static const struct rp_node location_fields[] = {RP_SHOW("physicalLocation", physical_fields),
                                                 RP_END};
static const struct rp_node location = RP_SHOW("locations", location_fields);
static const struct rp_node result_fields[] = {
    RP_FIELD("ruleId", 2, RS_RULEID, RC_HASH),
    RP_FIELD("ruleIndex", 2, RS_INDEX, RC_INT),
    LAZY("rule", RS_RULE, 1, ruleref_fields, NULL),
    RP_FIELD("level", 2, RS_LEVEL, 0),
    RP_FIELD("kind", 2, RS_KIND, 0),
    RP_LIST("suppressions", RM_DICTS, 2, 0, &suppression, NULL),
    RP_SHOW("message", message_fields),
    RP_SHOWLIST("locations", &location),
    RP_END,
};
static const struct rp_node result = RP_ITEM("results", 2, result_fields, result_begin, result_end);

static const struct rp_node invocation_fields[] = {
    RP_FIELD("executionSuccessful", 3, IV_SUCCESS, 0), RP_END};
static const struct rp_node invocation =
    RP_ITEM("invocations", 3, invocation_fields, NULL, invocation_end);
static const struct rp_node run_fields[] = {
    RP_OBJ("tool", 1, 0, tool_fields, tool_end),
    RP_LIST("results", RM_DICTS, 2, 0, &result, NULL),
    RP_LIST("invocations", RM_DICTS, 3, 0, &invocation, NULL),
    RP_END,
};
static const struct rp_node run = RP_ITEM("runs", 1, run_fields, run_begin, run_end);

const struct rp_node rp_sarif_top[] = {
    RP_LIST("runs", RM_DICTS, RP_DOC_RUNS, RP_S_SARIF, &run, runs_end),
    RP_DOCFIELD("$schema", 2, RP_DOC_SCHEMA),
    RP_END,
};

json_t *rp_sarif_extra(struct rp_parser *p, struct rp_sink *s)
{
    (void)p;
    json_t *o = json_object();
    json_object_set_new(o, "levels", rp_keycount_json(&s->keys));
    json_object_set_new(o, "suppressed", json_integer((json_int_t)s->n[RP_N_SUPPRESSED]));
    json_object_set_new(o, "not_failing", json_integer((json_int_t)s->n[RP_N_NOTFAILING]));
    json_object_set_new(o, "with_security_severity", json_integer((json_int_t)s->n[RP_N_SCORED]));
    json_object_set_new(o, "runs", json_integer((json_int_t)s->n[RP_N_RUNS]));
    return o;
}

void rp_sarif_dispose(struct rp_sarif *s)
{
    free(s->rules);
    free(s->driver);
    free(s->ext);
    free(s->held);
    rp_hmap_dispose(&s->by_id);
    tg_buf_dispose(&s->arena);
    memset(s, 0, sizeof *s);
}
