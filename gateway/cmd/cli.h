/* cli.h -- what the operator commands share: loading the config and reaching Redis.
 *
 * Messages go to stderr for a person at a terminal, not to the JSON log.
 */
#ifndef TG_CLI_H
#define TG_CLI_H

#include "base/config.h"

#include <hiredis.h>

/* Loads path, printing every diagnostic; NULL when it has errors. */
struct tg_config *tg_cli_config(const char *path);
/* A blocking connection to cfg's Redis (or url when given); NULL after printing why. */
redisContext *tg_cli_redis(const struct tg_config *cfg, const char *url);
/* "operator:<name>" for audit records: --operator, else $SUDO_USER, $USER, or "unknown". */
void tg_cli_operator(char *out, size_t outlen, const char *given);

/* A dead-letter command line: verb (list, requeue or drop), the ids it names (list takes
 * none) and the actor for the audit records (tg_cli_operator). Borrowed. */
struct tg_cli_dead {
    const char *verb;
    char **ids;
    int nids;
    const char *actor;
};

#endif
