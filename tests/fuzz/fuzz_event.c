/* fuzz_event.c -- tg_event_parse on any body, under each X-Gitlab-Event header (picked by the
 * input's length): never a crash, and a parsed event is complete (no NULL string); the
 * lifecycle's reading of it (fingerprint, composite status) never crashes and only ever infers
 * failed or canceled from a hook that is not terminal. */
#include "decide/gitlab.h"
#include "deliver/lifecycle.h"

#include <string.h>

#include <stdint.h>
#include <stdlib.h>

static void check_complete(const struct tg_event *e)
{
    const char *const s[] = {e->project_path,
                             e->project_name,
                             e->project_namespace,
                             e->project_slug,
                             e->project_url,
                             e->pipeline_status,
                             e->pipeline_source,
                             e->pipeline_url,
                             e->ref,
                             e->sha,
                             e->commit_message,
                             e->commit_url,
                             e->commit_author,
                             e->user_username,
                             e->user_name,
                             e->user_email,
                             e->mr_source_branch};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        if (s[i] == NULL)
            abort();
    for (size_t i = 0; i < e->nbuilds; i++)
        if (e->builds[i].name == NULL || e->builds[i].status == NULL)
            abort();
    for (size_t i = 0; i < e->nvariables; i++)
        if (e->variables[i].key == NULL || e->variables[i].value == NULL)
            abort();
    if (e->mr_fork && !e->merge_request)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const headers[] = {
        NULL,        "Pipeline Hook", "Job Hook",   "Deployment Hook", "Merge Request Hook",
        "Push Hook", "Tag Push Hook", "System Hook"};
    struct tg_event e;
    char err[256], out[64];
    if (tg_event_parse(&(struct tg_hook){headers[size % 8], (const char *)data, size}, &e, err,
                       sizeof err) != 0)
        return 0;
    check_complete(&e);
    if (tg_event_var(&e, "pipeline.url", out, sizeof out) != 0 ||
        tg_event_var(&e, "pipeline.tag", out, 8) != 0)
        abort();
    tg_event_find_build(&e, "trivy-scan");
    struct tg_lifecycle_print print;
    tg_lifecycle_fingerprint(&e, &print);
    const char *st = tg_lifecycle_status(&e);
    if (st != e.pipeline_status && strcmp(st, "failed") != 0 && strcmp(st, "canceled") != 0)
        abort();
    tg_event_dispose(&e);
    return 0;
}
