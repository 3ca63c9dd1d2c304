#!/usr/bin/env python3
"""The approval step of `make demo`: a deploy that waits for a human is approved from the
stand-in chat (tests/standins/chat.py), and the worker then triggers the chart once.

From scripts/demo.py:

    import demo_approval
    chat = demo_approval.start_chat()                       # before Tollgate starts
    config_text += demo_approval.config_lines()             # chatops lines (public_url stays as is)
    env.update(demo_approval.env(chat))                     # the secrets those lines name
    ...replay the pipeline with only highs (it waits for approval)...
    demo_approval.approve_from_chat(tollgate_url, chat, redis, "tg:deploy:42:504:production", say=say)
    chat.stop()

Alone: `python3 scripts/demo_approval.py` starts Redis, the stand-in GitLab, the stand-in chat and
Tollgate itself, replays that pipeline, and approves it.
"""
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "tests" / "standins"))
import harness  # noqa: E402
from chat import Chat, SlackClient, mattermost_buttons, slack_buttons, slack_text  # noqa: E402

SIGNING_SECRET = "demo-slack-signing-secret-3f9a"
MATTERMOST_TOKEN = "demo-mattermost-command-token"
APPROVER = ("U0DEMOALICE", "alice")  # Slack user id -> identity (not the pipeline's user, dora)


def start_chat():
    return Chat(bot_token="xoxb-demo").start()


def config_lines():
    """The tollgate.yaml lines that turn ChatOps on for the demo (add them at top level)."""
    return """\
chatops:
  slack:
    signing_secret: env:DEMO_SLACK_SIGNING_SECRET
    webhook_url: env:DEMO_SLACK_WEBHOOK_URL
    users: { %s: %s }
  mattermost:
    token: env:DEMO_MATTERMOST_TOKEN
    webhook_url: env:DEMO_MATTERMOST_WEBHOOK_URL
    users: { demo-mm-user-alice: alice }
""" % APPROVER


def env(chat):
    return {"DEMO_SLACK_SIGNING_SECRET": SIGNING_SECRET, "DEMO_SLACK_WEBHOOK_URL": chat.slack_webhook_url,
            "DEMO_MATTERMOST_TOKEN": MATTERMOST_TOKEN, "DEMO_MATTERMOST_WEBHOOK_URL": chat.mattermost_webhook_url}


def deployment_id(key):
    """A deployment's id: the first 12 hex digits of SHA-256 over its Redis key."""
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _wait(what, fn, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(0.1)
    raise SystemExit("demo: timed out waiting for %s" % what)


def _first_line(text):
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line.replace("*", "").replace("`", "").replace(":lock: ", "")


def approve_from_chat(tollgate_url, chat, redis, key, prefix="tg:", say=print):
    """Shows the request Tollgate posted for the deployment at key (or its id), clicks Approve in
    the stand-in Slack as the demo approver (a correctly signed block_actions request), and
    waits for the trigger. Returns the deployment record."""
    did = key if len(key) in (12, 16, 20) and ":" not in key else deployment_id(key)
    key = key if ":" in key else (redis.cmd("GET", prefix + "approval:id:" + did) or b"").decode()
    request = _wait("the Slack request", lambda: chat.slack_requests_for(did))[-1]["json"]
    say("   Slack      <- %s  [Approve] [Deny]  (deployment %s)" % (_first_line(slack_text(request)[len(request["text"]):]), did))
    mm = _wait("the Mattermost request", lambda: [p for p in chat.posts("mattermost") if did in json.dumps(p["json"])])
    say("   Mattermost <- the same request, buttons calling %s" % mattermost_buttons(mm[-1]["json"])["approve"]["url"])
    user, identity = APPROVER
    status, _ = SlackClient(tollgate_url, SIGNING_SECRET, chat).click(user, "approve", slack_buttons(request)["approve"])
    say("   Slack      -> POST /chatops/slack: %s (%s) clicks Approve, signed v0=HMAC-SHA256: %d" % (user, identity, status))
    record = _wait("the trigger", lambda: _record(redis, key) if _record(redis, key).get("state") == "triggered" else None, 20)
    replaced = _wait("the message update", lambda: chat.posts("slack_response"))[-1]["json"]
    say("   Slack      <- response_url: message replaced: %s" % _first_line(slack_text(replaced).split("\n")[-1]))
    say("   deployment state: %s (downstream pipeline #%s)" % (record["state"], record.get("downstream_id", "?")))
    return record


def _record(redis, key):
    rec = redis.cmd("HGETALL", key) or []
    return {rec[i].decode(): rec[i + 1].decode() for i in range(0, len(rec), 2)}


def main():
    import demo  # scripts/demo.py: the event builder and the base config

    work = pathlib.Path(tempfile.mkdtemp(prefix="tollgate-approval-demo-"))
    redis = harness.Redis(work / "redis").start()
    gitlab = demo.GitLab(api_token="glpat-demo-api", trigger_token="glptt-demo-trigger").start()
    chat = start_chat()
    port = harness.free_port()
    cfg = work / "tollgate.yaml"
    cfg.write_text(demo.config(work, redis.url, gitlab.url, port) + config_lines())
    environ = dict(os.environ, DEMO_GITLAB_TOKEN="glpat-demo-api", DEMO_WEBHOOK_TOKEN="demo-webhook-token",
                   TRIGGER_TOKEN="glptt-demo-trigger", **env(chat))
    log = open(work / "tollgate.log", "wb")
    tg = subprocess.Popen([str(harness.TOLLGATE), "serve", "-c", str(cfg)], stdout=log, stderr=log, env=environ)
    url = "http://127.0.0.1:%d" % port
    try:
        harness.wait_until(lambda: subprocess.run(["curl", "-sf", url + "/readyz"], capture_output=True).returncode == 0,
                           what="Tollgate")
        pipeline, project = 504, demo.PROJECT
        horusec, trivy = demo.SCANS["highs"]
        gitlab.add_artifact(project["id"], pipeline * 10, "sast-report.json", (demo.REPORTS / horusec).read_bytes())
        gitlab.add_artifact(project["id"], pipeline * 10 + 1, "trivy-report.json", (demo.REPORTS / trivy).read_bytes())
        path = work / "pipeline.json"
        path.write_text(json.dumps(demo.event_for(pipeline, "main")))
        print("main with only highs waits for an approval (pipeline %d by dora)" % pipeline)
        subprocess.run([str(harness.TOLLGATE), "replay", "-c", str(cfg), str(path)], env=environ, capture_output=True)
        approve_from_chat(url, chat, redis, "tg:deploy:%d:%d:production" % (project["id"], pipeline))
        for t in gitlab.requests("trigger"):
            print("   GitLab     <- POST trigger %s ref=%s" % (t["project"], t["form"]["ref"]))
        actions = [json.loads(f["record"])["action"] for _, f in redis.stream("tg:audit")]
        print("   audit: %s" % ", ".join(a for a in actions if a not in ("received",)))
    finally:
        tg.terminate()
        tg.wait(timeout=20)
        log.close()
        chat.stop()
        gitlab.stop()
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
