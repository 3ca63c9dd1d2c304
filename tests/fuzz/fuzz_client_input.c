/* fuzz_client_input.c -- the parsers issue 11 added for what strangers send, on arbitrary
 * input: the first line is an X-Forwarded-For value, the second a Forwarded value, the rest a
 * Mattermost button callback body (its context checked against a fixed key) and text for the
 * scrubber; a time string too (the first line). */
#include "approvals/button_context.h"
#include "base/netaddr.h"
#include "base/scrub.h"
#include "base/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char *line(const char **p, const char *end)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *stop = nl ? nl : end;
    char *s = tg_xstrndup(*p, (size_t)(stop - *p));
    *p = nl ? nl + 1 : end;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned char key[TG_BUTTON_KEY_LEN] = {9};
    struct tg_cidr trusted[2];
    const char *p = (const char *)data, *end = p + size;
    char *xff = line(&p, end), *fwd = line(&p, end), out[64];
    tg_cidr_parse("10.0.0.0/8", &trusted[0]);
    tg_cidr_parse("2001:db8::/32", &trusted[1]);
    const struct tg_forwarded_query qs[] = {{xff, fwd, TG_FWD_AUTO, trusted, 2},
                                            {xff, fwd, TG_FWD_FORWARDED, trusted, 2},
                                            {xff, NULL, TG_FWD_XFF, trusted, 2}};
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++)
        (void)tg_forwarded_client(&qs[i], out, sizeof out);
    struct tg_cidr c;
    (void)tg_cidr_parse(xff, &c);
    uint64_t ms;
    (void)tg_parse_time(xff, &ms);
    json_t *body = json_loadb(p, (size_t)(end - p), 0, NULL);
    struct tg_button_click click;
    const char *why;
    (void)tg_button_context_check(key, json_object_get(body, "context"), 1800000000, &click, &why);
    json_decref(body);
    char *clean = tg_scrub(p, (size_t)(end - p), NULL);
    free(clean), free(xff), free(fwd);
    return 0;
}
