/* baseurl.h -- a configured service base URL (gitlab.url, defectdojo.url) checked at load.
 *
 * A base URL is joined with API paths and shown in links, audit records and chat: it must be
 * http:// or https:// with a host, and carry no credentials (user:password@ would leak into
 * every link), no query and no fragment (an API path appended after them would be lost).
 * Pure function; any thread.
 */
#ifndef TG_BASEURL_H
#define TG_BASEURL_H

#include <stddef.h>

/* 0 when url is such a base URL (a trailing '/' allowed), else -1 with the reason in err
 * (never quoting the URL: it may hold a password). */
int tg_baseurl_check(const char *url, char *err, size_t errlen);

#endif
