/* gitlab_client.h -- one blocking HTTP exchange with the GitLab instance for the console (OAuth
 * token and userinfo, users and group members). Through base/httpclient.h with a fresh client
 * per call: http(s) only, no redirects followed, gitlab.timeout and gitlab.ca_file. API pool
 * threads. URL parts are escaped with tg_httpc_escape.
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

/* One call: POST form (application/x-www-form-urlencoded) when form is set, else GET; header
 * is one extra "Name: value" line (a credential, say) or NULL. All borrowed. */
struct tg_gitlab_call {
    const char *url;
    const char *form;
    const char *header;
};

/* a->body must be initialised (tg_buf_init); it is replaced by the answer. Returns the HTTP
 * status, or 0 when GitLab did not answer (err says why, naming no secret). */
long tg_gitlab_exchange(const struct tg_config *cfg, const struct tg_gitlab_call *call,
                        struct tg_gitlab_answer *a, char *err, size_t errlen);

#endif
