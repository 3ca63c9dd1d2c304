/* retryafter.c -- a Retry-After header value read (see retryafter.h). */
#include "base/retryafter.h"

#include <ctype.h>
#include <stdlib.h>
#include <time.h>

#define RETRY_AFTER_MAX_MS (7ull * 86400 * 1000) /* a week: callers clamp further */

uint64_t tg_retry_after_ms(const char *value, uint64_t now_ms)
{
    while (*value == ' ' || *value == '\t')
        value++;
    uint64_t ms = 0;
    if (isdigit((unsigned char)*value)) {
        char *end;
        unsigned long long s = strtoull(value, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (*end != '\0')
            return 0;
        ms = s >= RETRY_AFTER_MAX_MS / 1000 ? RETRY_AFTER_MAX_MS : s * 1000;
    } else {
        struct tm tm = {0};
        const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        if (end == NULL)
            return 0;
        time_t at = timegm(&tm);
        uint64_t at_ms = at > 0 ? (uint64_t)at * 1000 : 0;
        ms = at_ms > now_ms ? at_ms - now_ms : 0;
    }
    return ms > RETRY_AFTER_MAX_MS ? RETRY_AFTER_MAX_MS : ms;
}
