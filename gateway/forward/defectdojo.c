/* defectdojo.c -- the reimport-scan call (forwarder threads, the CLI).
 *
 * One multipart/form-data POST through base/httpclient.h (a fresh client per call): the fields
 * as form parts, the file streamed from its FILE with its size, Authorization: Token and
 * Accept: application/json; the answer captured up to 64 KiB, Retry-After read, no redirect
 * followed.
 */
#include "forward/defectdojo.h"
#include "base/buf.h"
#include "base/httpclient.h"
#include "base/retryafter.h"
#include "base/scrub.h"
#include "base/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_MAX (64 * 1024)

static size_t file_read(void *arg, char *buf, size_t cap)
{
    size_t got = fread(buf, 1, cap, arg);
    return got == 0 && ferror((FILE *)arg) ? TG_HTTPC_READ_ABORT : got;
}

static int file_seek(void *arg, uint64_t offset)
{
    return fseeko(arg, (off_t)offset, SEEK_SET) == 0 ? 0 : -1;
}

/* A field part; an absent or empty value is not sent. */
static void field(struct tg_httpc_part *parts, size_t *n, const char *name, const char *value)
{
    if (value == NULL || *value == '\0')
        return;
    parts[*n] = (struct tg_httpc_part){.name = name, .value = value};
    (*n)++;
}

/* The form in the order sent: scan_type, the file, the names and flags, the tags. Returns the
 * parts (caller frees) and their count in *n. */
static struct tg_httpc_part *build_form(const struct tg_dojo_config *cfg,
                                        const struct tg_dojo_upload *up, size_t *n)
{
    const struct tg_dojo_form *f = up->form;
    const char *pairs[][2] = {{"product_type_name", f->product_type_name},
                              {"product_name", f->product_name},
                              {"engagement_name", f->engagement_name},
                              {"test_title", f->test_title},
                              {"auto_create_context", "true"},
                              {"build_id", f->build_id},
                              {"commit_hash", f->commit_hash},
                              {"branch_tag", f->branch_tag},
                              {"version", f->version},
                              {"source_code_management_uri", f->scm_uri},
                              {"environment", f->environment},
                              {"close_old_findings", cfg->close_old_findings ? "true" : "false"},
                              {"minimum_severity", cfg->minimum_severity},
                              {"active", "true"},
                              {"verified", "false"}};
    size_t ntags = 0;
    while (cfg->tags && cfg->tags[ntags])
        ntags++;
    struct tg_httpc_part *parts = tg_xcalloc(2 + TG_ARRAY_SIZE(pairs) + ntags, sizeof *parts);
    *n = 0;
    field(parts, n, "scan_type", f->scan_type);
    parts[(*n)++] = (struct tg_httpc_part){.name = "file",
                                           .filename = f->file_name,
                                           .type = "application/json",
                                           .size = up->size,
                                           .read = file_read,
                                           .seek = file_seek,
                                           .arg = up->file};
    for (size_t i = 0; i < TG_ARRAY_SIZE(pairs); i++)
        field(parts, n, pairs[i][0], pairs[i][1]);
    for (size_t i = 0; i < ntags; i++)
        field(parts, n, "tags", cfg->tags[i]);
    return parts;
}

/* DefectDojo may quote what it was sent: the key never leaves in a reason (logs, the audit
 * trail, the deployment record and the API all show reasons). Every whole occurrence in
 * text[0..*len) becomes the mark; the text is rewritten in b. */
static void redact_key(struct tg_buf *b, const char *text, size_t len, const struct tg_secret *key)
{
    const char *p = text, *end = text + len, *at;
    while (key && key->value && key->len &&
           (at = memmem(p, (size_t)(end - p), key->value, key->len)) != NULL) {
        tg_buf_append(b, p, (size_t)(at - p));
        tg_buf_puts(b, TG_SCRUB_MARK);
        p = at + key->len;
    }
    tg_buf_append(b, p, (size_t)(end - p));
}

/* A text cut at a length may end in the first part of the key: that part goes too. */
#define KEY_PART_MIN 4 /* shorter ends are ordinary words as often as key pieces */
static void redact_cut_key(char *text, size_t cap, const struct tg_secret *key)
{
    size_t n = strlen(text);
    if (key == NULL || key->value == NULL)
        return;
    for (size_t k = key->len - 1; k >= KEY_PART_MIN && k < key->len; k--)
        if (n >= k && memcmp(text + n - k, key->value, k) == 0) {
            snprintf(text + n - k, cap - (n - k), "%s", TG_SCRUB_MARK);
            return;
        }
}

void tg_dojo_reimport(const struct tg_dojo_config *cfg, const struct tg_dojo_upload *up,
                      struct tg_dojo_answer *out)
{
    size_t nparts;
    struct tg_httpc_part *parts = build_form(cfg, up, &nparts);
    char *url = tg_xasprintf("%s/api/v2/reimport-scan/", cfg->url);
    char *auth = tg_xasprintf("Authorization: Token %.*s", (int)cfg->api_key.len,
                              cfg->api_key.value ? cfg->api_key.value : "");
    const char *headers[] = {auth, "Accept: application/json", NULL};
    struct tg_httpc_request req = {
        .url = url,
        .headers = headers,
        .parts = parts,
        .nparts = nparts,
        .timeout_ms = cfg->timeout_ms,
        .ca_file = cfg->ca_file,
        .body_cap = ANSWER_MAX,
        .abort = up->form->abort, /* a stopping process does not wait for DefectDojo */
    };
    struct tg_httpc_response res;
    struct tg_httpc *c = tg_httpc_new();
    int rc = tg_httpc_perform(c, &req, &res);
    tg_httpc_free(c);
    tg_dojo_read_answer(res.status, res.body.data ? res.body.data : "", res.body.len, &cfg->api_key,
                        out);
    out->retry_after_ms = res.retry_after_ms;
    if (rc != 0)
        snprintf(out->reason, sizeof out->reason, "DefectDojo: %s", res.error);
    tg_httpc_response_dispose(&res);
    memset(auth, 0, strlen(auth));
    free(auth);
    free(url);
    free(parts);
}

void tg_dojo_answer_dispose(struct tg_dojo_answer *a)
{
    json_decref(a->result);
    memset(a, 0, sizeof *a);
}

/* Printable ASCII of at most n bytes of s, into out. */
static void printable(char *out, size_t outlen, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < outlen; i++)
        out[o++] = isprint((unsigned char)s[i]) ? s[i] : '?';
    out[o] = '\0';
}

/* {"field": ["message", ...], ...} or {"detail": "..."} as "field: message; ..." */
static void field_errors(const json_t *o, struct tg_buf *b)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)o, k, v)
    {
        if (b->len)
            tg_buf_puts(b, "; ");
        if (strcmp(k, "detail") != 0 && strcmp(k, "message") != 0)
            tg_buf_printf(b, "%s: ", k);
        if (json_is_string(v))
            tg_buf_puts(b, json_string_value(v));
        for (size_t i = 0; json_is_array(v) && i < json_array_size(v); i++)
            if (json_is_string(json_array_get(v, i)))
                tg_buf_printf(b, "%s%s", i ? ", " : "", json_string_value(json_array_get(v, i)));
    }
}

/* The refusal's words, the key taken out over the whole text before it is cut (a key split
 * by the cut would otherwise survive in part). */
static void read_refusal(long status, json_t *doc, const char *body, size_t len,
                         const struct tg_secret *key, struct tg_dojo_answer *out)
{
    struct tg_buf words, clean;
    tg_buf_init(&words);
    tg_buf_init(&clean);
    if (json_is_object(doc))
        field_errors(doc, &words);
    if (words.len)
        redact_key(&clean, words.data, words.len, key);
    else
        redact_key(&clean, body, len, key);
    char text[400];
    printable(text, sizeof text, clean.data ? clean.data : "", clean.len);
    if (clean.len >= sizeof text)
        redact_cut_key(text, sizeof text, key);
    snprintf(out->reason, sizeof out->reason, "DefectDojo answered %ld: %s", status, text);
    tg_buf_dispose(&words);
    tg_buf_dispose(&clean);
}

void tg_dojo_read_answer(long status, const char *body, size_t len, const struct tg_secret *key,
                         struct tg_dojo_answer *out)
{
    memset(out, 0, sizeof *out);
    out->status = status;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    static const char *const ids[] = {"test_id", "engagement_id", "product_id", "product_type_id"};
    if (status == 201 && json_is_object(doc) && json_is_integer(json_object_get(doc, "test_id"))) {
        out->kind = TG_DOJO_OK;
        out->result = json_object();
        for (size_t i = 0; i < TG_ARRAY_SIZE(ids); i++)
            if (json_is_integer(json_object_get(doc, ids[i])))
                json_object_set(out->result, ids[i], json_object_get(doc, ids[i]));
        if (json_is_object(json_object_get(doc, "statistics")))
            json_object_set(out->result, "statistics", json_object_get(doc, "statistics"));
    } else if (status == 0 || status == 429 || status >= 500) {
        out->kind = TG_DOJO_RETRY;
        read_refusal(status, doc, body, len, key, out);
    } else {
        out->kind = status == 401 || status == 403 ? TG_DOJO_KEY : TG_DOJO_FINAL;
        read_refusal(status, doc, body, len, key, out);
        if (status == 201)
            snprintf(out->reason, sizeof out->reason,
                     "DefectDojo answered 201 without a test_id: not a reimport-scan answer");
    }
    json_decref(doc);
}
