/* cli.c -- what the operator commands share: loading the config and reaching Redis. */
#include "cmd/cli.h"
#include "base/redisconn.h"

#include <stdio.h>
#include <stdlib.h>
#include <pwd.h>
#include <unistd.h>

struct tg_config *tg_cli_config(const char *path)
{
    struct tg_diag diag;
    tg_diag_init(&diag);
    struct tg_config *c = tg_config_load(path, &diag);
    tg_diag_print(&diag, stderr);
    tg_diag_dispose(&diag);
    return c;
}

redisContext *tg_cli_redis(const struct tg_config *cfg, const char *url)
{
    char err[256];
    redisContext *c = tg_redis_connect_url(url ? url : cfg->redis.url,
                                           cfg->limits.redis_timeout_ms + 5000, err, sizeof err);
    if (c == NULL)
        fprintf(stderr, "tollgate: %s\n", err);
    return c;
}

void tg_cli_operator(char *out, size_t outlen, const char *given)
{
    const char *who = given ? given : getenv("SUDO_USER") ? getenv("SUDO_USER") : getenv("USER");
    if (who == NULL ||
        *who == '\0') { /* cron, systemd, containers: no USER; the account still says who */
        const struct passwd *pw = getpwuid(geteuid());
        who = pw ? pw->pw_name : NULL;
    }
    snprintf(out, outlen, "operator:%s", who && *who ? who : "unknown");
}
