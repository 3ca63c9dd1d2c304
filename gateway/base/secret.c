/* secret.c -- secrets named in YAML as env:NAME or file:PATH, read at load time. */
#include "base/secret.h"
#include "base/crypto.h"
#include "base/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void trim_trailing_space(char *s, size_t *len)
{
    while (*len > 0 && strchr("\n\r\t ", s[*len - 1]))
        s[--*len] = '\0';
}

static int from_ref(struct tg_yaml *y, yaml_node_t *n, const char *ref, const char *base_dir,
                    struct tg_secret *out)
{
    if (strncmp(ref, "env:", 4) == 0) {
        const char *v = getenv(ref + 4);
        if (v == NULL || *v == '\0') {
            tg_yaml_error(
                y, n, v ? "environment variable %s is empty" : "environment variable %s is not set",
                ref + 4);
            return -1;
        }
        out->value = tg_xstrdup(v);
        out->len = strlen(v);
    } else {
        const char *p = ref + 5;
        char *path =
            p[0] == '/' || base_dir == NULL ? tg_xstrdup(p) : tg_xasprintf("%s/%s", base_dir, p);
        out->value = tg_read_file(path, &out->len);
        if (out->value == NULL)
            tg_yaml_error(y, n, "cannot read secret file %s: %s", path, strerror(errno));
        free(path);
        if (out->value == NULL)
            return -1;
        trim_trailing_space(out->value, &out->len);
        if (out->len == 0) {
            tg_yaml_error(y, n, "secret file %s is empty", p);
            free(out->value);
            out->value = NULL;
            return -1;
        }
    }
    out->ref = tg_xstrdup(ref);
    return 0;
}

static int loaded(struct tg_secret *out)
{
    tg_sha256(out->value, out->len, out->digest);
    return 0;
}

int tg_secret_matches(const struct tg_secret *s, const unsigned char digest[32])
{
    return s->value != NULL && tg_ct_digest_equal(s->digest, digest);
}

int tg_secret_load(struct tg_yaml *y, yaml_node_t *map, const char *key, const char *base_dir,
                   unsigned flags, struct tg_secret *out)
{
    yaml_node_t *n = tg_yaml_get(y, map, key);
    if (n == NULL) {
        if (flags & TG_SECRET_REQUIRED)
            tg_yaml_error(y, map, "%s is required", key);
        return flags & TG_SECRET_REQUIRED ? -1 : 0;
    }
    const char *s = tg_yaml_scalar(y, n, key);
    if (s == NULL)
        return -1;
    if (strncmp(s, "env:", 4) == 0 || strncmp(s, "file:", 5) == 0)
        return from_ref(y, n, s, base_dir, out) ? -1 : loaded(out);
    if (*s == '\0' || (flags & TG_SECRET_NO_INLINE)) {
        tg_yaml_error(y, n, *s ? "%s must be env:NAME or file:PATH, never inline" : "%s is empty",
                      key);
        return -1;
    }
    tg_yaml_warn(
        y, n, "%s is written inline; use env:NAME or file:PATH so it stays out of the file", key);
    out->value = tg_xstrdup(s);
    out->len = strlen(s);
    out->ref = tg_xstrdup("inline");
    return loaded(out);
}

void tg_secret_dispose(struct tg_secret *s)
{
    if (s->value) {
        memset(s->value, 0, s->len);
        free(s->value);
    }
    free(s->ref);
    memset(s, 0, sizeof *s);
}
