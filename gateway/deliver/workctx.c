/* workctx.c -- audit records and commit statuses for a worker's current deployment target. */
#include "deliver/workctx.h"
#include "deliver/deploy.h"
#include "base/log.h"
#include "base/util.h"
#include "base/httpclient.h"

#include <stdio.h>
#include <stdlib.h>

#define TG_MODULE "worker"

void tg_work_target_load(const struct tg_deployment *d, struct tg_target *t)
{
    *t = (struct tg_target){.project_id = d->project_id,
                            .project = d->project,
                            .ref = d->ref,
                            .sha = d->sha,
                            .pipeline = d->pipeline,
                            .environment = d->environment,
                            .user = d->user,
                            .user_id = d->user_id};
}

void tg_work_record_target(struct tg_audit_record *r, const struct tg_target *t)
{
    r->project = t->project;
    r->ref = t->ref;
    r->sha = t->sha;
    r->pipeline = t->pipeline;
    r->environment = t->environment;
}

int tg_work_audit(struct tg_work *w, const struct tg_audit_record *r)
{
    char err[256];
    if (tg_audit_append(w->audit, w->rc, r, err, sizeof err) == 0)
        return 0;
    TG_LOG(TG_LOG_ERROR, "audit_failed", "%s (action %s)", err, r->action);
    return tg_audit_fail_closed(w->audit) ? -1 : 0;
}

static char *audit_link(const struct tg_work *w, const struct tg_target *t)
{
    if (w->cfg->public_url == NULL)
        return NULL;
    char *project = tg_httpc_escape(t->project ? t->project : "");
    char *url = tg_xasprintf("%s/api/v1/audit?project=%s&pipeline=%lld", w->cfg->public_url,
                             project, t->pipeline);
    free(project);
    return url;
}

void tg_work_status(struct tg_work *w, const struct tg_target *t, const char *state,
                    const char *description)
{
    char name[160];
    struct tg_gitlab_result res;
    if (t->environment == NULL || t->sha == NULL || *t->sha == '\0')
        return; /* no environment: nothing was gated, so nothing to report on the commit */
    snprintf(name, sizeof name, "tollgate/%s", t->environment);
    char *link = t->status_link ? tg_xstrdup(t->status_link) : audit_link(w, t);
    struct tg_commit_status st = {
        .project_id = t->project_id,
        .sha = t->sha,
        .ref = t->ref,
        .pipeline_id = t->pipeline,
        .state = state,
        .name = name,
        .description = description,
        .target_url = link,
    };
    if (tg_gitlab_commit_status(w->api, &st, &res) != 0)
        TG_LOG(TG_LOG_WARN, "status_failed", "%s on %s@%.12s: %s", name,
               t->project ? t->project : "?", t->sha, res.error[0] ? res.error : "no answer");
    free(link);
}
