/* retryafter.h -- a Retry-After header value (RFC 9110 section 10.2.3): delay-seconds or an
 * HTTP-date (IMF-fixdate), as a delay. Pure function; any thread.
 */
#ifndef TG_RETRYAFTER_H
#define TG_RETRYAFTER_H

#include <stdint.h>

/* The delay value asks for from now_ms, at most a week (a far value is kept, clamped, rather
 * than dropped: callers clamp it to their own backoff cap); 0 for a past date or a value that
 * is neither form. Leading and trailing blanks (and the header's CRLF) are allowed. */
uint64_t tg_retry_after_ms(const char *value, uint64_t now_ms);

#endif
