/* fuzz_children.c -- GitLab's bridges and pipeline-jobs answers (tg_gitlab_parse_bridges,
 * tg_gitlab_parse_jobs) on any body, the input's first byte picking which: never a crash,
 * a parsed page is complete (no NULL string) and counts what it added, a refused one says why. */
#include "deliver/gitlab_api.h"

#include <stdint.h>
#include <stdlib.h>

static void check(const struct tg_children *c, int n, size_t before, int bridges, const char *err)
{
    if (n < 0 && err[0] == '\0')
        abort();
    if (n >= 0 && (bridges ? c->npipelines : c->njobs) != before + (size_t)n)
        abort();
    for (size_t i = 0; i < c->npipelines; i++)
        if (c->pipelines[i].bridge == NULL || c->pipelines[i].status == NULL)
            abort();
    for (size_t i = 0; i < c->njobs; i++)
        if (c->jobs[i].name == NULL || c->jobs[i].status == NULL)
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_children c = {0};
    char err[256] = "";
    if (size == 0)
        return 0;
    int bridges = data[0] & 1;
    const char *body = (const char *)data + 1;
    /* twice into one struct, as pages of one walk are */
    for (int page = 0; page < 2; page++) {
        size_t before = bridges ? c.npipelines : c.njobs;
        const struct tg_gitlab_page page = {body, size - 1, {7, 8}};
        int n = bridges ? tg_gitlab_parse_bridges(&page, &c, err, sizeof err)
                        : tg_gitlab_parse_jobs(&page, &c, err, sizeof err);
        check(&c, n, before, bridges, err);
    }
    tg_children_dispose(&c);
    return 0;
}
