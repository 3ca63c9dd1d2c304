/* scrub.h -- the one place that takes token-shaped strings out of text Tollgate writes.
 *
 * Input fields and GitLab's error messages can carry credentials (a trigger error quoting a
 * `glptt-...` token, a user pasting a `glpat-...` into a comment). Everything Tollgate writes
 * -- log lines (log.c), audit records (audit.c), commit status descriptions and GitLab error
 * texts (gitlab_api.c, which every stored error, status and chat notice about GitLab comes
 * from), chat messages (chat_message.c) -- passes through here. Configured secrets are
 * scrubbed by value besides (audit.c); this catches the ones Tollgate was never told about.
 *
 * Shapes (a prefix at a word start, then at least 8 token characters; the prefix is kept,
 * the rest becomes "[REDACTED]"):
 *   GitLab's token prefixes (docs.gitlab.com, "Token prefixes"): glpat- gloas- gldt- glrt-
 *   glrtr- glcbt- glptt- glft- glimt- glagent- glsoat- glffct- glwt- GR1348941; also behind an
 *   instance prefix (mycompany-glpat-...)
 *   Slack: xoxa- xoxb- xoxe- xoxp- xoxr-       Standard Webhooks: whsec_
 *   Bearer values: "Bearer <value>" (any case)
 * Pure functions; any thread.
 */
#ifndef TG_SCRUB_H
#define TG_SCRUB_H

#include <stddef.h>

#define TG_SCRUB_MARK "[REDACTED]"

/* A copy of s[0..n) with every token-shaped value replaced, or NULL when there was none (the
 * caller keeps s). The copy is NUL-terminated; *outlen (may be NULL) gets its length. */
char *tg_scrub(const char *s, size_t n, size_t *outlen);
/* The same in place on a NUL-terminated buffer of capacity cap (the result may be cut to
 * fit). Returns 1 when it replaced anything, else 0. */
int tg_scrub_inplace(char *s, size_t cap);

#endif
