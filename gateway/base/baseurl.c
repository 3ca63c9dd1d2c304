/* baseurl.c -- a configured service base URL checked at load (see baseurl.h). */
#include "base/baseurl.h"

#include <stdio.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "%s", why);
    return -1;
}

int tg_baseurl_check(const char *url, char *err, size_t errlen)
{
    const char *host;
    if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else
        return fail(err, errlen, "must be http:// or https://");
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return fail(err, errlen, "must not hold spaces or control characters");
    if (strpbrk(url, "?#"))
        return fail(err, errlen, "must not carry a query (?) or fragment (#): API paths follow it");
    size_t authority = strcspn(host, "/");
    if (memchr(host, '@', authority))
        return fail(err, errlen,
                    "must not carry credentials (user:password@): they would appear in every "
                    "link; the API key authenticates");
    if (authority == 0 || host[0] == ':')
        return fail(err, errlen, "has no host");
    const char *colon = memchr(host, ':', authority);
    if (colon && host[0] != '[') {
        size_t digits = strspn(colon + 1, "0123456789");
        if (digits == 0 || colon + 1 + digits != host + authority)
            return fail(err, errlen, "has a port that is not a number");
    }
    return 0;
}
