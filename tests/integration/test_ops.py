"""Operator commands against a running gateway: replay, and retrigger run without --operator
or USER (the actor is the account). Retrigger and the dead-letter commands are the cases
0145-0146."""
import subprocess

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
