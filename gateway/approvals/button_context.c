/* button_context.c -- signing and checking Mattermost button contexts (see button_context.h). */
#include "approvals/button_context.h"
#include "base/crypto.h"

#include <stdio.h>
#include <string.h>

/* What a context signs. */
struct signed_fields {
    const char *id;
    long long round;
    const char *action;
    long long expires_s;
};

/* HMAC over "v1\nID\nROUND\nACTION\nEXPIRES" as hex into out (65 bytes). */
static void sign(const unsigned char key[TG_BUTTON_KEY_LEN], const struct signed_fields *f,
                 char out[TG_SHA256_HEX_LEN + 1])
{
    char msg[160];
    unsigned char mac[TG_SHA256_LEN];
    int n = snprintf(msg, sizeof msg, "v1\n%s\n%lld\n%s\n%lld", f->id, f->round, f->action,
                     f->expires_s);
    const struct tg_bytes parts[] = {{msg, n > 0 && (size_t)n < sizeof msg ? (size_t)n : 0}};
    tg_hmac_sha256((struct tg_bytes){key, TG_BUTTON_KEY_LEN}, parts, 1, mac);
    tg_hex_encode(mac, sizeof mac, out);
}

json_t *tg_button_context_new(const unsigned char key[TG_BUTTON_KEY_LEN], const char *id, int round,
                              const char *action, long long expires_s)
{
    char sig[TG_SHA256_HEX_LEN + 1];
    sign(key, &(struct signed_fields){id, round, action, expires_s}, sig);
    return json_pack("{s:s, s:s, s:i, s:I, s:s}", "action", action, "id", id, "round", round,
                     "expires", (json_int_t)expires_s, "sig", sig);
}

static int hex_id(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && n <= TG_APPROVAL_ID_MAX && strspn(s, "0123456789abcdef") == n;
}

int tg_button_context_check(const unsigned char key[TG_BUTTON_KEY_LEN], json_t *context,
                            uint64_t now_s, struct tg_button_click *out, const char **why)
{
    const char *id = json_string_value(json_object_get(context, "id"));
    const char *action = json_string_value(json_object_get(context, "action"));
    const char *given = json_string_value(json_object_get(context, "sig"));
    json_t *round = json_object_get(context, "round"),
           *expires = json_object_get(context, "expires");
    char want[TG_SHA256_HEX_LEN + 1];
    memset(out, 0, sizeof *out);
    *why = "malformed context";
    if (id == NULL || !hex_id(id) || action == NULL ||
        (strcmp(action, "approve") && strcmp(action, "deny")) || !json_is_integer(round) ||
        json_integer_value(round) < 0 || json_integer_value(round) > 1000000 ||
        !json_is_integer(expires) || given == NULL || strlen(given) != TG_SHA256_HEX_LEN)
        return -1;
    struct signed_fields f = {id, json_integer_value(round), action, json_integer_value(expires)};
    sign(key, &f, want);
    *why = "bad context signature";
    if (!tg_ct_equal(want, TG_SHA256_HEX_LEN, given, TG_SHA256_HEX_LEN))
        return -1;
    *why = "expired context";
    if (json_integer_value(expires) < 0 || (uint64_t)json_integer_value(expires) < now_s)
        return -1;
    snprintf(out->id, sizeof out->id, "%s", id);
    out->round = (int)json_integer_value(round);
    out->deny = strcmp(action, "deny") == 0;
    *why = "";
    return 0;
}
