/* yamlfile.h -- a loaded YAML file and typed, position-aware lookups into it.
 *
 * The config, policy and template loaders all read YAML through this: every fault is
 * reported into a tg_diag with the node's file:line:col, and unknown keys are errors so a
 * typo never silently disables a rule. Values are borrowed from the document and valid
 * until tg_yaml_close; the tg_yaml_get_* helpers that copy say so.
 */
#ifndef TG_YAMLFILE_H
#define TG_YAMLFILE_H

#include "base/diag.h"

#include <stdint.h>
#include <yaml.h>

struct tg_yaml {
    yaml_document_t doc;
    char *file;
    struct tg_diag *diag; /* borrowed */
    int loaded;
};

/* Loads the first document of path. Returns 0, or -1 with the reason in diag. */
int tg_yaml_open(struct tg_yaml *y, const char *path, struct tg_diag *diag);
/* Loads from memory; name is used in messages. */
int tg_yaml_open_mem(struct tg_yaml *y, const char *name, const char *data, size_t len,
                     struct tg_diag *diag);
void tg_yaml_close(struct tg_yaml *y);

yaml_node_t *tg_yaml_root(struct tg_yaml *y);
/* The value under key in a mapping, or NULL when absent (or when map is not a mapping). */
yaml_node_t *tg_yaml_get(struct tg_yaml *y, yaml_node_t *map, const char *key);
/* Reports an error for every key of map not in the NULL-terminated allowed list, and for
 * every key that appears twice (YAML parsers keep one silently). */
void tg_yaml_check_keys(struct tg_yaml *y, yaml_node_t *map, const char *const *allowed,
                        const char *what);
/* Iteration over sequences and mappings (0 items when node is another kind). */
size_t tg_yaml_len(yaml_node_t *node);
yaml_node_t *tg_yaml_item(struct tg_yaml *y, yaml_node_t *seq, size_t i);
yaml_node_t *tg_yaml_key(struct tg_yaml *y, yaml_node_t *map, size_t i);
yaml_node_t *tg_yaml_value(struct tg_yaml *y, yaml_node_t *map, size_t i);

/* The scalar's text (borrowed), or NULL with an error naming what when node is not a scalar. */
const char *tg_yaml_scalar(struct tg_yaml *y, yaml_node_t *node, const char *what);
int tg_yaml_is_map(yaml_node_t *node);
int tg_yaml_is_seq(yaml_node_t *node);
/* Requires node to be a mapping (or a sequence), else reports an error; returns 0 or -1. */
int tg_yaml_expect_map(struct tg_yaml *y, yaml_node_t *node, const char *what);
int tg_yaml_expect_seq(struct tg_yaml *y, yaml_node_t *node, const char *what);

/* Reports an error (or warning) at node's position. */
void tg_yaml_error(struct tg_yaml *y, yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void tg_yaml_warn(struct tg_yaml *y, yaml_node_t *node, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
size_t tg_yaml_line(yaml_node_t *node);

/* Typed getters for map[key]. When the key is absent they leave *out untouched and return 0,
 * so defaults set beforehand survive; a present but invalid value is reported and returns -1.
 * tg_yaml_get_str stores a heap copy (caller frees; a previous *out is freed). */
int tg_yaml_get_str(struct tg_yaml *y, yaml_node_t *map, const char *key, char **out);
int tg_yaml_get_bool(struct tg_yaml *y, yaml_node_t *map, const char *key, int *out);
int tg_yaml_get_int(struct tg_yaml *y, yaml_node_t *map, const char *key, long long min,
                    long long max, long long *out);
int tg_yaml_get_size(struct tg_yaml *y, yaml_node_t *map, const char *key, uint64_t *out);
int tg_yaml_get_duration(struct tg_yaml *y, yaml_node_t *map, const char *key, uint64_t *out_ms);
/* A sequence of scalars (a single scalar is taken as a list of one) into a NULL-terminated
 * heap array of heap strings; free with tg_strv_free. */
int tg_yaml_get_strv(struct tg_yaml *y, yaml_node_t *map, const char *key, char ***out);
void tg_strv_free(char **v);
size_t tg_strv_len(char *const *v);

#endif
