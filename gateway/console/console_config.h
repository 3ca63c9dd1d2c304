/* console_config.h -- the console: section of tollgate.yaml (sign-in with GitLab).
 *
 *   console:
 *     oauth: { client_id: env:..., client_secret: env:... }
 *     allow_groups: [platform, security]   # required: who may sign in
 *     session_ttl: 12h
 *     public_url: https://tollgate.example.com   # else the top-level public_url
 *     approver_min_access: developer              # group approvers: guest..owner or 10..50
 *     membership_cache: 60s
 *
 * Main thread, at load time (config.c calls these).
 */
#ifndef TG_CONSOLE_CONFIG_H
#define TG_CONSOLE_CONFIG_H

#include "base/config.h"
#include "base/yamlfile.h"

/* Reads root["console"] into c->console (defaults when absent), reporting faults into y. */
void tg_console_config_load(struct tg_config *c, struct tg_yaml *y, yaml_node_t *root);
void tg_console_config_dispose(struct tg_console_config *cc);

/* GitLab's access level for a role name (guest 10, planner 15, reporter 20, developer 30,
 * maintainer 40, owner 50) or a number among those; -1 when neither. */
int tg_console_access_level(const char *s);

#endif
