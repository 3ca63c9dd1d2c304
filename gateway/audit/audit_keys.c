/* audit_keys.c -- the names of the audit trail's fixed Redis keys (audit_keys.h). Any thread. */
#include "audit/audit_keys.h"
#include "base/crypto.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *tg_audit_key(char *out, size_t outlen, const char *prefix, enum tg_audit_key k)
{
    static const char *const names[] = {
        [TG_AK_STREAM] = "audit",
        [TG_AK_HEAD] = "audit:head",
        [TG_AK_IDX_TIME] = "audit:idx:time",
        [TG_AK_START] = "audit:start",
        [TG_AK_INBOX] = "audit:inbox",
        [TG_AK_VERIFIED] = "audit:verified",
        [TG_AK_ARCHIVE_LEASE] = "audit:archive:lease",
    };
    snprintf(out, outlen, "%s%s", prefix, names[k]);
    return out;
}

/* Whether a value may name its index key as it is: Tollgate's own vocabulary (actions), or a
 * fixed shape (pipeline ids, commit SHAs). Free text never does (F8: a token typed into a ref
 * or a user name ended up in key names, which SCAN and MONITOR show to anyone). */
static int plain_value(enum tg_audit_index kind, const char *v)
{
    size_t n = strlen(v);
    switch (kind) {
    case TG_AUDIT_IDX_ACTION:
        return n <= 64 && strspn(v, "abcdefghijklmnopqrstuvwxyz_") == n;
    case TG_AUDIT_IDX_PIPELINE:
        return n <= 20 && strspn(v, "0123456789") == n;
    case TG_AUDIT_IDX_SHA:
        return (n == 40 || n == 64) && strspn(v, "0123456789abcdef") == n;
    default:
        return 0;
    }
}

void tg_audit_index_key(char *out, size_t outlen, const char *prefix,
                        const struct tg_audit_index_ref *ref)
{
    enum tg_audit_index kind = ref->kind;
    const char *value = ref->value, *project = ref->project;
    static const char *const kinds[] = {[TG_AUDIT_IDX_ACTION] = "action",
                                        [TG_AUDIT_IDX_ACTOR] = "actor",
                                        [TG_AUDIT_IDX_PROJECT] = "project",
                                        [TG_AUDIT_IDX_PIPELINE] = "pipeline",
                                        [TG_AUDIT_IDX_ENVIRONMENT] = "environment",
                                        [TG_AUDIT_IDX_SHA] = "sha",
                                        [TG_AUDIT_IDX_REF] = "ref",
                                        [TG_AUDIT_IDX_PROJECT_REF] = "project_ref"};
    char *joined = kind == TG_AUDIT_IDX_PROJECT_REF
                       ? tg_xasprintf("%s:%s", project ? project : "", value)
                       : NULL;
    const char *v = joined ? joined : value;
    if (plain_value(kind, v)) {
        snprintf(out, outlen, "%saudit:idx:%s:%s", prefix, kinds[kind], v);
    } else {
        char hex[TG_SHA256_HEX_LEN + 1];
        tg_sha256_hex(v, strlen(v), hex);
        snprintf(out, outlen, "%saudit:idx:%s~h:%s", prefix, kinds[kind], hex);
    }
    free(joined);
}

void tg_audit_once_key(char *out, size_t outlen, const char *prefix, const char *once)
{
    char hex[TG_SHA256_HEX_LEN + 1];
    tg_sha256_hex(once, strlen(once), hex);
    snprintf(out, outlen, "%saudit:once~h:%s", prefix, hex);
}

void tg_audit_inbox_lock_key(char *out, size_t outlen, const char *prefix, const char *id)
{
    snprintf(out, outlen, "%saudit:inbox:lock:%s", prefix, id);
}
