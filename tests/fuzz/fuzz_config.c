/* fuzz_config.c -- tollgate.yaml on arbitrary input: the YAML loader, every section parser and
 * the secret references must report faults, never crash. The input is written to a private
 * file because the loader (like `tollgate check`) reads a path; policies and templates point
 * at empty directories so only this file is exercised. */
#include "base/config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/fuzz_config.%d", (int)getpid());
    mkdir(dir, 0700);
    setenv("FUZZ_TOKEN", "fuzz-token-value", 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[128];
    if (dir[0] == '\0')
        setup();
    snprintf(path, sizeof path, "%s/tollgate.yaml", dir);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    fwrite(data, 1, size, f);
    fclose(f);
    struct tg_diag diag;
    tg_diag_init(&diag);
    struct tg_config *c = tg_config_load(path, &diag);
    char *all = tg_diag_join(&diag);
    free(all);
    tg_config_unref(c);
    tg_diag_dispose(&diag);
    return 0;
}
