/* test_slack.c -- Slack request signatures against the documented vector (with "now" pinned),
 * form bodies, and the /tollgate command grammar shared with Mattermost. */
#include "api/chatops.h"
#include "api/chatops_slack.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

/* https://api.slack.com/authentication/verifying-requests-from-slack (its worked example). */
#define SECRET "8f742231b10e8888abcd99yyyzzz85a5"
#define TS     "1531420618"
#define NOW    1531420618ULL
#define BODY                                                                                       \
    "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id="         \
    "G8PSS9T3V&"                                                                                   \
    "channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&" \
    "response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%"            \
    "2F96rGlfmibIGlgcZRskXaIFfN&"                                                                  \
    "trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
#define GOOD "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

struct sig_row {
    const char *name;
    const char *secret, *ts, *sig, *body;
    unsigned long long now;
    enum tg_slack_verdict want;
};

static const struct sig_row sig_rows[] = {
    {"documented vector", SECRET, TS, GOOD, BODY, NOW, TG_SLACK_OK},
    {"300 s later", SECRET, TS, GOOD, BODY, NOW + 300, TG_SLACK_OK},
    {"300 s earlier", SECRET, TS, GOOD, BODY, NOW - 300, TG_SLACK_OK},
    {"301 s later: stale", SECRET, TS, GOOD, BODY, NOW + 301, TG_SLACK_STALE},
    {"301 s earlier: from the future", SECRET, TS, GOOD, BODY, NOW - 301, TG_SLACK_STALE},
    {"real clock: stale", SECRET, TS, GOOD, BODY, 1800000000ULL, TG_SLACK_STALE},
    {"body changed by one byte", SECRET, TS, GOOD, BODY "x", NOW, TG_SLACK_MISMATCH},
    {"last hex digit changed", SECRET, TS,
     "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b504", BODY, NOW,
     TG_SLACK_MISMATCH},
    {"other secret", "8f742231b10e8888abcd99yyyzzz85a6", TS, GOOD, BODY, NOW, TG_SLACK_MISMATCH},
    {"secret hex-decoded would be wrong", "8f742231b10e8888", TS, GOOD, BODY, NOW,
     TG_SLACK_MISMATCH},
    {"re-stamped: same signature, other timestamp", SECRET, "1531420619", GOOD, BODY, NOW,
     TG_SLACK_MISMATCH},
    {"upper-case hex", SECRET, TS,
     "v0=A2114D57B48EAC39B9AD189DD8316235A7B4A8D21A10BD27519666489C69B503", BODY, NOW,
     TG_SLACK_MISMATCH},
    {"v1 prefix", SECRET, TS, "v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
     BODY, NOW, TG_SLACK_MALFORMED},
    {"short signature", SECRET, TS, "v0=a2114d57", BODY, NOW, TG_SLACK_MALFORMED},
    {"empty signature", SECRET, TS, "", BODY, NOW, TG_SLACK_MALFORMED},
    {"timestamp not a number", SECRET, "15314206l8", GOOD, BODY, NOW, TG_SLACK_MALFORMED},
    {"negative timestamp", SECRET, "-1531420618", GOOD, BODY, NOW, TG_SLACK_MALFORMED},
    {"missing timestamp", SECRET, NULL, GOOD, BODY, NOW, TG_SLACK_MISSING},
    {"missing signature", SECRET, TS, NULL, BODY, NOW, TG_SLACK_MISSING},
};

static void check_signatures(void)
{
    for (size_t i = 0; i < sizeof sig_rows / sizeof sig_rows[0]; i++) {
        const struct sig_row *r = &sig_rows[i];
        const struct tg_slack_signed req = {r->ts, r->sig, r->body, strlen(r->body)};
        enum tg_slack_verdict got =
            tg_slack_verify((struct tg_bytes){r->secret, strlen(r->secret)}, &req, r->now);
        UNIT_CHECK(r->name, got == r->want);
    }
    UNIT_CHECK("vector is 362 bytes", strlen(BODY) == 362);
    UNIT_STREQ("reason", tg_slack_verdict_reason(TG_SLACK_STALE), "stale timestamp");
}

struct form_row {
    const char *name, *body, *field, *want;
};

static const struct form_row form_rows[] = {
    {"user id", BODY, "user_id", "U2CERLKJA"},
    {"percent-decoded", BODY, "command", "/webhook-collect"},
    {"present but empty", BODY, "text", ""},
    {"url", BODY, "response_url",
     "https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN"},
    {"absent", BODY, "payload", NULL},
    {"a prefix is not a name", "user_id=U1", "user", NULL},
    {"plus is a space", "text=approve+abc+looks%20fine", "text", "approve abc looks fine"},
    {"first of two", "a=1&a=2", "a", "1"},
    {"bad escape kept", "a=%zz%4", "a", "%zz%4"},
    {"name without = is absent", "a&b=2", "a", NULL},
    {"empty body", "", "a", NULL},
    {"trailing &", "a=1&", "a", "1"},
    {"a decoded NUL ends the value", "a=x%00y", "a", "x"},
};

static void check_forms(void)
{
    for (size_t i = 0; i < sizeof form_rows / sizeof form_rows[0]; i++) {
        const struct form_row *r = &form_rows[i];
        char *got = tg_chatops_form_value(r->body, strlen(r->body), r->field);
        UNIT_STREQ(r->name, got, r->want);
        free(got);
    }
}

struct cmd_row {
    const char *name, *text;
    int rc;
    enum tg_chatops_verb verb;
    const char *id, *rest;
};

static const struct cmd_row cmd_rows[] = {
    {"approve", "approve 0123456789ab", 0, TG_CMD_APPROVE, "0123456789ab", NULL},
    {"approve with comment", "  approve 0123456789ab  looks fine to me ", 0, TG_CMD_APPROVE,
     "0123456789ab", "looks fine to me "},
    {"verbs ignore case", "APPROVE abc", 0, TG_CMD_APPROVE, "abc", NULL},
    {"deny needs a reason", "deny 0123456789ab", -1, TG_CMD_HELP, "0123456789ab", NULL},
    {"deny", "deny 0123456789ab CVE reachable", 0, TG_CMD_DENY, "0123456789ab", "CVE reachable"},
    {"status", "status 0123456789ab", 0, TG_CMD_STATUS, "0123456789ab", NULL},
    {"status without id", "status", -1, TG_CMD_HELP, "", NULL},
    {"pending", "pending", 0, TG_CMD_PENDING, "", NULL},
    {"empty is help", "", 0, TG_CMD_HELP, "", NULL},
    {"help", "help", 0, TG_CMD_HELP, "", NULL},
    {"unknown verb", "deploy everything", -1, TG_CMD_HELP, "", NULL},
    {"long id is cut", "status 0123456789abcdef0123456789abcdef", 0, TG_CMD_STATUS,
     "0123456789abcdef0123456789a", NULL},
    {"tabs", "approve\t0123456789ab\tok", 0, TG_CMD_APPROVE, "0123456789ab", "ok"},
};

static void check_commands(void)
{
    for (size_t i = 0; i < sizeof cmd_rows / sizeof cmd_rows[0]; i++) {
        const struct cmd_row *r = &cmd_rows[i];
        struct tg_chatops_command cmd;
        int rc = tg_chatops_parse(r->text, &cmd);
        UNIT_CHECK(r->name, rc == r->rc);
        UNIT_CHECK(r->name, cmd.verb == r->verb);
        UNIT_STREQ(r->name, cmd.id, r->id);
        UNIT_STREQ(r->name, cmd.text, r->rest);
        UNIT_CHECK(r->name, (rc == 0) == (cmd.error == NULL));
        tg_chatops_command_dispose(&cmd);
    }
}

struct click_row {
    const char *name, *payload;
    int rc;
    const char *id;
    int round, deny;
    const char *user;
};

#define CLICK(type, action, value)                                                                 \
    "{\"type\":\"" type                                                                            \
    "\",\"user\":{\"id\":\"U0ALICE\"},\"response_url\":\"https://hooks.slack.com/a\","             \
    "\"actions\":[{\"action_id\":\"" action "\",\"value\":\"" value "\"}]}"

static const struct click_row click_rows[] = {
    {"approve", CLICK("block_actions", "approve", "0123456789ab:1"), 0, "0123456789ab", 1, 0,
     "U0ALICE"},
    {"deny, round 3", CLICK("block_actions", "deny", "0123456789ab:3"), 0, "0123456789ab", 3, 1,
     "U0ALICE"},
    {"no round: the current one", CLICK("block_actions", "approve", "0123456789ab"), 0,
     "0123456789ab", 0, 0, "U0ALICE"},
    {"negative round", CLICK("block_actions", "approve", "0123456789ab:-4"), 0, "0123456789ab", 0,
     0, "U0ALICE"},
    {"id cut at 20 hex", CLICK("block_actions", "approve", "0123456789abcdef0123456:1"), 0,
     "0123456789abcdef0123", 0, 0, "U0ALICE"},
    {"another action", CLICK("block_actions", "snooze", "x"), -1, "", 0, 0, "U0ALICE"},
    {"another interaction", CLICK("view_submission", "approve", "0123456789ab:1"), -1, "", 0, 0,
     "U0ALICE"},
    {"not JSON", "payload", -1, "", 0, 0, ""},
    {"no actions", "{\"type\":\"block_actions\"}", -1, "", 0, 0, ""},
};

static void check_clicks(void)
{
    for (size_t i = 0; i < sizeof click_rows / sizeof click_rows[0]; i++) {
        const struct click_row *r = &click_rows[i];
        struct tg_slack_click c;
        int rc = tg_slack_read_click(r->payload, &c);
        UNIT_CHECK(r->name, rc == r->rc);
        if (rc == 0) {
            UNIT_STREQ(r->name, c.id, r->id);
            UNIT_CHECK(r->name, c.round == r->round && c.deny == r->deny);
            UNIT_STREQ(r->name, c.response_url, "https://hooks.slack.com/a");
        }
        UNIT_STREQ(r->name, c.user, r->user);
        tg_slack_click_dispose(&c);
    }
}

int main(void)
{
    check_signatures();
    check_forms();
    check_commands();
    check_clicks();
    return unit_summary("test_slack");
}
