/* test_approval.c -- who may approve (the rule table), the rule as read from a decision,
 * deployment ids, chat users to identities, and the chat texts: the shipped templates load,
 * unknown placeholders are load errors, values are escaped for Slack, and the messages carry
 * their buttons. */
#include "approvals/approval.h"
#include "approvals/chat_message.h"
#include "api/chatops.h"
#include "base/crypto.h"
#include "approvals/button_context.h"
#include "unit_files.h"

#include <stdlib.h>
#include <string.h>

static char *none[] = {NULL};
static char *two[] = {"alice", "Bob", NULL};

struct rule_row {
    const char *name;
    char **approvers;
    int prevent_self;
    const char *identity, *user;
    int deny;
    const char *want; /* a fragment of the refusal, NULL: allowed */
    long long identity_id, user_id;
};

static const struct rule_row rule_rows[] = {
    {"anyone mapped may approve", none, 1, "carol", "dora", 0, NULL, 0, 0},
    {"unmapped chat user", none, 1, NULL, "dora", 0, "not mapped", 0, 0},
    {"empty identity", none, 1, "", "dora", 0, "not mapped", 0, 0},
    {"listed approver", two, 1, "alice", "dora", 0, NULL, 0, 0},
    {"listed, other case", two, 1, "bob", "dora", 0, NULL, 0, 0},
    {"not listed", two, 1, "carol", "dora", 0, "carol is not an approver", 0, 0},
    {"not listed may not deny either", two, 1, "carol", "dora", 1, "carol is not an approver", 0,
     0},
    {"self-approval refused", none, 1, "dora", "dora", 0, "dora ran this pipeline", 0, 0},
    {"self-approval refused, other case", none, 1, "Dora", "dora", 0, "ran this pipeline", 0, 0},
    {"self-approval allowed by the rule", none, 0, "dora", "dora", 0, NULL, 0, 0},
    {"one may deny one's own deploy", none, 1, "dora", "dora", 1, NULL, 0, 0},
    {"listed self-approver still refused", two, 1, "alice", "alice", 0, "alice ran this pipeline",
     0, 0},
    {"unknown pipeline user", none, 1, "alice", NULL, 0, NULL, 0, 0},
    /* GitLab user ids: a renamed user is still the pipeline's user */
    {"renamed self-approver refused", none, 1, "dora2", "dora", 0, "user id 77", 77, 77},
    {"renamed may still deny", none, 1, "dora2", "dora", 1, NULL, 77, 77},
    {"other ids", none, 1, "carol", "dora", 0, NULL, 78, 77},
    {"voter id unknown", none, 1, "carol", "dora", 0, NULL, 0, 0},
    {"pipeline user id unknown", none, 1, "carol", "dora", 0, NULL, 78, 0},
    {"same name, other ids: the name still refuses", none, 1, "dora", "dora", 0, "ran", 78, 77},
};

static void check_rules(void)
{
    char buf[256];
    for (size_t i = 0; i < sizeof rule_rows / sizeof rule_rows[0]; i++) {
        const struct rule_row *r = &rule_rows[i];
        struct tg_approval_rule rules = {1, r->approvers, r->prevent_self, 0};
        struct tg_approval_ask ask = {r->identity, r->user, r->deny, r->identity_id, r->user_id};
        const char *got = tg_approval_refusal(&rules, &ask, buf, sizeof buf);
        UNIT_CHECK(r->name, (got == NULL) == (r->want == NULL));
        UNIT_CHECK(r->name, got == NULL || r->want == NULL || strstr(got, r->want) != NULL);
    }
}

struct parse_row {
    const char *name, *decision;
    int required, prevent_self;
    size_t napprovers;
};

static const struct parse_row parse_rows[] = {
    {"full",
     "{\"approvals\":{\"required\":2,\"approvers\":[\"a\",\"b\",3],\"prevent_self_approval\":false}"
     "}",
     2, 0, 2},
    {"absent: defaults", "{\"verdict\":\"needs_approval\"}", 1, 1, 0},
    {"not JSON: defaults", "{{", 1, 1, 0},
    {"NULL: defaults", NULL, 1, 1, 0},
    {"zero required is one", "{\"approvals\":{\"required\":0}}", 1, 1, 0},
    {"wrong types: defaults",
     "{\"approvals\":{\"required\":\"2\",\"approvers\":\"a\",\"prevent_self_approval\":1}}", 1, 1,
     0},
};

static void check_parse(void)
{
    for (size_t i = 0; i < sizeof parse_rows / sizeof parse_rows[0]; i++) {
        const struct parse_row *r = &parse_rows[i];
        struct tg_approval_rule rules;
        tg_approval_rules_parse(r->decision, &rules);
        UNIT_CHECK(r->name, rules.required == r->required);
        UNIT_CHECK(r->name, rules.prevent_self_approval == r->prevent_self);
        UNIT_CHECK(r->name, tg_strv_len(rules.approvers) == r->napprovers);
        tg_approval_rules_dispose(&rules);
    }
}

static void check_ids(void)
{
    static const struct {
        const char *name, *id;
        int valid;
    } rows[] = {{"12 hex", "0123456789ab", 1},
                {"20 hex", "0123456789abcdef0123", 1},
                {"11 hex", "0123456789a", 0},
                {"21 hex", "0123456789abcdef01234", 0},
                {"upper case", "0123456789AB", 0},
                {"not hex", "0123456789ag", 0},
                {"empty", "", 0},
                {"NULL", NULL, 0}};
    char id[TG_APPROVAL_ID_MAX + 1], hex[TG_SHA256_HEX_LEN + 1];
    const char *key = "tg:deploy:7:300:production";
    tg_approval_id(key, TG_APPROVAL_ID_LEN, id);
    tg_sha256_hex(key, strlen(key), hex);
    UNIT_CHECK("id is the hash's first 12 hex", strlen(id) == 12 && strncmp(id, hex, 12) == 0);
    tg_approval_id(key, 99, id);
    UNIT_CHECK("id length capped", strlen(id) == TG_APPROVAL_ID_MAX);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        UNIT_CHECK(rows[i].name, tg_approval_id_valid(rows[i].id) == rows[i].valid);
}

static void check_identities(void)
{
    struct tg_user_map users[] = {{"U2CERLKJA", "alice"}, {"roadrunner", "bob"}};
    struct tg_chat chat = {.users = users, .nusers = 2, .enabled = 1};
    UNIT_STREQ("by id", tg_chatops_identity(&chat, "U2CERLKJA", "whoever"), "alice");
    UNIT_STREQ("by name", tg_chatops_identity(&chat, "u-unknown", "roadrunner"), "bob");
    UNIT_STREQ("unmapped", tg_chatops_identity(&chat, "U0", "nobody"), NULL);
    UNIT_STREQ("no name given", tg_chatops_identity(&chat, "U0", NULL), NULL);
    UNIT_STREQ("empty id is not a match", tg_chatops_identity(&chat, "", ""), NULL);
}

/* ---- chat texts ---- */

static struct tg_chat_texts *parse_text(enum tg_chat_service chat, const char *yaml,
                                        struct tg_diag *diag)
{
    return tg_chat_texts_parse(chat, "chat.yaml", yaml, strlen(yaml), diag);
}

static void check_directory(void)
{
    struct tg_diag diag;
    char dir[] = "/tmp/tg-chat-XXXXXX";
    tg_diag_init(&diag);
    UNIT_CHECK("shipped directory checks clean",
               tg_chat_texts_check("templates", &diag) == 0 && diag.count == 0);
    UNIT_CHECK("an empty directory is fine", mkdtemp(dir) && tg_chat_texts_check(dir, &diag) == 0);
    unit_write(dir, "chat-mattermost.yaml", "kind: chat\nmessages:\n  denied: \"{{ who }}\"\n");
    UNIT_CHECK("a broken file is reported",
               tg_chat_texts_check(dir, &diag) == -1 && diag.errors == 1);
    UNIT_CHECK("with its path", diag.count && strstr(diag.msgs[0].text, "chat-mattermost.yaml:3:"));
    char *path = tg_xasprintf("%s/chat-mattermost.yaml", dir);
    unlink(path), rmdir(dir);
    free(path);
    tg_diag_dispose(&diag);
}

static void check_shipped_templates(void)
{
    static const char *const files[] = {"templates/chat-slack.yaml",
                                        "templates/chat-mattermost.yaml"};
    for (int c = 0; c < TG_CHAT_COUNT; c++) {
        struct tg_diag diag;
        size_t len;
        char *data = tg_read_file(files[c], &len);
        tg_diag_init(&diag);
        struct tg_chat_texts *t =
            data ? tg_chat_texts_parse((enum tg_chat_service)c, files[c], data, len, &diag) : NULL;
        UNIT_CHECK(files[c], t != NULL && diag.count == 0);
        tg_chat_texts_free(t);
        tg_diag_dispose(&diag);
        free(data);
    }
}

struct load_row {
    const char *name;
    enum tg_chat_service chat;
    const char *yaml;
    const char *error; /* a fragment of the first message, NULL: loads */
};

static const struct load_row load_rows[] = {
    {"minimal", TG_CHAT_SLACK, "kind: chat\n", NULL},
    {"one text", TG_CHAT_SLACK, "kind: chat\nmessages:\n  vote: \"{{ actor }} said yes\"\n", NULL},
    {"unknown placeholder", TG_CHAT_SLACK,
     "kind: chat\nmessages:\n  vote: \"{{ actr }} said yes\"\n",
     "chat.yaml:3:9: error: messages.vote: unknown placeholder {{ actr }}"},
    {"unclosed placeholder", TG_CHAT_SLACK,
     "kind: chat\nmessages:\n  vote: \"{{ actor said yes\"\n", "\"{{\" without \"}}\""},
    {"unknown key", TG_CHAT_SLACK, "kind: chat\nmessages:\n  votes: x\n", "votes"},
    {"not chat", TG_CHAT_SLACK, "kind: trigger\n", "kind: chat"},
    {"kind missing", TG_CHAT_SLACK, "messages: {}\n", "kind: chat"},
    {"other chat", TG_CHAT_MATTERMOST, "kind: chat\nchat: slack\n", "this file is for mattermost"},
    {"messages not a map", TG_CHAT_SLACK, "kind: chat\nmessages: [a]\n", "messages"},
    {"not YAML", TG_CHAT_SLACK, "kind: [chat\n", "chat.yaml"},
};

static void check_loading(void)
{
    for (size_t i = 0; i < sizeof load_rows / sizeof load_rows[0]; i++) {
        const struct load_row *r = &load_rows[i];
        struct tg_diag diag;
        tg_diag_init(&diag);
        struct tg_chat_texts *t = parse_text(r->chat, r->yaml, &diag);
        UNIT_CHECK(r->name, (t != NULL) == (r->error == NULL));
        UNIT_CHECK(r->name,
                   r->error == NULL || (diag.count > 0 && strstr(diag.msgs[0].text, r->error)));
        if (r->error && diag.count && !strstr(diag.msgs[0].text, r->error))
            fprintf(stderr, "  got: %s\n", diag.msgs[0].text);
        tg_chat_texts_free(t);
        tg_diag_dispose(&diag);
    }
}

static void check_rendering(void)
{
    struct tg_diag diag;
    struct tg_chat_subject s;
    const char *yaml =
        "kind: chat\nmessages:\n  vote: \"{{actor}} <b> {{ comment }}|{{ detail }}\"\n"
        "  request: \"a\\n{{ reasons }}\\n\\n\\n\\n{{ findings }}\\nb\\n\\n\"\n";
    memset(&s, 0, sizeof s);
    s.var[TG_VAR_ACTOR] = "a&b";
    s.var[TG_VAR_COMMENT] = "<!channel>";
    tg_diag_init(&diag);
    struct tg_chat_texts *slack = parse_text(TG_CHAT_SLACK, yaml, &diag);
    struct tg_chat_texts *mm = parse_text(TG_CHAT_MATTERMOST, yaml, &diag);
    char *a = tg_chat_render(slack, TG_TEXT_VOTE, &s), *b = tg_chat_render(mm, TG_TEXT_VOTE, &s);
    char *c = tg_chat_render(slack, TG_TEXT_REQUEST, &s),
         *d = tg_chat_render(slack, TG_TEXT_PENDING_NONE, &s);
    UNIT_STREQ("slack escapes values, not the text", a, "a&amp;b <b> &lt;!channel&gt;|");
    UNIT_STREQ("mattermost does not escape", b, "a&b <b> <!channel>|");
    UNIT_STREQ("blank lines collapse, the end is trimmed", c, "a\n\nb");
    UNIT_STREQ("built-in text for a missing key", d, "Nothing is waiting for approval.");
    free(a), free(b), free(c), free(d);
    tg_chat_texts_free(slack), tg_chat_texts_free(mm);
    tg_diag_dispose(&diag);
}

static void check_messages(void)
{
    struct tg_diag diag;
    struct tg_chat_subject s;
    memset(&s, 0, sizeof s);
    s.var[TG_VAR_ID] = "0123456789ab";
    static const unsigned char key[TG_BUTTON_KEY_LEN] = {7};
    s.context_key = key;
    s.context_expires_s = 4102444800LL; /* 2100-01-01 */
    s.round = 2;
    s.buttons = 1;
    tg_diag_init(&diag);
    struct tg_chat_texts *t = parse_text(TG_CHAT_SLACK, "kind: chat\n", &diag);
    json_t *m = tg_chat_slack_message(t, &s, TG_TEXT_REQUEST, TG_TEXT_VOIDED);
    json_t *blocks = json_object_get(m, "blocks");
    json_t *buttons = json_object_get(json_array_get(blocks, 2), "elements");
    UNIT_CHECK("section, context, actions", json_array_size(blocks) == 3);
    UNIT_STREQ("approve value",
               json_string_value(json_object_get(json_array_get(buttons, 0), "value")),
               "0123456789ab:2");
    UNIT_STREQ("deny style",
               json_string_value(json_object_get(json_array_get(buttons, 1), "style")), "danger");
    UNIT_CHECK("deny confirms", json_object_get(json_array_get(buttons, 1), "confirm") != NULL);
    json_decref(m);
    m = tg_chat_mattermost_message(t, &s, TG_TEXT_REQUEST, -1,
                                   "https://tg.example/chatops/mattermost");
    json_t *att = json_array_get(json_object_get(m, "attachments"), 0);
    json_t *deny = json_array_get(json_object_get(att, "actions"), 1);
    json_t *ctx = json_object_get(json_object_get(deny, "integration"), "context");
    UNIT_STREQ("context action", json_string_value(json_object_get(ctx, "action")), "deny");
    UNIT_CHECK("context round", json_integer_value(json_object_get(ctx, "round")) == 2);
    struct tg_button_click click;
    const char *why;
    UNIT_CHECK("the context is signed with the key",
               tg_button_context_check(key, ctx, 1700000000, &click, &why) == 0 && click.deny &&
                   click.round == 2 && strcmp(click.id, "0123456789ab") == 0);
    json_decref(m);
    s.buttons = 0;
    m = tg_chat_mattermost_message(t, &s, TG_TEXT_APPROVED, -1, NULL);
    UNIT_CHECK("a notice has no attachment", json_object_get(m, "attachments") == NULL);
    json_decref(m);
    tg_chat_texts_free(t);
    tg_diag_dispose(&diag);
}

int main(void)
{
    check_rules();
    check_parse();
    check_ids();
    check_identities();
    check_shipped_templates();
    check_directory();
    check_loading();
    check_rendering();
    check_messages();
    return unit_summary("test_approval");
}
