/* defectdojo.c -- the reimport-scan call (forwarder threads, the CLI).
 *
 * curl options set: CURLOPT_URL, CURLOPT_HTTPHEADER (Authorization: Token, Accept, "Expect:"),
 * CURLOPT_MIMEPOST (fields as curl_mime_data, the file as curl_mime_data_cb with its size, a
 * read and a seek callback over a FILE), CURLOPT_NOSIGNAL, CURLOPT_TIMEOUT_MS,
 * CURLOPT_CONNECTTIMEOUT_MS, CURLOPT_USERAGENT, CURLOPT_PROTOCOLS_STR "http,https",
 * CURLOPT_WRITEFUNCTION/WRITEDATA (answer capped at 64 KiB), CURLOPT_HEADERFUNCTION/HEADERDATA
 * (Retry-After), CURLOPT_CAINFO when ca_file is set. No redirects are followed.
 */
#include "forward/defectdojo.h"
#include "base/buf.h"
#include "base/retryafter.h"
#include "base/scrub.h"
#include "base/util.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#define ANSWER_MAX (64 * 1024)

struct exchange {
    struct tg_buf body;
    int body_full;
    uint64_t retry_after_ms;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct exchange *ex = arg;
    size_t len = size * n;
    if (!ex->body_full && ex->body.len + len <= ANSWER_MAX)
        tg_buf_append(&ex->body, p, len);
    else
        ex->body_full = 1; /* later pieces would make a non-contiguous answer */
    return len;
}

/* Retry-After (RFC 9110 section 10.2.3): delay-seconds or an HTTP-date; a far value is kept
 * (the backoff clamps it to its cap), a past date or garbage is none. */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct exchange *ex = arg;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        char v[64];
        size_t vl = len - 12 < sizeof v - 1 ? len - 12 : sizeof v - 1;
        memcpy(v, p + 12, vl);
        v[vl] = '\0';
        ex->retry_after_ms = tg_retry_after_ms(v, tg_now_ms());
    }
    return len;
}
/* A stopping process does not wait for a hanging DefectDojo: libcurl calls this about once a
 * second and at every chunk. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return arg && atomic_load((const atomic_int *)arg) != 0;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
    size_t got = fread(buf, 1, size * n, arg);
    return got == 0 && ferror((FILE *)arg) ? CURL_READFUNC_ABORT : got;
}

static int on_seek(void *arg, curl_off_t offset, int origin)
{
    return fseeko(arg, (off_t)offset, origin) == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
}

static void field(curl_mime *m, const char *name, const char *value)
{
    if (value == NULL || *value == '\0')
        return;
    curl_mimepart *p = curl_mime_addpart(m);
    curl_mime_name(p, name);
    curl_mime_data(p, value, CURL_ZERO_TERMINATED);
}

static curl_mime *build_form(CURL *c, const struct tg_dojo_config *cfg,
                             const struct tg_dojo_form *f, FILE *file, uint64_t size)
{
    curl_mime *m = curl_mime_init(c);
    field(m, "scan_type", f->scan_type);
    curl_mimepart *p = curl_mime_addpart(m);
    curl_mime_name(p, "file");
    curl_mime_filename(p, f->file_name);
    curl_mime_type(p, "application/json");
    curl_mime_data_cb(p, (curl_off_t)size, on_read, on_seek, NULL, file);
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
    for (size_t i = 0; i < TG_ARRAY_SIZE(pairs); i++)
        field(m, pairs[i][0], pairs[i][1]);
    for (char **t = cfg->tags; t && *t; t++)
        field(m, "tags", *t);
    return m;
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

void tg_dojo_reimport(const struct tg_dojo_config *cfg, const struct tg_dojo_form *form, FILE *file,
                      uint64_t size, struct tg_dojo_answer *out)
{
    struct exchange ex = {0};
    tg_buf_init(&ex.body);
    CURL *c = curl_easy_init();
    char *url = tg_xasprintf("%s/api/v2/reimport-scan/", cfg->url);
    char *auth = tg_xasprintf("Authorization: Token %.*s", (int)cfg->api_key.len,
                              cfg->api_key.value ? cfg->api_key.value : "");
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Accept: application/json");
    h = curl_slist_append(h, "Expect:");
    curl_mime *m = build_form(c, cfg, form, file, size);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, m);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(cfg->timeout_ms < 5000 ? cfg->timeout_ms : 5000));
    curl_easy_setopt(c, CURLOPT_USERAGENT, "tollgate/1.0");
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &ex);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &ex);
    if (cfg->ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->ca_file);
    if (form->abort) {
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)form->abort);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    }
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    tg_dojo_read_answer(status, ex.body.data ? ex.body.data : "", ex.body.len, &cfg->api_key, out);
    out->retry_after_ms = ex.retry_after_ms;
    if (rc != CURLE_OK)
        snprintf(out->reason, sizeof out->reason, "DefectDojo: %s", curl_easy_strerror(rc));
    curl_mime_free(m);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    memset(auth, 0, strlen(auth));
    free(auth);
    free(url);
    tg_buf_dispose(&ex.body);
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
