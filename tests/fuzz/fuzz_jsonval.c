/* fuzz_jsonval.c -- the ingest validator must never crash, and must agree with jansson:
 * whatever it accepts, the worker's parser can read. */
#include "http/jsonval.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256];
    if (tg_json_validate_object((const char *)data, size, err, sizeof err) != 0)
        return 0;
    json_error_t jerr;
    json_t *j = json_loadb((const char *)data, size, JSON_ALLOW_NUL, &jerr);
    if (j == NULL || !json_is_object(j))
        abort(); /* accepted at ingest but unreadable by the worker */
    json_decref(j);
    return 0;
}
