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

/* Secondary indexes: sorted sets of seq (score seq) per value, drawn atop audit.c. A ref is
 * indexed on its own and within its project (the exact set for the common project+ref). */
enum tg_audit_index {
    TG_AUDIT_IDX_ACTION,
    TG_AUDIT_IDX_ACTOR,
    TG_AUDIT_IDX_PROJECT,
    TG_AUDIT_IDX_PIPELINE,
    TG_AUDIT_IDX_ENVIRONMENT,
    TG_AUDIT_IDX_SHA,
    TG_AUDIT_IDX_REF,
    TG_AUDIT_IDX_PROJECT_REF, /* value is the ref, project must be given */
};
/* What an index key files: the field, its value, and for TG_AUDIT_IDX_PROJECT_REF the
 * project (NULL otherwise). */
struct tg_audit_index_ref {
    enum tg_audit_index kind;
    const char *value;
    const char *project;
};
/* The index key of ref into out (a value too long for a key is named by its SHA-256).
 * Writers and readers both name keys here, so they always agree. */
void tg_audit_index_key(char *out, size_t outlen, const char *prefix,
                        const struct tg_audit_index_ref *ref);
/* <prefix>audit:once~h:<sha256 hex of once>: the seq that recorded a once-only step. Named by
 * the hash of its text (it may hold a caller's Idempotency-Key), never the text. */
void tg_audit_once_key(char *out, size_t outlen, const char *prefix, const char *once);
/* <prefix>audit:inbox:lock:<id>: the lock of one inbox note (id: the stream entry id). */
void tg_audit_inbox_lock_key(char *out, size_t outlen, const char *prefix, const char *id);

#endif
