/* fuzz_variables.c -- reading the reconciliation marker from GitLab's "Get variables of a
 * pipeline" answer must never crash, and a match must really start with the prefix. */
#include "deliver/gitlab_api.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char found[128] = "";
    const struct tg_gitlab_marker m = {"TOLLGATE_DEPLOYMENT", "0123456789ab/"};
    int rc = tg_gitlab_variables_marker((const char *)data, size, &m, found, sizeof found);
    if (rc == 1 && strncmp(found, "0123456789ab/", 13) != 0)
        abort();
    return 0;
}
