"""Operator commands against a running gateway: replay, retrigger, dead."""
import json
import subprocess

import pytest

import harness
import pipelines
from harness import wait_until
from pipelines import pipeline_event, serve_report
from test_deliver import audit_actions, deploy_state, gateway, gitlab, post, wait_state  # noqa: F401

CLEAN = "trivy/dd_scheme_2_no_vuln.json"


def tg_cli(tg, *args):
    return subprocess.run([str(harness.TOLLGATE)] + list(args[:1]) + ["-c", str(tg.config)] + list(args[1:]),
                          capture_output=True, text=True, env=tg.env)


def test_replay_posts_through_the_full_path(gateway, redis, tmp_path):
    tg = gateway(workers=0)
    ev = tmp_path / "push.json"
    ev.write_bytes(harness.fixture_bytes("gitlab/webhooks/push_event.json"))
    p = tg_cli(tg, "replay", str(ev))
    assert p.returncode == 0 and '"duplicate":false' in p.stdout, p.stdout + p.stderr
    p = tg_cli(tg, "replay", str(ev))
    assert p.returncode == 0 and '"duplicate":true' in p.stdout
    entries = redis.stream("tg:events")
    assert len(entries) == 1 and entries[0][1]["event"] == b"Push Hook"
    assert entries[0][1]["body"] == ev.read_bytes()


def test_retrigger_a_failed_deployment(gateway, gitlab, redis):
    tg = gateway()
    serve_report(gitlab, 7, 501, pipelines.REPORTS / CLEAN)
    gitlab.script("trigger", {"status": 404, "message": "404 Project Not Found"})
    post(tg, pipeline_event(pipeline=300, ref="dev"))
    wait_state(redis, 300, "staging", "failed")
    p = tg_cli(tg, "retrigger", "--project", "7", "--pipeline", "300", "--environment", "staging", "--operator", "olga")
    assert p.returncode == 0, p.stderr
    st = wait_state(redis, 300, "staging", "triggered")
    assert st["attempts"] == "2" and len(gitlab.requests("trigger")) == 2
    replayed = [r for r in audit_actions(redis) if r["action"] == "replayed"]
    assert replayed[0]["actor"] == "operator:olga" and replayed[0]["details"]["previous_state"] == "failed"
    # the pipeline's audit query (project, pipeline, environment) shows the operator's re-run
    assert (replayed[0]["project"], replayed[0]["pipeline"], replayed[0]["environment"]) == ("shop/cart", 300, "staging")
    assert replayed[0]["ref"] == "dev" and replayed[0]["sha"] == "%040x" % (300 * 7919)
    p = tg_cli(tg, "retrigger", "--project", "7", "--pipeline", "300", "--environment", "staging")
    assert p.returncode == 1 and "triggered" in p.stderr  # a triggered deploy is never re-sent


def test_retrigger_without_operator_names_the_account(gateway, gitlab, redis):
    """No --operator and no USER/SUDO_USER (cron, systemd, a container): the account that ran
    the command is the actor, never operator:unknown."""
    import os
    import pwd
    tg = gateway()
    serve_report(gitlab, 7, 501, pipelines.REPORTS / CLEAN)
    gitlab.script("trigger", {"status": 404, "message": "404 Project Not Found"})
    post(tg, pipeline_event(pipeline=302, ref="dev"))
    wait_state(redis, 302, "staging", "failed")
    env = {k: v for k, v in tg.env.items() if k not in ("USER", "SUDO_USER")}
    p = subprocess.run([str(harness.TOLLGATE), "retrigger", "-c", str(tg.config), "--project", "7", "--pipeline",
                        "302", "--environment", "staging"], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    replayed = wait_until(lambda: [r for r in audit_actions(redis) if r["action"] == "replayed"], what="replayed")
    assert replayed[0]["actor"] == "operator:" + pwd.getpwuid(os.geteuid()).pw_name
    assert replayed[0]["pipeline"] == 302


def test_dead_letters_listed_requeued_and_dropped(gateway, redis):
    tg = gateway()
    ev = pipeline_event(pipeline=301, ref="dev")
    ev["builds"] = {"not": "a list"}
    post(tg, ev)
    first = wait_until(lambda: redis.stream("tg:dead"), what="a dead letter")[0][0]
    p = tg_cli(tg, "dead", "list")
    assert p.returncode == 0 and first in p.stdout and "1 dead-lettered" in p.stdout
    p = tg_cli(tg, "dead", "requeue", first, "--operator", "olga")
    assert p.returncode == 0 and "requeued" in p.stdout
    # the payload is still unreadable, so it comes back as a new dead letter
    again = wait_until(lambda: [e for e in redis.stream("tg:dead") if e[0] != first], what="the requeued event")
    assert again[0][1]["body"] == json.dumps(ev).encode()
    p = tg_cli(tg, "dead", "drop", again[0][0])
    assert p.returncode == 0 and redis.stream("tg:dead") == []
    actions = [r["action"] for r in audit_actions(redis)]
    assert "replayed" in actions and "dropped" in actions
    assert tg_cli(tg, "dead", "drop", "1-1").returncode == 1
