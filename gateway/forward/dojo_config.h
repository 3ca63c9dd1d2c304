/* dojo_config.h -- the `defectdojo:` section of tollgate.yaml: where reports are forwarded,
 * with which key, under which names, and how hard the forwarder tries.
 *
 * The names (product_type, product, engagement, test_title) are template values: the
 * template placeholders plus report.job, report.artifact, report.format and
 * report.scan_type, each checked at load (an unknown one is an error with file:line). Loaded
 * by config.c on the loading thread; read-only afterwards, shared by every thread.
 */
#ifndef TG_DOJO_CONFIG_H
#define TG_DOJO_CONFIG_H

#include "base/secret.h"
#include "base/yamlfile.h"
#include "deliver/template.h"

#include <stddef.h>
#include <stdint.h>

struct tg_dojo_config {
    char *url;                /* without trailing '/' */
    struct tg_secret api_key; /* "Authorization: Token <key>"; env:/file: only */
    char *product_type, *product, *engagement, *test_title; /* raw, with placeholders */
    char **env_names; /* Tollgate environment -> DefectDojo environment, nenv each */
    char **env_values;
    size_t nenv;
    int close_old_findings;
    char *minimum_severity;   /* Info, Low, Medium, High, Critical */
    char **tags;              /* NULL-terminated */
    unsigned forward;         /* bit (1 << enum tg_verdict) per forwarded verdict; skip never */
    uint64_t timeout_ms;      /* one upload */
    int workers;              /* forwarder threads per process */
    int tries;                /* attempts before the dead-letter list */
    uint64_t base_ms, cap_ms; /* backoff: full jitter in [0, min(cap, base * 2^attempt)) */
    char *ca_file;
};

/* The placeholders the names may use beyond the template vocabulary, in this order. */
enum { TG_DOJO_X_JOB, TG_DOJO_X_ARTIFACT, TG_DOJO_X_FORMAT, TG_DOJO_X_SCAN_TYPE, TG_DOJO_X_COUNT };
extern const char *const tg_dojo_extra_names[TG_DOJO_X_COUNT];

/* Loads the section n (NULL: not configured, returns NULL without faults). base_dir resolves
 * file: paths. Faults go to y as file:line errors; the result is returned either way (the
 * caller drops the whole config when there were errors). */
struct tg_dojo_config *tg_dojo_config_load(struct tg_yaml *y, yaml_node_t *n, const char *base_dir);
void tg_dojo_config_free(struct tg_dojo_config *c);

/* The DefectDojo environment of a Tollgate environment (itself when not mapped). */
const char *tg_dojo_environment(const struct tg_dojo_config *c, const char *environment);

#endif
