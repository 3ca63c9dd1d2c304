"""Decide and deliver, through the real binary, a real Redis and the stand-in GitLab: what
the case format (tests/cases/FORMAT.md) cannot say -- Retry-After timing, the order in time of
two pipelines' triggers, and workers killed mid-way -- plus the helpers other test files share.
The decision paths, duplicates, retries and dead letters are the cases 0100-0113."""
import json
import signal

import pytest

import harness
import pipelines
from harness import gitlab_headers, wait_until
from pipelines import pipeline_event, serve_report

CLEAN = "trivy/dd_scheme_2_no_vuln.json"


@pytest.fixture
def gitlab():
    g = pipelines.GitLab(pipelines.API_TOKEN, pipelines.TRIGGER_TOKEN).start()
    yield g
    g.stop()


@pytest.fixture
def gateway(tollgate, gitlab, logdir):
    sets = pipelines.write_sets(logdir)

    def make(workers=2, extra="", settle="1s"):
        return tollgate(workers=workers, env=pipelines.env(), extra=pipelines.config_extra(gitlab.url, extra, settle),
                        **sets)
    return make


def post(tg, event, idem=None, kind="Pipeline Hook"):
    r = harness.curl(tg.url + "/hooks/gitlab", headers=gitlab_headers(event=kind, idem=idem),
                     body=json.dumps(event).encode())
    assert r.status == 202, r.body
    return r.json()


def deploy_state(redis, pipeline, env, project_id=7):
    rec = redis.cmd("HGETALL", "tg:deploy:%d:%d:%s" % (project_id, pipeline, env)) or []
    return {rec[i].decode(): rec[i + 1].decode() for i in range(0, len(rec), 2)}


def audit_actions(redis):
    return [json.loads(f["record"]) for _, f in redis.stream("tg:audit")]


def wait_state(redis, pipeline, env, want, timeout=15):
    return wait_until(lambda: deploy_state(redis, pipeline, env).get("state") == want and deploy_state(redis, pipeline, env),
                      timeout=timeout, what="deployment %d/%s to be %s (is %s)" % (
                          pipeline, env, want, deploy_state(redis, pipeline, env).get("state")))


def test_retry_after_is_honoured(gateway, gitlab, redis):
    tg = gateway()
    serve_report(gitlab, 7, 501, pipelines.REPORTS / CLEAN)
    gitlab.script("trigger", {"status": 429, "retry_after": 1})
    post(tg, pipeline_event(pipeline=109, ref="dev"))
    wait_state(redis, 109, "staging", "triggered")
    t = gitlab.requests("trigger")
    assert len(t) == 2 and t[1]["at"] - t[0]["at"] >= 0.95


def test_older_pipeline_is_superseded_not_sent_after_a_newer_one(gateway, gitlab, redis):
    tg = gateway()
    serve_report(gitlab, 7, 501, pipelines.REPORTS / CLEAN)
    serve_report(gitlab, 7, 502, pipelines.REPORTS / CLEAN)
    gitlab.script("trigger", *[{"status": 429}] * 20, where={"variables[UPSTREAM_PIPELINE]": "120"})
    post(tg, pipeline_event(pipeline=120, ref="dev", builds=(("trivy-scan", 501, "success"),)))
    wait_until(lambda: deploy_state(redis, 120, "staging").get("state") == "retry_wait", what="pipeline 120 retrying")
    post(tg, pipeline_event(pipeline=121, ref="dev", builds=(("trivy-scan", 502, "success"),)))
    wait_state(redis, 121, "staging", "triggered")
    st = wait_state(redis, 120, "staging", "superseded")
    assert "121" in st["error"]
    sent = gitlab.requests("trigger")
    newer_at = [t["at"] for t in sent if t["form"]["variables[UPSTREAM_PIPELINE]"] == "121"][0]
    assert all(t["at"] <= newer_at for t in sent if t["form"]["variables[UPSTREAM_PIPELINE]"] == "120")
    assert "superseded" in [r["action"] for r in audit_actions(redis)]


def test_killed_worker_mid_trigger_is_reconciled_not_sent_twice(gateway, gitlab, redis):
    victim = gateway(workers=1, settle="5s")
    serve_report(gitlab, 7, 501, pipelines.REPORTS / CLEAN)
    gitlab.script("trigger", {"hang": 4})  # a slow GitLab: it creates the pipeline after 4 s
    post(victim, pipeline_event(pipeline=130, ref="dev"))
    wait_until(lambda: gitlab.requests("trigger"), what="the trigger to be on the wire")
    victim.stop(sig=signal.SIGKILL)
    survivor = gateway(workers=1, settle="5s")
    st = wait_state(redis, 130, "staging", "triggered", timeout=20)
    assert st["downstream_id"] == str(gitlab.pipelines()[0]["id"])
    wait_until(lambda: redis.cmd("XPENDING", "tg:events", "tg:workers")[0] == 0, timeout=20,
               what="the event to be acknowledged by the survivor")
    assert len(gitlab.requests("trigger")) == 1 and len(gitlab.pipelines()) == 1
    actions = [r["action"] for r in audit_actions(redis)]
    assert "unknown" not in actions and actions.count("triggered") == 1 and "reconciling" in actions
    assert any(l.get("event") == "lease_expired" for l in survivor.log_lines())


def test_killed_worker_before_the_trigger_is_completed_by_another(gateway, gitlab, redis):
    victim = gateway(workers=1)
    serve_report(gitlab, 7, 501, pipelines.REPORTS / CLEAN)
    gitlab.script("artifact", {"hang": 3})
    post(victim, pipeline_event(pipeline=131, ref="dev"))
    wait_until(lambda: gitlab.requests("artifact"), what="the artifact fetch to start")
    victim.stop(sig=signal.SIGKILL)
    gateway(workers=1)
    wait_state(redis, 131, "staging", "triggered", timeout=20)
    assert len(gitlab.requests("trigger")) == 1


def test_every_attempt_takes_the_token_of_the_template_that_rendered_it(gateway, gitlab, redis, logdir):
    """The decision records which template rendered the trigger; an attempt takes that
    template's current token by its name and never matches the templates again: a template
    added since that sorts first (with a token GitLab refuses) does not take the deployment
    over, and once the recording template is gone the attempt is refused before sending."""
    import subprocess
    tg = gateway()
    serve_report(gitlab, 7, 501, pipelines.REPORTS / CLEAN)
    for p, ref in ((140, "dev"), (141, "release/1.2")):  # two refs: neither supersedes the other
        gitlab.script("trigger", {"status": 400, "message": "scripted %d" % p},
                      where={"variables[UPSTREAM_PIPELINE]": str(p)})
        post(tg, pipeline_event(pipeline=p, ref=ref))
        wait_state(redis, p, "staging", "failed")

    def reload(n):
        tg.send_signal(signal.SIGHUP)
        wait_until(lambda: len([r for r in audit_actions(redis) if r["action"] == "config_reloaded"]) == n,
                   what="reload %d" % n)

    def retrigger(p):
        r = subprocess.run([str(harness.TOLLGATE), "retrigger", "--project", "7", "--pipeline", str(p),
                            "--environment", "staging", "-c", str(tg.config)],
                           capture_output=True, env=tg.env, timeout=60)
        assert r.returncode == 0, r.stderr

    wrong = logdir / "wrong-token"
    wrong.write_text("glptt-not-the-trigger-token")
    tpl = logdir / "templates"
    (tpl / "aaa.yaml").write_text(pipelines.TEMPLATE.replace("name: chart", "name: aaa").replace(
        "env:TG_TEST_TRIGGER_TOKEN", "file:%s" % wrong))
    reload(1)
    retrigger(140)
    assert wait_state(redis, 140, "staging", "triggered")["template"] == "chart"
    assert gitlab.requests("trigger")[-1]["form"]["token"] == pipelines.TRIGGER_TOKEN
    (tpl / "chart.yaml").unlink()
    reload(2)
    sent = len(gitlab.requests("trigger"))
    retrigger(141)
    st = wait_state(redis, 141, "staging", "failed")
    assert st["error"] == "template chart no longer serves shop/cart"
    assert len(gitlab.requests("trigger")) == sent
