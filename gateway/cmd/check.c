/* check.c -- `tollgate check`: load the configuration with everything it names and report.
 *
 * Prints every error and warning as file:line:col, then a one-line verdict. Exit 0 when the
 * configuration would be accepted by serve (warnings allowed), 2 otherwise.
 */
#include "cmd/commands.h"
#include "base/config.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static int check_usage(FILE *out)
{
    fprintf(out, "usage: tollgate check -c FILE [--get KEY]\n"
                 "  Validates tollgate.yaml and the policies and templates it names.\n"
                 "  --get KEY   prints redis.url (empty when unset) or listen (the first address)\n"
                 "              instead of a verdict; scripts use it.\n");
    return out == stdout ? 0 : 2;
}

int tg_cmd_check(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"get", required_argument, NULL, 'g'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *path = NULL, *get = NULL;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 'g':
            get = optarg;
            break;
        case 'h':
            return check_usage(stdout);
        default:
            return check_usage(stderr);
        }
    }
    if (path == NULL || optind != argc)
        return check_usage(stderr);
    struct tg_diag diag;
    tg_diag_init(&diag);
    struct tg_config *c = tg_config_load(path, &diag);
    if (get == NULL || c == NULL)
        tg_diag_print(&diag, stderr);
    int rc = c ? 0 : 2;
    if (c && get) {
        if (strcmp(get, "redis.url") == 0)
            printf("%s\n", c->redis.url ? c->redis.url : "");
        else if (strcmp(get, "listen") == 0)
            printf("%s\n", c->listen[0].address);
        else
            fprintf(stderr, "tollgate check: --get knows redis.url and listen\n"), rc = 2;
    } else if (c) {
        printf("%s: ok (%zu warning%s)\n", path, diag.warnings, diag.warnings == 1 ? "" : "s");
    } else {
        fprintf(stderr, "%s: %zu error%s\n", path, diag.errors, diag.errors == 1 ? "" : "s");
    }
    tg_config_unref(c);
    tg_diag_dispose(&diag);
    return rc;
}
