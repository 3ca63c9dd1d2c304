/* gitlab_client.c -- one blocking HTTP exchange with GitLab for the console (gitlab_client.h). */
#include "console/gitlab_client.h"
#include "base/httpclient.h"

#include <stdio.h>
#include <string.h>

long tg_gitlab_exchange(const struct tg_config *cfg, const struct tg_gitlab_call *call,
                        struct tg_gitlab_answer *a, char *err, size_t errlen)
{
    const char *headers[] = {"Accept: application/json", call->header, NULL};
    struct tg_httpc_request req = {
        .url = call->url,
        .headers = headers,
        .body = call->form,
        .bodylen = call->form ? strlen(call->form) : 0,
        .timeout_ms = cfg->gitlab.timeout_ms,
        .ca_file = cfg->gitlab.ca_file,
        .body_cap = TG_GITLAB_ANSWER_MAX,
    };
    struct tg_httpc_response res;
    struct tg_httpc *c = tg_httpc_new();
    if (tg_httpc_perform(c, &req, &res) != 0)
        snprintf(err, errlen, "GitLab did not answer (%s)", res.error);
    tg_httpc_free(c);
    /* The answer moves to a, not copied: a token answer is wiped there, in its one copy. */
    tg_buf_dispose(&a->body);
    a->body = res.body;
    tg_buf_init(&res.body);
    a->over = res.truncated;
    long status = res.status;
    tg_httpc_response_dispose(&res);
    return status;
}
