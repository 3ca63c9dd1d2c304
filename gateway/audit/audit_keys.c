/* audit_keys.c -- the names of the audit trail's fixed Redis keys (audit_keys.h). Any thread. */
#include "audit/audit_keys.h"

#include <stdio.h>

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
