/* fuzz_slack_form.c -- what a chat request's body goes through, on arbitrary input: the form
 * fields (URL decoding), the command grammar on the `text` field, the block_actions payload JSON
 * on the `payload` field (and on the whole input), Mattermost's button context, and the Slack
 * signature check over the bytes. */
#include "api/chatops.h"
#include "api/chatops_slack.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void command(const char *text)
{
    struct tg_chatops_command cmd;
    tg_chatops_parse(text, &cmd);
    tg_chatops_command_dispose(&cmd);
}

static void click(const char *payload)
{
    struct tg_slack_click c;
    if (tg_slack_read_click(payload, &c) == 0 && strlen(c.id) > TG_APPROVAL_ID_MAX)
        abort();
    tg_slack_click_dispose(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const fields[] = {"text",  "user_id",      "user_name",
                                         "token", "response_url", "command"};
    char *body = malloc(size + 1);
    memcpy(body, data, size);
    body[size] = '\0';
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        char *v = tg_chatops_form_value(body, size, fields[i]);
        if (v && i == 0)
            command(v);
        free(v);
    }
    char *payload = tg_chatops_form_value(body, size, "payload");
    if (payload)
        click(payload);
    free(payload);
    click(body);
    command(body);
    const struct tg_slack_signed req = {
        "1531420618", "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", body,
        size};
    tg_slack_verify((struct tg_bytes){"8f742231b10e8888abcd99yyyzzz85a5", 32}, &req, 1531420618);
    free(body);
    return 0;
}
