/* replay_cmd.c -- `tollgate replay`: post recorded GitLab events to a running gateway.
 *
 * Goes through the full path (the webhook endpoint, its token, dedupe, the queue), as GitLab
 * would; for demos, tests and re-sending deliveries a receiver lost. X-Gitlab-Event is taken
 * from the payload's object_kind unless given.
 */
#include "cmd/cli.h"
#include "cmd/commands.h"
#include "base/util.h"

#include <curl/curl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct replay {
    const char *config, *url, *event, *webhook, *key;
};

static const char *event_header(const char *object_kind)
{
    static const struct {
        const char *kind, *header;
    } map[] = {{"pipeline", "Pipeline Hook"},
               {"build", "Job Hook"},
               {"push", "Push Hook"},
               {"tag_push", "Tag Push Hook"},
               {"merge_request", "Merge Request Hook"},
               {"deployment", "Deployment Hook"}};
    for (size_t i = 0; object_kind && i < TG_ARRAY_SIZE(map); i++)
        if (strcmp(object_kind, map[i].kind) == 0)
            return map[i].header;
    return NULL;
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    fwrite(p, size, n, arg);
    return size * n;
}

/* Posts one file; returns 0 when the gateway answered 202. */
static int post_file(const struct replay *o, const struct tg_webhook *w, const char *url,
                     const char *path)
{
    size_t len;
    char *body = tg_read_file(path, &len);
    json_t *j = body ? json_loadb(body, len, 0, NULL) : NULL;
    const char *event =
        o->event ? o->event : event_header(json_string_value(json_object_get(j, "object_kind")));
    long status = 0;
    if (body == NULL || event == NULL) {
        fprintf(stderr, "%s: %s\n", path,
                body ? "cannot tell the event type (give --event)" : "cannot read");
        goto out;
    }
    CURL *c = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    char *hv[] = {tg_xasprintf("X-Gitlab-Event: %s", event),
                  tg_xasprintf("X-Gitlab-Token: %.*s", (int)w->token.len, w->token.value),
                  o->key ? tg_xasprintf("Idempotency-Key: %s", o->key) : NULL};
    for (size_t i = 0; i < TG_ARRAY_SIZE(hv) && hv[i]; i++)
        h = curl_slist_append(h, hv[i]);
    printf("%s: ", path);
    fflush(stdout);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, stdout);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK)
        printf("%s\n", curl_easy_strerror(rc));
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    for (size_t i = 0; i < TG_ARRAY_SIZE(hv); i++)
        free(hv[i]);
out:
    json_decref(j);
    free(body);
    return status == 202 ? 0 : 1;
}

static int replay_usage(FILE *out)
{
    fprintf(out,
            "usage: tollgate replay -c FILE [--url URL] [--webhook NAME] [--event HEADER] [--key "
            "KEY] EVENT.json...\n"
            "  Posts each recorded webhook body to the gateway's /hooks/gitlab with the webhook's\n"
            "  token (the first configured one unless --webhook). --url defaults to the first\n"
            "  listen address. Exit 0 when every delivery was accepted (202).\n");
    return out == stdout ? 0 : 2;
}

int tg_cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"url", required_argument, NULL, 'u'},
                                         {"event", required_argument, NULL, 'e'},
                                         {"webhook", required_argument, NULL, 'w'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct replay o = {0};
    int ch, status = 0;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (ch == 'c')
            o.config = optarg;
        else if (ch == 'u')
            o.url = optarg;
        else if (ch == 'e')
            o.event = optarg;
        else if (ch == 'w')
            o.webhook = optarg;
        else if (ch == 'k')
            o.key = optarg;
        else
            return replay_usage(ch == 'h' ? stdout : stderr);
    }
    if (o.config == NULL || optind >= argc)
        return replay_usage(stderr);
    struct tg_config *cfg = tg_cli_config(o.config);
    if (cfg == NULL)
        return 2;
    const struct tg_webhook *w = &cfg->webhooks[0];
    for (size_t i = 0; o.webhook && i < cfg->nwebhooks; i++)
        if (strcmp(cfg->webhooks[i].name, o.webhook) == 0)
            w = &cfg->webhooks[i];
    char *url =
        o.url ? tg_xstrdup(o.url)
              : tg_xasprintf("%s://%s/hooks/gitlab", cfg->listen[0].tls_cert ? "https" : "http",
                             cfg->listen[0].address);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (int i = optind; i < argc; i++)
        status |= post_file(&o, w, url, argv[i]);
    curl_global_cleanup();
    free(url);
    tg_config_unref(cfg);
    return status;
}
