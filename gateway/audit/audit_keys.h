/* audit_keys.h -- the names of the audit trail's fixed Redis keys. The audit module owns them
 * (layout in audit.c); other modules that must name one (the enqueue script leaves duplicate
 * notes in the inbox) ask here instead of spelling it. No I/O: safe on the event loops.
 */
#ifndef TG_AUDIT_KEYS_H
#define TG_AUDIT_KEYS_H

#include <stddef.h>

enum tg_audit_key {
    TG_AK_STREAM,        /* <prefix>audit: the chain */
    TG_AK_HEAD,          /* <prefix>audit:head: seq, hash, time of the newest record */
    TG_AK_IDX_TIME,      /* <prefix>audit:idx:time */
    TG_AK_START,         /* <prefix>audit:start: where the kept chain begins */
    TG_AK_INBOX,         /* <prefix>audit:inbox: notes chained by workers */
    TG_AK_VERIFIED,      /* <prefix>audit:verified */
    TG_AK_ARCHIVE_LEASE, /* <prefix>audit:archive:lease */
};

/* "<prefix><name of k>" into out; returns out. */
char *tg_audit_key(char *out, size_t outlen, const char *prefix, enum tg_audit_key k);
/* The same in a buffer that lives as long as the enclosing block (a compound literal), for
 * one command: redisCommand(c, "HGET %s seq", TG_AUDIT_KEY(prefix, TG_AK_HEAD)). */
#define TG_AUDIT_KEY(prefix, k) tg_audit_key((char[256]){0}, 256, (prefix), (k))

#endif
