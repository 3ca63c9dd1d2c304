/* gitlab_client.h -- one blocking HTTP exchange with the GitLab instance for the console (OAuth
 * token and userinfo, users and group members). A fresh libcurl handle per call, http(s)
 * only, no redirects followed, gitlab.timeout and gitlab.ca_file. API pool threads.
 */
#ifndef TG_GITLAB_CLIENT_H
#define TG_GITLAB_CLIENT_H

#include "base/buf.h"
#include "base/config.h"

#define TG_GITLAB_ANSWER_MAX (256u * 1024u)

struct tg_gitlab_answer {
    struct tg_buf body; /* the first TG_GITLAB_ANSWER_MAX bytes */
    int over;           /* the body was longer */
};

/* POST form (application/x-www-form-urlencoded) when form is set, else GET; header is one
 * extra "Name: value" line or NULL. a->body must be initialised (tg_buf_init). Returns the
 * HTTP status, or 0 when GitLab did not answer (err says why, naming no secret). */
long tg_gitlab_exchange(const struct tg_config *cfg, const char *url, const char *form,
                        const char *header, struct tg_gitlab_answer *a, char *err, size_t errlen);

/* URL-encodes s (curl_easy_escape); caller frees. */
char *tg_gitlab_escape(const char *s);

#endif
