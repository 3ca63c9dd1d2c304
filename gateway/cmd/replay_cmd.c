/* replay_cmd.c -- `tollgate replay`: post recorded GitLab events to a running gateway.
 *
 * Goes through the full path (the webhook endpoint, its token, dedupe, the queue), as GitLab
 * would; for demos, tests and re-sending deliveries a receiver lost. X-Gitlab-Event is taken
 * from the payload's object_kind unless given.
 */
#include "cmd/cli.h"
#include "cmd/commands.h"
#include "base/util.h"
#include "base/httpclient.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLAY_TIMEOUT_MS 15000

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

static int collect(void *arg, long status, const char *p, size_t n)
{
    (void)status;
    fwrite(p, 1, n, arg);
    return TG_HTTPC_TAKEN;
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
    char *hv[] = {tg_xasprintf("X-Gitlab-Event: %s", event),
                  tg_xasprintf("X-Gitlab-Token: %.*s", (int)w->token.len, w->token.value),
                  o->key ? tg_xasprintf("Idempotency-Key: %s", o->key) : NULL};
    const char *headers[] = {"Content-Type: application/json", hv[0], hv[1], hv[2], NULL};
    struct tg_httpc_request req = {.url = url,
                                   .headers = headers,
                                   .body = body,
                                   .bodylen = len,
                                   .timeout_ms = REPLAY_TIMEOUT_MS,
                                   .connect_timeout_ms = REPLAY_TIMEOUT_MS,
                                   .on_body = collect,
                                   .body_arg = stdout};
    struct tg_httpc_response res;
    struct tg_httpc *c = tg_httpc_new();
    printf("%s: ", path);
    fflush(stdout);
    if (tg_httpc_perform(c, &req, &res))
        printf("%s\n", res.error);
    status = res.status;
    tg_httpc_response_dispose(&res);
    tg_httpc_free(c);
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
    tg_httpc_global_init();
    for (int i = optind; i < argc; i++)
        status |= post_file(&o, w, url, argv[i]);
    tg_httpc_global_cleanup();
    free(url);
    tg_config_unref(cfg);
    return status;
}
