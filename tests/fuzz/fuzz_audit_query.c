/* fuzz_audit_query.c -- the audit API's query-string parser and cursor decoder on arbitrary
 * input (the first line is the query string, the rest a cursor), and the match of a parsed
 * query against a fixed record. */
#include "audit/audit_query.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char record[] = "{\"action\":\"decided\",\"actor\":\"gitlab:dora\",\"pipeline\":100,"
                             "\"project\":\"shop/cart\",\"ref\":\"dev\","
                             "\"seq\":7,\"time\":\"2026-11-26T14:21:02.250Z\"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), err[256], cur[TG_AUDIT_CURSOR_MAX];
    struct tg_audit_query q;
    long long seq;
    memcpy(s, data, size);
    s[size] = '\0';
    char *nl = strchr(s, '\n');
    if (nl)
        *nl = '\0';
    if (tg_audit_query_parse(s, &q, err, sizeof err) == 0) {
        json_t *rec = json_loads(record, 0, NULL);
        (void)tg_audit_query_match(&q, rec);
        json_decref(rec);
        tg_audit_cursor_encode(&q, 4711, cur);
        if (tg_audit_cursor_decode(&q, cur, &seq) != 0 || seq != 4711)
            abort(); /* what we hand out must come back */
    }
    if (nl)
        (void)tg_audit_cursor_decode(&q, nl + 1, &seq);
    tg_audit_query_dispose(&q);
    free(s);
    return 0;
}
