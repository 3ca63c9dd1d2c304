/* fuzz_dojo_answer.c -- DefectDojo's answer to a reimport-scan (outside input) read on
 * arbitrary bytes: the first byte picks the HTTP status, the rest is the body. Whatever the
 * body, the reason is printable and bounded, and only a 201 with an integer test_id is OK.
 * The same bytes as a Retry-After value (base/retryafter.h) give at most a week. */
#include "base/retryafter.h"
#include "forward/defectdojo.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {201, 400, 401, 403, 404, 429, 500, 503, 0, 302, 200, 201};
    struct tg_dojo_answer a;
    long status = size ? statuses[data[0] % (sizeof statuses / sizeof statuses[0])] : 201;
    tg_dojo_read_answer(status, size ? (const char *)data + 1 : "", size ? size - 1 : 0, NULL, &a);
    if (a.kind == TG_DOJO_OK &&
        (status != 201 || !json_is_integer(json_object_get(a.result, "test_id"))))
        abort();
    for (const char *p = a.reason; *p; p++)
        if (!isprint((unsigned char)*p))
            abort();
    tg_dojo_answer_dispose(&a);
    char *value = strndup(size ? (const char *)data + 1 : "", size ? size - 1 : 0);
    if (value && tg_retry_after_ms(value, 1445412480000ull) > 7ull * 86400 * 1000)
        abort();
    free(value);
    return 0;
}
