/* defectdojo.h -- one POST {url}/api/v2/reimport-scan/ (multipart/form-data), the report
 * streamed from a file, and DefectDojo's answer read.
 *
 * Through base/httpclient.h, a fresh client per call. Forwarder threads and the CLI; nothing
 * global.
 */
#ifndef TG_DEFECTDOJO_H
#define TG_DEFECTDOJO_H

#include "forward/dojo_config.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

/* The form fields besides the file, in the order sent. Strings borrowed. */
struct tg_dojo_form {
    const char *scan_type;
    const char *product_type_name, *product_name, *engagement_name, *test_title;
    const char *build_id, *commit_hash, *branch_tag, *version, *scm_uri, *environment;
    const char *file_name;   /* the artifact's base name */
    const atomic_int *abort; /* optional: once nonzero the upload stops (process stopping) */
};

enum tg_dojo_kind {
    TG_DOJO_OK,    /* 201 */
    TG_DOJO_RETRY, /* no answer, 429 or 5xx */
    TG_DOJO_FINAL, /* any other answer (400 field errors, 404): reason says why */
    TG_DOJO_KEY,   /* 401, 403: the key is wrong or lacks rights; no retry, but the job waits in
                      the dead-letter list for a requeue once the key is fixed */
};

struct tg_dojo_answer {
    enum tg_dojo_kind kind;
    long status;             /* 0: no answer */
    uint64_t retry_after_ms; /* Retry-After, 0 when absent */
    json_t *result;          /* OK: test_id, engagement_id, product_id, product_type_id,
                                statistics (new reference) */
    char reason[512];        /* RETRY/FINAL: the network error or DefectDojo's own words */
};

/* One upload: the form, and the report's size bytes read from file (rewound to offset 0 when
 * libcurl has to send it again). All borrowed. */
struct tg_dojo_upload {
    const struct tg_dojo_form *form;
    FILE *file;
    uint64_t size;
};

/* Sends up. Fills out; release with tg_dojo_answer_dispose. Never fails otherwise. */
void tg_dojo_reimport(const struct tg_dojo_config *cfg, const struct tg_dojo_upload *up,
                      struct tg_dojo_answer *out);
void tg_dojo_answer_dispose(struct tg_dojo_answer *a);

/* DefectDojo's answer body (status, body bytes) into out: a 201's ids and statistics, or a
 * refusal's reason ({"field": ["message"]}, {"detail": "..."} or the raw text, the key (may be
 * NULL) taken out, then cut and made printable). Any bytes; for fuzzing too. */
void tg_dojo_read_answer(long status, const char *body, size_t len, const struct tg_secret *key,
                         struct tg_dojo_answer *out);

#endif
