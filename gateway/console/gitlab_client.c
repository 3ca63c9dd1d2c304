/* gitlab_client.c -- one blocking HTTP exchange with GitLab for the console (gitlab_client.h). */
#include "console/gitlab_client.h"
#include "base/util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct tg_gitlab_answer *a = arg;
    if (a->body.len + size * n > TG_GITLAB_ANSWER_MAX)
        a->over = 1;
    else
        tg_buf_append(&a->body, p, size * n);
    return size * n;
}

long tg_gitlab_exchange(const struct tg_config *cfg, const char *url, const char *form,
                        const char *header, struct tg_gitlab_answer *a, char *err, size_t errlen)
{
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Accept: application/json");
    long status = 0;
    if (header)
        h = curl_slist_append(h, header);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->gitlab.timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    if (cfg->gitlab.ca_file)
        curl_easy_setopt(c, CURLOPT_CAINFO, cfg->gitlab.ca_file);
    if (form)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, form);
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    else
        snprintf(err, errlen, "GitLab did not answer (%s)", curl_easy_strerror(rc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return status;
}

char *tg_gitlab_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *out = tg_xstrdup(e ? e : "");
    curl_free(e);
    return out;
}
