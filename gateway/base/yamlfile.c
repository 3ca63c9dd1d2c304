/* yamlfile.c -- a loaded YAML file and typed, position-aware lookups into it. */
#include "base/yamlfile.h"
#include "base/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load(struct tg_yaml *y, yaml_parser_t *parser)
{
    if (!yaml_parser_load(parser, &y->doc)) {
        tg_diag_error(y->diag, y->file, parser->problem_mark.line + 1,
                      parser->problem_mark.column + 1, "YAML syntax: %s%s%s",
                      parser->problem ? parser->problem : "parse error", parser->context ? " " : "",
                      parser->context ? parser->context : "");
        yaml_parser_delete(parser);
        return -1;
    }
    yaml_parser_delete(parser);
    y->loaded = 1;
    if (yaml_document_get_root_node(&y->doc) == NULL) {
        tg_diag_error(y->diag, y->file, 1, 1, "file is empty");
        return -1;
    }
    return 0;
}

int tg_yaml_open_mem(struct tg_yaml *y, const char *name, const char *data, size_t len,
                     struct tg_diag *diag)
{
    yaml_parser_t parser;
    memset(y, 0, sizeof *y);
    y->file = tg_xstrdup(name);
    y->diag = diag;
    if (!yaml_parser_initialize(&parser)) {
        tg_diag_error(diag, name, 0, 0, "cannot initialise the YAML parser");
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
    return load(y, &parser);
}

int tg_yaml_open(struct tg_yaml *y, const char *path, struct tg_diag *diag)
{
    size_t len;
    char *data = tg_read_file(path, &len);
    if (data == NULL) {
        memset(y, 0, sizeof *y);
        y->diag = diag;
        tg_diag_error(diag, path, 0, 0, "cannot read: %s", strerror(errno));
        return -1;
    }
    int rc = tg_yaml_open_mem(y, path, data, len, diag);
    free(data);
    return rc;
}

void tg_yaml_close(struct tg_yaml *y)
{
    if (y->loaded)
        yaml_document_delete(&y->doc);
    free(y->file);
    y->file = NULL;
    y->loaded = 0;
}

yaml_node_t *tg_yaml_root(struct tg_yaml *y)
{
    return y->loaded ? yaml_document_get_root_node(&y->doc) : NULL;
}

size_t tg_yaml_line(yaml_node_t *node)
{
    return node ? node->start_mark.line + 1 : 0;
}

static void vreport(struct tg_yaml *y, int is_error, yaml_node_t *node, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t line = node ? node->start_mark.line + 1 : 0,
           col = node ? node->start_mark.column + 1 : 0;
    if (is_error)
        tg_diag_error(y->diag, y->file, line, col, "%s", msg);
    else
        tg_diag_warn(y->diag, y->file, line, col, "%s", msg);
}

void tg_yaml_error(struct tg_yaml *y, yaml_node_t *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(y, 1, node, fmt, ap);
    va_end(ap);
}

void tg_yaml_warn(struct tg_yaml *y, yaml_node_t *node, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(y, 0, node, fmt, ap);
    va_end(ap);
}

int tg_yaml_is_map(yaml_node_t *node)
{
    return node && node->type == YAML_MAPPING_NODE;
}

int tg_yaml_is_seq(yaml_node_t *node)
{
    return node && node->type == YAML_SEQUENCE_NODE;
}

int tg_yaml_expect_map(struct tg_yaml *y, yaml_node_t *node, const char *what)
{
    if (tg_yaml_is_map(node))
        return 0;
    tg_yaml_error(y, node, "%s must be a mapping", what);
    return -1;
}

int tg_yaml_expect_seq(struct tg_yaml *y, yaml_node_t *node, const char *what)
{
    if (tg_yaml_is_seq(node))
        return 0;
    tg_yaml_error(y, node, "%s must be a list", what);
    return -1;
}

size_t tg_yaml_len(yaml_node_t *node)
{
    if (tg_yaml_is_seq(node))
        return (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
    if (tg_yaml_is_map(node))
        return (size_t)(node->data.mapping.pairs.top - node->data.mapping.pairs.start);
    return 0;
}

yaml_node_t *tg_yaml_item(struct tg_yaml *y, yaml_node_t *seq, size_t i)
{
    return yaml_document_get_node(&y->doc, seq->data.sequence.items.start[i]);
}

yaml_node_t *tg_yaml_key(struct tg_yaml *y, yaml_node_t *map, size_t i)
{
    return yaml_document_get_node(&y->doc, map->data.mapping.pairs.start[i].key);
}

yaml_node_t *tg_yaml_value(struct tg_yaml *y, yaml_node_t *map, size_t i)
{
    return yaml_document_get_node(&y->doc, map->data.mapping.pairs.start[i].value);
}

const char *tg_yaml_scalar(struct tg_yaml *y, yaml_node_t *node, const char *what)
{
    if (node && node->type == YAML_SCALAR_NODE)
        return (const char *)node->data.scalar.value;
    tg_yaml_error(y, node, "%s must be a single value", what);
    return NULL;
}

yaml_node_t *tg_yaml_get(struct tg_yaml *y, yaml_node_t *map, const char *key)
{
    size_t n = tg_yaml_len(map);
    if (!tg_yaml_is_map(map))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *k = tg_yaml_key(y, map, i);
        if (k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
            return tg_yaml_value(y, map, i);
    }
    return NULL;
}

void tg_yaml_check_keys(struct tg_yaml *y, yaml_node_t *map, const char *const *allowed,
                        const char *what)
{
    size_t n = tg_yaml_len(map);
    if (!tg_yaml_is_map(map))
        return;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *k = tg_yaml_key(y, map, i);
        const char *name = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
        size_t j = 0;
        while (allowed[j] && strcmp(allowed[j], name) != 0)
            j++;
        if (allowed[j] == NULL)
            tg_yaml_error(y, k, "unknown key \"%s\" in %s", name, what);
        for (j = 0; j < i; j++) {
            yaml_node_t *prev = tg_yaml_key(y, map, j);
            if (prev->type == YAML_SCALAR_NODE &&
                strcmp((const char *)prev->data.scalar.value, name) == 0)
                tg_yaml_error(y, k, "key \"%s\" appears twice in %s (first at line %zu)", name,
                              what, tg_yaml_line(prev));
        }
    }
}

/* map[key] as a scalar: 1 with *node and *s set, 0 when absent, -1 (reported) otherwise. */
static int present(struct tg_yaml *y, yaml_node_t *map, const char *key, yaml_node_t **node,
                   const char **s)
{
    *node = tg_yaml_get(y, map, key);
    if (*node == NULL)
        return 0;
    *s = tg_yaml_scalar(y, *node, key);
    return *s ? 1 : -1;
}

int tg_yaml_get_str(struct tg_yaml *y, yaml_node_t *map, const char *key, char **out)
{
    yaml_node_t *n;
    const char *s;
    int rc = present(y, map, key, &n, &s);
    if (rc <= 0)
        return rc;
    free(*out);
    *out = tg_xstrdup(s);
    return 0;
}

int tg_yaml_get_bool(struct tg_yaml *y, yaml_node_t *map, const char *key, int *out)
{
    yaml_node_t *n;
    const char *s;
    int rc = present(y, map, key, &n, &s);
    if (rc <= 0)
        return rc;
    if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 || strcmp(s, "on") == 0)
        *out = 1;
    else if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 || strcmp(s, "off") == 0)
        *out = 0;
    else {
        tg_yaml_error(y, n, "%s: \"%s\" is not true or false", key, s);
        return -1;
    }
    return 0;
}

int tg_yaml_get_int(struct tg_yaml *y, yaml_node_t *map, const char *key, long long min,
                    long long max, long long *out)
{
    yaml_node_t *n;
    const char *s;
    int rc = present(y, map, key, &n, &s);
    if (rc <= 0)
        return rc;
    if (tg_parse_int(s, min, max, out)) {
        tg_yaml_error(y, n, "%s: \"%s\" is not a whole number from %lld to %lld", key, s, min, max);
        return -1;
    }
    return 0;
}

/* A scalar parsed by parse (a size, a duration); what names the kind in the error. */
static int get_parsed(struct tg_yaml *y, yaml_node_t *map, const char *key,
                      int (*parse)(const char *, uint64_t *), const char *what, uint64_t *out)
{
    yaml_node_t *n;
    const char *s;
    int rc = present(y, map, key, &n, &s);
    if (rc <= 0)
        return rc;
    if (parse(s, out)) {
        tg_yaml_error(y, n, "%s: \"%s\" is not %s", key, s, what);
        return -1;
    }
    return 0;
}

int tg_yaml_get_size(struct tg_yaml *y, yaml_node_t *map, const char *key, uint64_t *out)
{
    return get_parsed(y, map, key, tg_parse_size, "a size (examples: 1MiB, 512KiB, 65536)", out);
}

int tg_yaml_get_duration(struct tg_yaml *y, yaml_node_t *map, const char *key, uint64_t *out_ms)
{
    return get_parsed(y, map, key, tg_parse_duration,
                      "a duration (examples: 500ms, 2s, 5m, 24h, 7d)", out_ms);
}

int tg_yaml_get_strv(struct tg_yaml *y, yaml_node_t *map, const char *key, char ***out)
{
    yaml_node_t *n = tg_yaml_get(y, map, key);
    if (n == NULL)
        return 0;
    if (n->type == YAML_SCALAR_NODE) {
        tg_strv_free(*out);
        *out = tg_xcalloc(2, sizeof(char *));
        (*out)[0] = tg_xstrdup((const char *)n->data.scalar.value);
        return 0;
    }
    if (tg_yaml_expect_seq(y, n, key))
        return -1;
    size_t len = tg_yaml_len(n);
    char **v = tg_xcalloc(len + 1, sizeof(char *));
    for (size_t i = 0; i < len; i++) {
        const char *s = tg_yaml_scalar(y, tg_yaml_item(y, n, i), key);
        if (s == NULL) {
            tg_strv_free(v);
            return -1;
        }
        v[i] = tg_xstrdup(s);
    }
    tg_strv_free(*out);
    *out = v;
    return 0;
}

void tg_strv_free(char **v)
{
    if (v == NULL)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

size_t tg_strv_len(char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}
