"""Approvals through the real binary, a real Redis, the stand-in GitLab and the stand-in chat:
the request in Slack and Mattermost, every rule (mapping, approvers, self-approval, quorum of
distinct people, deny, expiry, supersession, policy reload), signed and forged Slack requests,
Mattermost tokens and button secrets, and the REST API."""
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

CLEAN = "trivy/dd_scheme_2_no_vuln.json"
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

    def make(workers=2, slack_via="webhook"):
        env = dict(pipelines.env(), TG_TEST_SLACK_SECRET=SLACK_SECRET, TG_TEST_MM_TOKEN=MM_TOKEN,
                   TG_TEST_SLACK_WEBHOOK=chat.slack_webhook_url, TG_TEST_MM_WEBHOOK=chat.mattermost_webhook_url,
                   TG_TEST_API_ALICE=TOKENS["alice"], TG_TEST_API_RITA=TOKENS["rita"],
                   TG_TEST_API_DORA=TOKENS["dora"], TOLLGATE_SLACK_API_URL=chat.slack_api_url,
                   TG_TEST_SLACK_BOT="xoxb-standin-bot-token")
        extra = CHATOPS
        if slack_via == "bot":
            extra = extra.replace("webhook_url: env:TG_TEST_SLACK_WEBHOOK",
                                  "bot_token: env:TG_TEST_SLACK_BOT\n    channel: C0DEPLOYS")
        return tollgate(workers=workers, env=env, extra=pipelines.config_extra(gitlab.url, extra), **sets)
    return make


def deployment_id(pipeline, env, project_id=7):
    return hashlib.sha256(b"tg:deploy:%d:%d:%s" % (project_id, pipeline, env.encode())).hexdigest()[:12]


def pending(tg, gitlab, redis, pipeline, ref="main", env="production", user="dora", report=HIGHS, job=None):
    """Posts a pipeline whose highs need approval; returns its deployment id once requested."""
    job = job or 500 + pipeline
    serve_report(gitlab, 7, job, pipelines.REPORTS / report)
    post(tg, pipeline_event(pipeline=pipeline, ref=ref, user=user, builds=(("trivy-scan", job, "success"),)))
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


def api(tg, method, path, token=None, body=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    r = harness.curl(tg.url + path, method=method, headers=headers,
                     body=json.dumps(body).encode() if body is not None else None)
    return r.status, (r.json() if r.body else None)


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


def test_slack_bot_token_posts_through_chat_post_message(gateway, gitlab, chat, redis):
    tg = gateway(slack_via="bot")
    did = pending(tg, gitlab, redis, 301)
    p = slack_request(chat, did)
    assert p["kind"] == "slack_api" and p["json"]["channel"] == "C0DEPLOYS"
    assert p["headers"]["Authorization"] == "Bearer xoxb-standin-bot-token"


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

def test_slack_button_approves_and_the_worker_triggers_once(gateway, gitlab, chat, redis):
    tg = gateway()
    did = pending(tg, gitlab, redis, 310)
    value = slack_buttons(slack_request(chat, did)["json"])["approve"]
    slack = SlackClient(tg.url, SLACK_SECRET, chat)
    status, body = slack.click("U0ALICE", "approve", value)
    assert status == 200 and body == b""
    st = wait_state(redis, 310, "production", "triggered")
    assert st["vote:alice"].endswith(" slack")
    assert len(gitlab.requests("trigger")) == 1
    assert gitlab.requests("trigger")[0]["form"]["variables[UPSTREAM_PIPELINE]"] == "310"
    replaced = wait_until(lambda: chat.posts("slack_response"), what="the response_url update")[-1]["json"]
    assert replaced["replace_original"] is True and "approved by alice" in slack_text(replaced)
    assert slack_buttons(replaced) == {}  # decided: no more buttons
    approved = records(redis, "approved")
    assert len(approved) == 1 and approved[0]["actor"] == "alice"
    assert approved[0]["details"]["channel"] == "slack" and approved[0]["details"]["chat_user"] == "U0ALICE"
    assert approved[0]["details"]["outcome"] == "quorum"
    assert [r["action"] for r in audit_actions(redis)][-2:] == ["approved", "triggered"]
    wait_until(lambda: any("approved by alice" in (p["json"] or {}).get("text", "") for p in chat.posts("mattermost")),
               what="the Mattermost notice")
    assert not [p for p in chat.posts("slack_webhook") if "approved by" in slack_text(p["json"])]  # replaced in place


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


def test_unknown_id_gets_a_friendly_answer(gateway, gitlab, chat, redis):
    tg = gateway()
    slack = SlackClient(tg.url, SLACK_SECRET, chat)
    for text in ("approve 0123456789ab", "status 0123456789ab", "approve not-an-id"):
        status, body = slack.slash("U0ALICE", text)
        assert status == 200 and body["response_type"] == "ephemeral"
        assert "No deployment has the id" in body["text"]
    status, body = slack.click("U0ALICE", "approve", "0123456789ab:1")
    assert status == 200
    answer = wait_until(lambda: chat.posts("slack_response"), what="the ephemeral answer")[-1]["json"]
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    assert "No deployment has the id" in answer["text"]
    assert records(redis, "approval_refused")[0]["details"]["outcome"] == "unknown"


def test_documented_slack_vector_is_refused_only_for_its_age(gateway, gitlab, chat, redis):
    """The docs' example request is genuinely signed but from 2018: stale, not forged."""
    tg = gateway()
    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
            b"channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
            b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
            b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    slack = SlackClient(tg.url, SLACK_SECRET, chat)
    status, answer = slack.send(body, ts=1531420618,
                                signature="v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")
    assert status == 401 and answer["detail"] == "stale timestamp"


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

def test_unmapped_user_and_non_approver_are_refused(gateway, gitlab, chat, redis):
    tg = gateway()
    did = pending(tg, gitlab, redis, 320)
    slack = SlackClient(tg.url, SLACK_SECRET, chat)
    status, body = slack.slash("U0STRANGER", "approve " + did)
    assert status == 200 and "not mapped to an identity" in body["text"]
    status, body = slack.slash("U0EVE", "approve " + did)
    assert "eve is not an approver" in body["text"]
    status, body = slack.slash("U0EVE", "deny %s I do not like it" % did)
    assert "eve is not an approver" in body["text"]
    refused = records(redis, "approval_refused")
    assert [r["actor"] for r in refused] == ["slack:U0STRANGER", "eve", "eve"]
    assert deploy_state(redis, 320, "production")["state"] == "pending_approval"


def test_the_pipeline_user_cannot_approve_their_own_deploy(gateway, gitlab, chat, redis):
    tg = gateway()
    did = pending(tg, gitlab, redis, 321, user="dora")
    value = slack_buttons(slack_request(chat, did)["json"])["approve"]
    slack = SlackClient(tg.url, SLACK_SECRET, chat)
    status, _ = slack.click("U0DORA", "approve", value)
    assert status == 200
    answer = wait_until(lambda: chat.posts("slack_response"), what="the refusal")[-1]["json"]
    assert answer["response_type"] == "ephemeral" and "dora ran this pipeline" in answer["text"]
    status, body = api(tg, "POST", "/api/v1/deployments/%s/approve" % did, TOKENS["dora"])
    assert status == 403 and "prevent_self_approval" in body["detail"]
    assert deploy_state(redis, 321, "production")["state"] == "pending_approval"
    assert [r["actor"] for r in records(redis, "approval_refused")] == ["dora", "dora"]
    status, body = api(tg, "POST", "/api/v1/deployments/%s/approve" % did, TOKENS["alice"])
    assert status == 200 and body["outcome"] == "quorum"


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


def test_a_second_click_by_the_same_person_counts_once(gateway, gitlab, chat, redis):
    tg = gateway()
    did = pending(tg, gitlab, redis, 331, ref="release/1.5", env="two-approvers")
    slack = SlackClient(tg.url, SLACK_SECRET, chat)
    value = slack_buttons(slack_request(chat, did)["json"])["approve"]
    for _ in range(3):
        assert slack.click("U0ALICE", "approve", value)[0] == 200
    status, body = slack.slash("U0ALICE", "approve " + did)
    assert "counts once (1/2)" in body["text"]
    status, body = api(tg, "POST", "/api/v1/deployments/%s/approve" % did, TOKENS["alice"])
    assert status == 200 and body["outcome"] == "duplicate" and body["deployment"]["votes"] == 1
    st = deploy_state(redis, 331, "two-approvers")
    assert st["state"] == "pending_approval" and st["votes"] == "1"
    mm = MattermostClient(tg.url, MM_TOKEN)
    status, body = mm.slash("mmbob0000000000000000000001", "bob", "approve " + did)
    assert status == 200 and "approved by alice (slack), bob (mattermost)" in body["text"]
    wait_state(redis, 331, "two-approvers", "triggered")
    assert len(gitlab.requests("trigger")) == 1


def test_any_deny_ends_it_and_later_approvals_name_the_state(gateway, gitlab, chat, redis):
    tg = gateway()
    did = pending(tg, gitlab, redis, 340, ref="release/2.0", env="two-approvers")
    slack = SlackClient(tg.url, SLACK_SECRET, chat)
    assert "1/2" in slack.slash("U0ALICE", "approve " + did)[1]["text"]
    status, body = slack.slash("U0BOB", "deny %s CVE-2023-1234 is reachable from the API" % did)
    assert status == 200 and "denied by bob" in body["text"]
    st = deploy_state(redis, 340, "two-approvers")
    assert st["state"] == "denied" and st["denied_by"] == "bob" and "reachable" in st["deny_reason"]
    assert redis.cmd("ZSCORE", "tg:pending", "tg:deploy:7:340:two-approvers") is None
    # canceled, not failed: a denial is Tollgate's reason, and its echo must not turn the pipeline red
    status_form = wait_until(lambda: [s for s in gitlab.requests("status") if s["form"]["state"] == "canceled"],
                             what="a canceled commit status")[-1]["form"]
    assert status_form["name"] == "tollgate/two-approvers" and "denied by bob" in status_form["description"]
    denied = records(redis, "denied")
    assert len(denied) == 1 and denied[0]["actor"] == "bob" and denied[0]["reasons"][0].startswith("CVE-2023-1234")
    assert "is denied" in slack.slash("U0CAROL", "approve " + did)[1]["text"]
    status, body = api(tg, "POST", "/api/v1/deployments/%s/approve" % did, TOKENS["alice"])
    assert status == 409 and body["state"] == "denied" and "is denied" in body["detail"]
    time.sleep(1)
    assert gitlab.requests("trigger") == []


def test_an_unanswered_request_expires(gateway, gitlab, chat, redis):
    tg = gateway()
    # Not through pending(): on a loaded machine the 2 s request may expire before anyone sees
    # it pending, and no test depends on a margin of seconds. "expired" implies it was pending.
    serve_report(gitlab, 7, 850, pipelines.REPORTS / HIGHS)
    post(tg, pipeline_event(pipeline=350, ref="hotfix/login", user="dora", builds=(("trivy-scan", 850, "success"),)))
    did = deployment_id(350, "short-lived")
    st = wait_state(redis, 350, "short-lived", "expired", timeout=20)
    assert "expired" in st["error"]
    rec = wait_until(lambda: records(redis, "expired"), what="the expired record")[0]
    assert rec["details"]["id"] == did and rec["environment"] == "short-lived"
    status_form = wait_until(lambda: [s for s in gitlab.requests("status") if s["form"]["state"] == "canceled"],
                             what="a canceled commit status")[-1]["form"]
    assert "expired" in status_form["description"]
    wait_until(lambda: any("expired" in slack_text(p["json"]) for p in chat.posts("slack_webhook")),
               what="the Slack notice")
    slack = SlackClient(tg.url, SLACK_SECRET, chat)
    assert "is expired" in slack.slash("U0ALICE", "approve " + did)[1]["text"]
    assert gitlab.requests("trigger") == []


def test_a_newer_pipeline_supersedes_older_pending_ones(gateway, gitlab, chat, redis):
    tg = gateway()
    old = pending(tg, gitlab, redis, 360)
    newer = pending(tg, gitlab, redis, 361)
    st = wait_state(redis, 360, "production", "superseded")
    assert "361" in st["error"]
    assert redis.cmd("ZSCORE", "tg:pending", "tg:deploy:7:360:production") is None
    canceled = wait_until(lambda: [s for s in gitlab.requests("status") if s["form"]["state"] == "canceled"],
                          what="a canceled commit status")
    assert "361" in canceled[-1]["form"]["description"]
    sup = records(redis, "superseded")
    assert len(sup) == 1 and sup[0]["pipeline"] == 360
    slack = SlackClient(tg.url, SLACK_SECRET, chat)
    assert "is superseded" in slack.slash("U0ALICE", "approve " + old)[1]["text"]
    # An older pipeline arriving late is superseded at once by the newer one waiting.
    serve_report(gitlab, 7, 859, pipelines.REPORTS / HIGHS)
    post(tg, pipeline_event(pipeline=359, ref="main", builds=(("trivy-scan", 859, "success"),)))
    wait_state(redis, 359, "production", "superseded")
    # A newer deploy decision (clean scans) supersedes the pending one.
    serve_report(gitlab, 7, 862, pipelines.REPORTS / CLEAN)
    post(tg, pipeline_event(pipeline=362, ref="main", builds=(("trivy-scan", 862, "success"),)))
    wait_state(redis, 362, "production", "triggered")
    wait_state(redis, 361, "production", "superseded")
    assert "is superseded" in slack.slash("U0ALICE", "approve " + newer)[1]["text"]
    assert [t["form"]["variables[UPSTREAM_PIPELINE]"] for t in gitlab.requests("trigger")] == ["362"]


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


def test_api_without_a_token_is_refused_on_the_loop(gateway, gitlab, chat, redis):
    tg = gateway()
    before = len(audit_actions(redis))
    for path, method in (("/api/v1/deployments", "GET"), ("/api/v1/deployments/abcabcabcabc/approve", "POST"),
                         ("/api/v1/audit", "GET"), ("/api/v1/audit/verify", "GET")):
        assert api(tg, method, path)[0] == 401
        assert api(tg, method, path, "not-a-token")[0] == 401
    assert len(audit_actions(redis)) == before
    tg.stop()
    assert rejected_counts(redis, "api") == {"no bearer token": 4, "bad bearer token": 4}


# ---- REST ----

def test_rest_lists_shows_approves_and_denies(gateway, gitlab, chat, redis):
    tg = gateway()
    a = pending(tg, gitlab, redis, 390)
    b = pending(tg, gitlab, redis, 391, ref="release/9.1", env="two-approvers")
    assert api(tg, "GET", "/api/v1/deployments?status=pending")[0] == 401
    status, body = api(tg, "GET", "/api/v1/deployments?status=pending", TOKENS["rita"])
    assert status == 200 and body["count"] == 2 and {d["id"] for d in body["deployments"]} == {a, b}
    assert body["total"] == 2  # all that wait; the list holds the 100 soonest to expire
    assert all("decision" not in d for d in body["deployments"])  # GET /ID has it
    assert all("approval_secret" not in json.dumps(d) for d in body["deployments"])
    assert api(tg, "GET", "/api/v1/deployments?status=triggered", TOKENS["rita"])[0] == 400
    status, body = api(tg, "GET", "/api/v1/deployments/" + a, TOKENS["rita"])
    assert status == 200 and body["state"] == "pending_approval" and body["pipeline"] == 390
    assert body["required"] == 1 and body["approvers"] == ["alice", "bob", "carol", "dora"]
    # the decision that asked for approval, for the console: reasons, findings, exceptions
    assert body["decision"]["verdict"] == "needs_approval" and body["decision"]["rule"] == "severity.approve"
    assert body["decision"]["counts"]["high"] == 6 and body["decision"]["findings"][0]["severity"] == "high"
    assert body["decision"]["reasons"][0] and body["decision"]["exceptions"] == {"applied": [], "expired": []}
    assert body["decision"]["reports"][0]["job"] == "trivy-scan"
    assert api(tg, "GET", "/api/v1/deployments/0123456789ab", TOKENS["rita"])[0] == 404
    assert api(tg, "POST", "/api/v1/deployments/%s/approve" % a, TOKENS["rita"])[0] == 403  # read scope only
    status, body = api(tg, "POST", "/api/v1/deployments/%s/deny" % b, TOKENS["alice"], {})
    assert status == 400 and "reason" in body["detail"]
    assert api(tg, "POST", "/api/v1/deployments/%s/approve" % a, TOKENS["alice"], ["x"])[0] == 400
    status, body = api(tg, "POST", "/api/v1/deployments/%s/approve" % a, TOKENS["alice"], {"comment": "ok by me"})
    assert status == 200 and body["outcome"] == "quorum" and body["deployment"]["state"] == "approved"
    assert body["deployment"]["voters"][0]["identity"] == "alice" and body["deployment"]["voters"][0]["channel"] == "api"
    wait_state(redis, 390, "production", "triggered")
    status, body = api(tg, "POST", "/api/v1/deployments/%s/deny" % b, TOKENS["alice"], {"reason": "not today"})
    assert status == 200 and body["outcome"] == "denied" and body["deployment"]["deny_reason"] == "not today"
    status, body = api(tg, "POST", "/api/v1/deployments/%s/approve" % a, TOKENS["alice"])
    assert status == 409 and body["state"] == "triggered"
    assert api(tg, "DELETE", "/api/v1/deployments/" + a, TOKENS["alice"])[0] == 405
    assert api(tg, "GET", "/api/v1/deployments/%s/votes" % a, TOKENS["alice"])[0] == 404
    status, body = api(tg, "GET", "/api/v1/deployments", TOKENS["rita"])
    assert status == 200 and body["count"] == 0
    approved = records(redis, "approved")[-1]
    assert approved["actor"] == "alice" and approved["details"]["channel"] == "api"
    assert approved["reasons"] == ["ok by me"]


def test_a_pipeline_that_turns_red_while_waiting_is_withdrawn_and_its_votes_voided(gateway, gitlab, chat, redis):
    """Two approvers needed; alice approves; a retried job fails and GitLab reports the pipeline
    failed: withdrawn, alice's vote voided, nobody can approve it. A second retry turns it green
    again: re-decided, asked again from zero."""
    tg = gateway()
    did = pending(tg, gitlab, redis, 395, ref="release/2.0", env="two-approvers", job=895)
    assert api(tg, "POST", "/api/v1/deployments/%s/approve" % did, TOKENS["alice"], {})[1]["outcome"] == "counted"
    post(tg, pipeline_event(pipeline=395, ref="release/2.0", status="failed", builds=(("trivy-scan", 896, "failed"),)))
    st = wait_state(redis, 395, "two-approvers", "withdrawn")
    assert st["votes"] == "0" and "vote:alice" not in st and "failed" in st["error"]
    assert redis.cmd("ZSCORE", "tg:pending", "tg:deploy:7:395:two-approvers") is None
    withdrawn = wait_until(lambda: records(redis, "withdrawn"), what="the withdrawal record")
    assert "alice" in withdrawn[0]["reasons"][0] and withdrawn[0]["details"]["id"] == did
    wait_until(lambda: gitlab.requests("status")[-1]["form"]["state"] == "skipped", what="status skipped")
    wait_until(lambda: any("withdrawn" in slack_text(p["json"]) for p in chat.posts("slack_webhook")),
               what="the chat notice")
    status, body = api(tg, "POST", "/api/v1/deployments/%s/approve" % did, TOKENS["dora"], {})
    assert status == 409 and "withdrawn" in json.dumps(body), (status, body)
    serve_report(gitlab, 7, 897, pipelines.REPORTS / HIGHS)
    post(tg, pipeline_event(pipeline=395, ref="release/2.0", builds=(("trivy-scan", 897, "success"),)))
    st = wait_state(redis, 395, "two-approvers", "pending_approval")
    assert st["version"] == "3" and st["redecided_from"] == "needs_approval" and st["votes"] == "0"
    wait_until(lambda: deploy_state(redis, 395, "two-approvers").get("approval_id") == did, what="asked again")
    assert deploy_state(redis, 395, "two-approvers")["approval_round"] == "2"  # the old buttons are stale
    assert len(records(redis, "approval_requested")) == 2
    assert gitlab.requests("trigger") == []


def test_untrusted_strings_are_stored_and_served_scrubbed(gateway, gitlab, chat, redis):
    """Issue 11, second round: a pipeline user name and a deny reason carrying tokens were
    stored verbatim in the deployment hash and served by GET /api/v1/deployments/ID; tokens
    after a newline, after '=' / %3D, percent-encoded, or after 'Bearer' and a tab were missed
    by the scrubber."""
    tg = gateway()
    did = pending(tg, gitlab, redis, 345, user="dora-glpat-abcdefghijklmnop")
    reason = ("leaked:\nglpat-0123456789abcdef https://x/?private_token%3Dglptt-0123456789abcdef "
              "Authorization%3A%20Bearer%20eyJhbGciOiJIUzI1NiJ9 xoxb%2D1234%2D5678%2Dabcdefgh Bearer\teyJabcdefgh12")
    status, body = api(tg, "POST", "/api/v1/deployments/%s/deny" % did, TOKENS["alice"], {"reason": reason})
    assert status == 200, body
    st = deploy_state(redis, 345, "production")
    assert st["state"] == "denied"
    stored = json.dumps(st)
    for secret in ("abcdefghijklmnop", "0123456789abcdef", "eyJhbGciOiJIUzI1NiJ9", "1234%2D5678", "eyJabcdefgh12"):
        assert secret not in stored, secret
    assert st["user"] == "dora-glpat-[REDACTED]" and st["deny_reason"].startswith("leaked:\nglpat-[REDACTED]")
    status, body = api(tg, "GET", "/api/v1/deployments/" + did, TOKENS["rita"])
    assert status == 200 and "[REDACTED]" in json.dumps(body)
    for secret in ("abcdefghijklmnop", "0123456789abcdef", "eyJhbGciOiJIUzI1NiJ9", "eyJabcdefgh12"):
        assert secret not in json.dumps(body), secret
    for line in tg.logs().splitlines() + [json.dumps(r) for r in audit_actions(redis)]:
        assert "abcdefghijklmnop" not in line and "0123456789abcdef" not in line and "eyJhbGci" not in line, line


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
