/* test_jsonval.c -- the ingest path's validator: one JSON object, nothing else. */
#include "http/jsonval.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

struct row {
    const char *name;
    const char *body;
    size_t len; /* 0: strlen */
    int ok;
    const char *reason; /* substring of the error, or NULL */
};

static const struct row rows[] = {
    {"object", "{\"object_kind\":\"pipeline\",\"builds\":[{\"id\":1}]}", 0, 1, NULL},
    {"white space around", " \n\t{\"a\":1}\r\n ", 0, 1, NULL},
    {"empty object", "{}", 0, 1, NULL},
    {"nul escape in string", "{\"code\":\"a\\u0000b\"}", 0, 1, NULL},
    {"unicode", "{\"t\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", 0, 1, NULL},
    {"array", "[1,2]", 0, 0, "not a JSON object"},
    {"string", "\"x\"", 0, 0, "not a JSON object"},
    {"empty", "", 0, 0, "empty"},
    {"only spaces", "   ", 0, 0, "empty"},
    {"truncated", "{\"a\":", 0, 0, "byte"},
    {"two objects", "{\"a\":1} {\"b\":2}", 0, 0, "byte"},
    {"trailing garbage", "{\"a\":1}x", 0, 0, "byte"},
    {"trailing partial string", "{}\"\xd8\xa4", 0, 0, "after the object"},
    {"trailing partial literal", "{} tr", 0, 0, "byte"},
    {"integer beyond 64 bits", "{\"a\":[17777777777777777777777777777777]}", 0, 0, "out of range"},
    {"largest int64", "{\"a\":9223372036854775807,\"b\":-9223372036854775808}", 0, 1, NULL},
    {"real overflow", "{\"a\":1e400}", 0, 0, "out of range"},
    {"small real", "{\"a\":1.5e-300,\"b\":0.25}", 0, 1, NULL},
    {"surrogate pair escape", "{\"a\":\"\\ud83d\\ude00\"}", 0, 1, NULL},
    {"lone high surrogate escape", "{\"a\":\"\\ud800x\"}", 0, 0, "surrogate"},
    {"lone low surrogate escape", "{\"a\":\"\\udc00\"}", 0, 0, "surrogate"},
    {"bad escape", "{\"a\":\"\\q\"}", 0, 0, "bad escape"},
    {"leading zero", "{\"a\":01}", 0, 0, "byte"},
    {"bare minus", "{\"a\":-}", 0, 0, "bad number"},
    {"missing colon", "{\"a\" 1}", 0, 0, "expected ':'"},
    {"unquoted key", "{a:1}", 0, 0, "string key"},
    {"nested arrays", "{\"a\":[[],[1,[2,{}]],{\"b\":[true,false,null]}]}", 0, 1, NULL},
    {"bad literal", "{\"a\":tru}", 0, 0, "byte"},
    {"single quotes", "{'a':1}", 0, 0, "byte"},
    {"comment", "{/*c*/\"a\":1}", 0, 0, "byte"},
    {"invalid utf-8", "{\"a\":\"\xff\"}", 0, 0, "byte"},
    {"overlong utf-8", "{\"a\":\"\xc0\xaf\"}", 0, 0, "byte"},
    {"raw nul byte", "{\"a\":\"x\0y\"}", 11, 0, "byte"},
    {"trailing comma", "{\"a\":1,}", 0, 0, "byte"},
    {"vertical tab as space", "{\"a\":1,\v\"b\":2}", 0, 0, "control character"},
    {"form feed as space", "{\f}", 0, 0, "control character"},
    {"raw newline in string", "{\"a\":\"x\ny\"}", 0, 0, "byte"},
};

static char *nested(int depth)
{
    char *s = malloc((size_t)depth * 6 + 16);
    size_t n = 0;
    s[n++] = '{';
    for (int i = 1; i < depth; i++)
        memcpy(s + n, "\"a\":{", 5), n += 5;
    for (int i = 0; i < depth; i++)
        s[n++] = '}';
    s[n] = '\0';
    return s;
}

int main(void)
{
    char err[256];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *r = &rows[i];
        size_t len = r->len ? r->len : strlen(r->body);
        err[0] = '\0';
        int rc = tg_json_validate_object(r->body, len, err, sizeof err);
        UNIT_CHECK(r->name, (rc == 0) == r->ok);
        if (r->reason)
            UNIT_CHECK(r->name, strstr(err, r->reason) != NULL);
    }
    char *ok = nested(TG_JSON_MAX_DEPTH), *deep = nested(TG_JSON_MAX_DEPTH + 1),
         *huge = nested(100000);
    UNIT_CHECK("at the depth limit", tg_json_validate_object(ok, strlen(ok), err, sizeof err) == 0);
    UNIT_CHECK("over the depth limit",
               tg_json_validate_object(deep, strlen(deep), err, sizeof err) == -1);
    UNIT_CHECK("depth reason", strstr(err, "deeper") != NULL);
    UNIT_CHECK("100000 levels", tg_json_validate_object(huge, strlen(huge), err, sizeof err) == -1);
    free(ok), free(deep), free(huge);
    return unit_summary("test_jsonval");
}
