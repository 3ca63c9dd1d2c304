/* secret.h -- secrets named in YAML as env:NAME or file:PATH, read at load time.
 *
 * The value is never printed; ref ("env:NAME", "file:PATH" or "inline") is what messages
 * show. An inline value is a warning where allowed and an error where not.
 */
#ifndef TG_SECRET_H
#define TG_SECRET_H

#include "base/yamlfile.h"

#include <stddef.h>

struct tg_secret {
    char *value; /* NULL when unset */
    size_t len;
    char *ref;
    unsigned char digest[32]; /* SHA-256 of value, for tg_secret_matches */
};

enum tg_secret_flags {
    TG_SECRET_REQUIRED = 1,  /* absence is an error */
    TG_SECRET_NO_INLINE = 2, /* an inline value is an error, not a warning */
};

/* Reads map[key] into out. base_dir resolves relative file: paths. Returns 0 (also when
 * absent and not required; out stays empty), or -1 after reporting the fault. */
int tg_secret_load(struct tg_yaml *y, yaml_node_t *map, const char *key, const char *base_dir,
                   unsigned flags, struct tg_secret *out);
/* 1 when the SHA-256 of a presented value (digest) equals the secret's, compared in constant
 * time; callers hash the presented value once and compare it with every candidate. */
int tg_secret_matches(const struct tg_secret *s, const unsigned char digest[32]);

/* Wipes and frees; leaves s empty. */
void tg_secret_dispose(struct tg_secret *s);

#endif
