/* template.h -- templates/NAME.yaml: how a decision becomes the chart repository's trigger.
 *
 * A template says which upstream projects it serves (match.project glob), which project and
 * ref to trigger, with which trigger token (env:/file: only) and which variables. Values may
 * hold {{name}} placeholders from the event (see tg_event_var_known) and the decision
 * (decision.environment, decision.verdict, decision.rule, decision.policy_hash); an unknown
 * placeholder is a load error with file:line, never a surprise at deploy time.
 */
#ifndef TG_TEMPLATE_H
#define TG_TEMPLATE_H

#include "base/config.h"
#include "base/yamlfile.h"
#include "base/diag.h"
#include "decide/gitlab.h"
#include "decide/policy.h"

#include <stddef.h>

struct tg_template_set;
struct tg_template;

/* Loads every *.yaml in dir (sorted by name); a relative file: token path resolves against
 * the template file's directory. A file whose top-level kind is not "trigger" (the default)
 * is skipped: chat-message templates live beside (kind: chat; another kind is a warning).
 * NULL with faults in diag. A directory with no trigger template is an error. */
struct tg_template_set *tg_template_load_dir(const char *dir, struct tg_diag *diag);
/* One document from memory (name is used in messages; file: paths resolve against the
 * working directory); for tests and fuzzing. A skipped kind gives an empty set. */
struct tg_template_set *tg_template_load_mem(const char *name, const char *data, size_t len,
                                             struct tg_diag *diag);
void tg_template_set_free(struct tg_template_set *ts);

/* The first template (file order) whose match.project fits project_path, or NULL. Borrowed. */
const struct tg_template *tg_template_match(const struct tg_template_set *ts,
                                            const char *project_path);
/* The template called name, when it still serves project_path (a decision recorded which
 * template rendered its request: a retry takes that one's token, never a re-match). NULL when
 * it is gone or no longer serves the project. Borrowed. */
const struct tg_template *tg_template_find(const struct tg_template_set *ts, const char *name,
                                           const char *project_path);
const char *tg_template_name(const struct tg_template *t);
/* The template's trigger token (borrowed; valid while its set is), for retries that re-send
 * a request rendered earlier. */
const struct tg_secret *tg_template_token(const struct tg_template *t);
/* Calls fn for every template's trigger token (so the audit writer can keep them out of
 * records). ts may be NULL. */
void tg_template_set_each_token(const struct tg_template_set *ts,
                                void (*fn)(void *arg, const struct tg_secret *s), void *arg);

/* A rendered trigger: every string owned by the request; token is borrowed from the
 * template (valid while its set is). */
struct tg_trigger_request {
    char *template_name;
    char *project; /* id or path of the chart repository */
    char *ref;
    const struct tg_secret *token;
    char **var_names; /* nvars each */
    char **var_values;
    size_t nvars;
};

/* What a template is rendered from: the event and the decision on it. */
struct tg_template_input {
    const struct tg_event *ev;
    const struct tg_decision *d;
};
/* Renders t for this event and decision. Returns 0, or -1 with err. */
int tg_template_render(const struct tg_template *t, const struct tg_template_input *in,
                       struct tg_trigger_request *out, char *err, size_t errlen);
void tg_trigger_request_dispose(struct tg_trigger_request *r);

/* Placeholders another module adds to the template vocabulary (e.g. report.job for the
 * DefectDojo names): names[i] renders as values[i] (values may be NULL when only checking). */
struct tg_template_extra {
    const char *const *names;
    const char *const *values;
    size_t n;
};
/* The scalar n as a template value: its placeholders checked against the event, decision and
 * extra vocabularies, each fault a tg_yaml_error at n's file:line. A heap copy, or NULL. */
char *tg_template_check_value(struct tg_yaml *y, yaml_node_t *n, const char *what,
                              const struct tg_template_extra *extra);
/* Renders a value checked by tg_template_check_value; d may not be NULL. Caller frees. */
char *tg_template_render_value(const char *text, const struct tg_event *ev,
                               const struct tg_decision *d, const struct tg_template_extra *extra);

#endif
