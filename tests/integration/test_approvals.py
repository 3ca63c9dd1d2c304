"""Approvals through the real binary, a real Redis, the stand-in GitLab and the stand-in chat:
what the case format (tests/cases/FORMAT.md) cannot say -- the content of the chat requests,
chat outages with their backoff, answers within a time, forged, tampered and replayed Slack
requests, two approvers at the same instant, a policy reload, and Mattermost button contexts
taken from the posted message and altered. The REST API, the rules (mapping, approvers,
self-approval, quorum, deny, expiry, supersession) and the friendly answers, a Slack button's approval and a Slack
bot token are cases 0130-0141, 0149-0150."""
import hashlib
import json
import shutil
import signal
import threading
import time

import pytest

import harness
import pipelines
from harness import wait_until
from pipelines import pipeline_event, serve_report
from test_deliver import audit_actions, deploy_state, gitlab, post, wait_state  # noqa: F401 (gitlab: a fixture)

from chat import Chat, MattermostClient, SlackClient, mattermost_buttons, slack_buttons, slack_text  # noqa: E402

HIGHS = "trivy/dd_legacy_trivy_mix.json"  # 6 high, 1 unknown: needs approval
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"  # Slack's documented example secret
MM_TOKEN = "mm-slash-token-7d1f"
TOKENS = {"alice": "tg-api-alice-0001", "rita": "tg-api-rita-0002", "dora": "tg-api-dora-0003"}

ENVIRONMENT = """\
  {name}:
    branches: ["{branch}"]
    require_jobs: [trivy-scan]
    reports: [ {{ job: trivy-scan, artifact: trivy-report.json, format: trivy }} ]
    severity: {{ block: {{ critical: 0 }}, approve: {{ high: 0 }} }}
    approvals: {approvals}
"""
POLICY = "version: 1\nenvironments:\n" + "".join(ENVIRONMENT.format(name=n, branch=b, approvals=a) for n, b, a in (
    ("production", "main", "{ required: 1, approvers: [alice, bob, carol, dora], expire: 1h }"),
    ("two-approvers", "release/*", "{ required: 2, expire: 1h }"),
    ("short-lived", "hotfix/*", "{ required: 1, expire: 2s }")))

CHATOPS = """\
api:
  tokens:
    - { token: env:TG_TEST_API_ALICE, identity: alice, scopes: [read, approve] }
    - { token: env:TG_TEST_API_RITA, identity: rita, scopes: [read] }
    - { token: env:TG_TEST_API_DORA, identity: dora, scopes: [read, approve] }
chatops:
  slack:
    signing_secret: env:TG_TEST_SLACK_SECRET
    webhook_url: env:TG_TEST_SLACK_WEBHOOK
    users: { U0ALICE: alice, U0BOB: bob, U0CAROL: carol, U0DORA: dora, U0EVE: eve }
  mattermost:
    token: env:TG_TEST_MM_TOKEN
    webhook_url: env:TG_TEST_MM_WEBHOOK
    users: { mmbob0000000000000000000001: bob, roadrunner: carol }
"""


@pytest.fixture
def chat():
    c = Chat().start()
    yield c
    c.stop()


def write_sets(logdir, policy=POLICY):
    sets = pipelines.write_sets(logdir, policy=policy)
    for name in ("chat-slack.yaml", "chat-mattermost.yaml"):
        shutil.copy(harness.ROOT / "templates" / name, sets["templates"] / name)
    return sets


@pytest.fixture
def gateway(tollgate, gitlab, chat, logdir):
    sets = write_sets(logdir)

    def make(workers=2):
        env = dict(pipelines.env(), TG_TEST_SLACK_SECRET=SLACK_SECRET, TG_TEST_MM_TOKEN=MM_TOKEN,
                   TG_TEST_SLACK_WEBHOOK=chat.slack_webhook_url, TG_TEST_MM_WEBHOOK=chat.mattermost_webhook_url,
                   TG_TEST_API_ALICE=TOKENS["alice"], TG_TEST_API_RITA=TOKENS["rita"],
                   TG_TEST_API_DORA=TOKENS["dora"], TOLLGATE_SLACK_API_URL=chat.slack_api_url)
        return tollgate(workers=workers, env=env, extra=pipelines.config_extra(gitlab.url, CHATOPS), **sets)
    return make


def deployment_id(pipeline, env, project_id=7):
    return hashlib.sha256(b"tg:deploy:%d:%d:%s" % (project_id, pipeline, env.encode())).hexdigest()[:12]


def pending(tg, gitlab, redis, pipeline, ref="main", env="production", user="dora", report=HIGHS, job=None,
            user_id=None):
    """Posts a pipeline whose highs need approval; returns its deployment id once requested."""
    job = job or 500 + pipeline
    serve_report(gitlab, 7, job, pipelines.REPORTS / report)
    post(tg, pipeline_event(pipeline=pipeline, ref=ref, user=user, builds=(("trivy-scan", job, "success"),),
                            user_id=user_id))
    wait_state(redis, pipeline, env, "pending_approval")
    did = deployment_id(pipeline, env)
    wait_until(lambda: deploy_state(redis, pipeline, env).get("approval_id") == did, what="the approval id")
    # the id is written before the request's audit record: tests that count records start after it
    wait_until(lambda: any(r["details"].get("id") == did for r in records(redis, "approval_requested")),
               what="the approval_requested record")
    return did


def slack_request(chat, did, timeout=10):
    return wait_until(lambda: chat.slack_requests_for(did), timeout=timeout, what="the Slack request for " + did)[-1]


def records(redis, action):
    return [r for r in audit_actions(redis) if r["action"] == action]


def rejected_counts(redis, webhook):
    """Refusals per reason from the per-minute rejected summaries (a run may straddle minutes)."""
    counts = {}
    for r in records(redis, "rejected"):
        if r["details"]["webhook"] == webhook:
            counts[r["details"]["reason"]] = counts.get(r["details"]["reason"], 0) + r["details"]["count"]
    return counts


# ---- the request ----

def test_request_reaches_slack_and_mattermost_with_reasons_findings_links_and_buttons(gateway, gitlab, chat, redis):
    tg = gateway()
    did = pending(tg, gitlab, redis, 300)
    st = deploy_state(redis, 300, "production")
    assert st["approval_hash"] == st["policy_hash"] and st["approval_round"] == "1" and st["votes"] == "0"
    assert st["template"] == "chart" and st["chart_project"] == "shop/charts"  # rendered now, triggered later
    assert redis.cmd("GET", "tg:approval:id:" + did) == b"tg:deploy:7:300:production"
    msg = slack_request(chat, did)["json"]
    text = slack_text(msg)
    assert "shop/cart" in text and "production" in text and "high" in text
    assert "CVE-" in text  # a top finding is named
    assert "http://tollgate.example/api/v1/audit?project=shop%2Fcart&amp;pipeline=300" in text
    assert "/shop/cart/-/pipelines/300" in text
    assert slack_buttons(msg) == {"approve": did + ":1", "deny": did + ":1"}
    deny = [e for b in msg["blocks"] if b["type"] == "actions" for e in b["elements"] if e["action_id"] == "deny"][0]
    assert deny["style"] == "danger" and "confirm" in deny
    mm = wait_until(lambda: chat.posts("mattermost"), what="the Mattermost request")[-1]["json"]
    buttons = mattermost_buttons(mm)
    assert buttons["approve"]["url"] == "http://tollgate.example/chatops/mattermost"
    ctx = buttons["approve"]["context"]
    assert ctx["id"] == did and ctx["action"] == "approve" and ctx["round"] == 1
    assert "secret" not in ctx and len(ctx["sig"]) == 64 and ctx["expires"] > time.time() + 3000
    assert mm["username"] == "tollgate" and "Top findings" in mm["text"]
    req = records(redis, "approval_requested")
    assert len(req) == 1 and req[0]["details"]["id"] == did and req[0]["pipeline"] == 300
    assert req[0]["details"]["approvers"] == ["alice", "bob", "carol", "dora"]
    assert gitlab.requests("trigger") == []
    time.sleep(1.5)  # posted once per chat, not once per sweep
    assert len(chat.slack_requests_for(did)) == 1 and len(chat.posts("mattermost")) == 1


def test_chat_outage_keeps_the_deployment_and_posts_later(gateway, gitlab, chat, redis):
    chat.script("slack_webhook", {"status": 500}, {"status": 503})
    chat.script("mattermost", {"status": 500})
    tg = gateway()
    did = pending(tg, gitlab, redis, 302)
    st = wait_until(lambda: deploy_state(redis, 302, "production").get("posted:slack") == "1"
                    and deploy_state(redis, 302, "production"), timeout=15, what="the post to go through")
    assert st["state"] == "pending_approval" and st["posted:mattermost"] == "1"
    sent = chat.posts("slack_webhook")
    assert len(sent) == 3 and sent[2]["at"] - sent[1]["at"] >= 1.5  # retried, backing off
    assert all(slack_buttons(p["json"])["approve"] == did + ":1" for p in sent)
    assert len(chat.posts("mattermost")) == 2
    time.sleep(1.5)
    assert len(chat.posts("slack_webhook")) == 3  # done: not posted again
    assert any(line.get("event") == "post_failed" for line in tg.log_lines())
    assert "T0TEST" not in tg.logs()  # the webhook URL is a credential: never logged


# ---- Slack ----

def test_slash_commands_answer_ephemerally_and_fast(gateway, gitlab, chat, redis):
    tg = gateway()
    did = pending(tg, gitlab, redis, 311)
    slack = SlackClient(tg.url, SLACK_SECRET, chat)
    t0 = time.monotonic()
    status, body = slack.slash("U0CAROL", "status " + did)
    assert status == 200 and time.monotonic() - t0 < 3.0
    assert body["response_type"] == "ephemeral" and "pending_approval" in body["text"] and did in body["text"]
    status, body = slack.slash("U0CAROL", "pending")
    assert did in body["text"] and "shop/cart" in body["text"]
    status, body = slack.slash("U0CAROL", "help")
    assert "approve ID" in body["text"]
    status, body = slack.slash("U0CAROL", "frobnicate")
    assert status == 200 and "unknown command" in body["text"]
    status, body = slack.slash("U0CAROL", "deny " + did)
    assert "needs a reason" in body["text"] and deploy_state(redis, 311, "production")["state"] == "pending_approval"
    t0 = time.monotonic()
    status, body = slack.slash("U0CAROL", "approve %s scanned the highs, all in test deps" % did)
    assert status == 200 and time.monotonic() - t0 < 3.0
    assert body["response_type"] == "ephemeral" and "approved by carol" in body["text"]
    wait_state(redis, 311, "production", "triggered")
    rec = records(redis, "approved")[-1]
    assert rec["actor"] == "carol" and rec["reasons"] == ["scanned the highs, all in test deps"]
    assert rec["details"]["comment"] == "scanned the highs, all in test deps"
    status, body = slack.slash("U0CAROL", "approve " + did)
    assert status == 200 and "is triggered" in body["text"]  # after the trigger: refused, state named


def test_forged_stale_tampered_and_replayed_slack_requests_are_refused(gateway, gitlab, chat, redis, tollgate):
    tg = gateway()
    did = pending(tg, gitlab, redis, 312)
    slack = SlackClient(tg.url, SLACK_SECRET, chat)
    cases = [
        ("forged", dict(secret="not-the-signing-secret"), "bad signature"),
        ("stale", dict(ts=int(time.time()) - 3600), "stale timestamp"),
        ("future", dict(ts=int(time.time()) + 3600), "stale timestamp"),
        ("tampered", dict(tamper=lambda b: b.replace(b"U0EVE", b"U0BOB")), "bad signature"),
        ("unsigned", dict(headers={"X-Slack-Signature": None, "X-Slack-Request-Timestamp": None}),
         "missing signature"),
        ("wrong hex", dict(signature="v0=" + "0" * 64), "bad signature"),
        ("not hex", dict(signature="v1=abc"), "malformed signature"),
    ]
    for name, kw, reason in cases:
        status, body = slack.slash("U0EVE", "approve " + did, **kw)
        assert status == 401 and body["detail"] == reason, name
    status, _ = slack.slash("U0BOB", "status " + did)
    assert status == 200
    # F9: the very same signed request again, inside its 5-minute window: a replay.
    status, body = slack.replay()
    assert status == 401 and body["detail"] == "this signed request was seen before"
    assert redis.cmd("TTL", "tg:slack:nonce:" + slack.last[0]["X-Slack-Signature"]) > 300
    # Re-stamped: the genuine request sent again later under a fresh timestamp header.
    status, body = slack.replay(**{"X-Slack-Request-Timestamp": str(int(time.time()) + 1)})
    assert status == 401 and body["detail"] == "bad signature"
    # A genuine signature over an old timestamp cannot be replayed after 5 minutes.
    old = int(time.time()) - 3600
    status, body = slack.slash("U0BOB", "approve " + did, ts=old)
    assert status == 401 and body["detail"] == "stale timestamp"
    assert deploy_state(redis, 312, "production")["state"] == "pending_approval"
    assert records(redis, "approved") == [] and records(redis, "approval_refused") == []
    tg.stop()  # the rejected summary is written per minute, and at shutdown
    counts = rejected_counts(redis, "chatops:slack")
    assert counts == {"bad signature": 4, "stale timestamp": 3, "missing signature": 1, "malformed signature": 1,
                      "replayed request": 1}
    assert all(r["details"]["status"] == 401 for r in records(redis, "rejected")
               if r["details"]["webhook"] == "chatops:slack")


# ---- rules ----

def test_two_approvers_at_the_same_instant_trigger_exactly_once(gateway, gitlab, chat, redis):
    tg = gateway(workers=3)
    did = pending(tg, gitlab, redis, 330, ref="release/1.4", env="two-approvers")
    value = slack_buttons(slack_request(chat, did)["json"])["approve"]
    barrier = threading.Barrier(2)
    results = {}

    def click(user):
        client = SlackClient(tg.url, SLACK_SECRET, chat)
        body = client.click_body(user, "approve", value)
        barrier.wait()
        results[user] = client.send(body)

    threads = [threading.Thread(target=click, args=(u,)) for u in ("U0ALICE", "U0BOB")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["U0ALICE"][0] == 200 and results["U0BOB"][0] == 200
    st = wait_state(redis, 330, "two-approvers", "triggered")
    assert st["votes"] == "2" and "vote:alice" in st and "vote:bob" in st
    time.sleep(1.5)  # a second trigger would show up on the next retry sweep
    assert len(gitlab.requests("trigger")) == 1
    outcomes = sorted(r["details"]["outcome"] for r in records(redis, "approved"))
    assert outcomes == ["counted", "quorum"]
    assert [r["action"] for r in audit_actions(redis)].count("triggered") == 1


def test_a_policy_reload_voids_collected_approvals_and_asks_again(gateway, gitlab, chat, redis, logdir):
    tg = gateway()
    did = pending(tg, gitlab, redis, 370, ref="release/3.0", env="two-approvers")
    old_value = slack_buttons(slack_request(chat, did)["json"])["approve"]
    slack = SlackClient(tg.url, SLACK_SECRET, chat)
    assert "1/2" in slack.slash("U0ALICE", "approve " + did)[1]["text"]
    old_hash = deploy_state(redis, 370, "two-approvers")["approval_hash"]
    (logdir / "policies" / "test.yaml").write_text(POLICY + "# reviewed again\n")
    tg.send_signal(signal.SIGHUP)
    st = wait_until(lambda: deploy_state(redis, 370, "two-approvers").get("approval_round") == "2"
                    and deploy_state(redis, 370, "two-approvers"), what="the votes to be voided")
    assert st["votes"] == "0" and "vote:alice" not in st and st["approval_hash"] != old_hash
    voided = records(redis, "approvals_voided")
    assert len(voided) == 1 and voided[0]["details"]["voided"] == ["alice"]
    assert voided[0]["details"]["old_policy_hash"] == old_hash
    again = wait_until(lambda: [p for p in chat.slack_requests_for(did)
                                if slack_buttons(p["json"])["approve"] == did + ":2"], what="the request again")
    assert "policy changed" in slack_text(again[-1]["json"])
    status, _ = slack.click("U0BOB", "approve", old_value)  # a button of the voided request
    answer = wait_until(lambda: chat.posts("slack_response"), what="the stale answer")[-1]["json"]
    assert "earlier request" in answer["text"]
    assert deploy_state(redis, 370, "two-approvers")["votes"] == "0"
    slack.click("U0BOB", "approve", did + ":2")
    slack.click("U0ALICE", "approve", did + ":2")
    wait_state(redis, 370, "two-approvers", "triggered")
    assert len(gitlab.requests("trigger")) == 1


# ---- Mattermost ----

def test_mattermost_tokens_and_signed_button_contexts(gateway, gitlab, chat, redis):
    tg = gateway()
    did = pending(tg, gitlab, redis, 380)
    mm = MattermostClient(tg.url, MM_TOKEN)
    assert mm.slash("mmbob0000000000000000000001", "bob", "status " + did, token="wrong-token")[0] == 401
    assert mm.slash("mmbob0000000000000000000001", "bob", "status " + did, token="", header=False)[0] == 401
    status, body = mm.slash("mmbob0000000000000000000001", "bob", "status " + did, header=False)
    assert status == 200 and body["response_type"] == "ephemeral" and "pending_approval" in body["text"]
    message = wait_until(lambda: chat.posts("mattermost"), what="the Mattermost request")[-1]["json"]
    button = mattermost_buttons(message)["approve"]
    before = len(audit_actions(redis))
    forged = dict(button["context"], sig="0" * 64)
    assert mm.click("mmbob0000000000000000000001", forged)[0] == 401
    # Another deployment's id, a later expiry or the other action under this signature: altered.
    for change in (dict(id="0123456789ab"), dict(expires=button["context"]["expires"] + 86400), dict(action="deny")):
        status, body = mm.click("mmbob0000000000000000000001", dict(button["context"], **change))
        assert status == 401 and body["detail"] == "bad context signature"
    assert len(audit_actions(redis)) == before  # refusals are counted, never recorded one by one
    status, body = mm.click("mmbob0000000000000000000001", button["context"])
    assert status == 200 and "approved by bob" in body["ephemeral_text"]
    assert "approved by bob" in body["update"]["props"]["attachments"][0]["text"]
    assert "actions" not in body["update"]["props"]["attachments"][0]
    wait_state(redis, 380, "production", "triggered")
    rec = records(redis, "approved")[-1]
    assert rec["actor"] == "bob" and rec["details"]["channel"] == "mattermost"
    wait_until(lambda: any("approved by bob" in slack_text(p["json"]) for p in chat.posts("slack_webhook")),
               what="the Slack notice")
    tg.stop()
    assert rejected_counts(redis, "chatops:mattermost") == {"bad token": 2, "bad context signature": 4}


def test_f1_unauthenticated_button_writes_nothing(gateway, gitlab, chat, redis):
    """F1: the issue's exact curl once answered 200 and appended an approval_refused record
    holding the caller's user_id; 200 of them added 23 MB to Redis."""
    tg = gateway()
    did = pending(tg, gitlab, redis, 385)
    # Keys the gateway's own housekeeping removes meanwhile (a posted chat request) may go;
    # what must not happen is a key appearing because of a stranger.
    before, keys = len(audit_actions(redis)), set(redis.cmd("KEYS", "*"))
    body = b'{"user_id":"x","context":{"id":"abcabcabcabc","action":"approve","secret":"-"}}'
    for ctx in (body, json.dumps({"user_id": "x", "context": {"id": did, "action": "approve", "round": 1,
                                                              "expires": 4102444800, "sig": "0" * 64}}).encode()):
        for _ in range(50):
            r = harness.curl(tg.url + "/chatops/mattermost", method="POST",
                             headers={"Content-Type": "application/json"}, body=ctx)
            assert r.status == 401
    assert len(audit_actions(redis)) == before and set(redis.cmd("KEYS", "*")) <= keys
    assert deploy_state(redis, 385, "production")["state"] == "pending_approval"
    tg.stop()
    rejected = [r for r in records(redis, "rejected") if r["details"]["webhook"] == "chatops:mattermost"]
    # one summary per reason and minute (the requests may straddle a minute boundary)
    assert sum(r["details"]["count"] for r in rejected) == 100
    assert len({(r["details"]["reason"], r["details"]["minute"]) for r in rejected}) == len(rejected)
    assert all("x" != r.get("actor") for r in audit_actions(redis))


def test_a_captured_button_context_works_only_for_mapped_users(gateway, gitlab, chat, redis):
    """Issue 11, second round: a captured Mattermost context worked for anyone; 200 replays with
    a 60 KB user_id added 200 approval_refused records. An unmapped or malformed user_id is
    refused on the loop (counted, not recorded); a mapped user's repeat counts once and
    records nothing new."""
    tg = gateway()
    did = pending(tg, gitlab, redis, 390, ref="release/2.0", env="two-approvers")
    mm = MattermostClient(tg.url, MM_TOKEN)
    message = wait_until(lambda: chat.posts("mattermost"), what="the Mattermost request")[-1]["json"]
    context = mattermost_buttons(message)["approve"]["context"]
    before = len(audit_actions(redis))
    for user in ("zz9dkq3xzjfmbpo9m3wx5urqna", "x" * 60000, "", "MMBOB0000000000000000000001"):
        for _ in range(5):
            status, body = mm.click(user, context)
            assert status == 403 and body["error"] == "forbidden", (user[:30], status, body)
    assert len(audit_actions(redis)) == before
    assert deploy_state(redis, 390, "two-approvers")["votes"] == "0"
    status, body = mm.click("mmbob0000000000000000000001", context)
    assert status == 200 and "1/2" in body["ephemeral_text"]
    after_vote = len(audit_actions(redis))
    for _ in range(5):
        assert mm.click("mmbob0000000000000000000001", context)[0] == 200
    assert len(audit_actions(redis)) == after_vote  # a repeat counts once and writes nothing
    assert deploy_state(redis, 390, "two-approvers")["votes"] == "1"
    tg.stop()
    rejected = {r["details"]["reason"]: r["details"]["count"] for r in records(redis, "rejected")
                if r["details"]["webhook"] == "chatops:mattermost"}
    assert rejected == {"unmapped user": 5, "bad user_id": 15}
