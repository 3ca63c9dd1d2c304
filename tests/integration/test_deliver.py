"""Decide and deliver, through the real binary, a real Redis and the stand-in GitLab:
every decision path, exactly-once triggers under duplicates, concurrency, failures and
crashes, supersession, and dead letters."""
import json
import signal
import time

import pytest

import harness
import pipelines
from harness import gitlab_headers, wait_until
from pipelines import pipeline_event, serve_report

CLEAN = "trivy/dd_scheme_2_no_vuln.json"
CRITICAL = "trivy/dd_scheme_2_many_vulns.json"   # 1 critical, 1 high, 3 medium
HIGHS = "trivy/dd_legacy_trivy_mix.json"         # 6 high, 1 unknown


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


def test_clean_dev_pipeline_triggers_the_chart_once(gateway, gitlab, redis):
    tg = gateway()
    serve_report(gitlab, 7, 501, pipelines.REPORTS / CLEAN)
    post(tg, pipeline_event(pipeline=100, ref="dev"))
    st = wait_state(redis, 100, "staging", "triggered")
    triggers = gitlab.requests("trigger")
    assert len(triggers) == 1
    t = triggers[0]
    assert t["project"] == "shop/charts" and t["form"]["token"] == pipelines.TRIGGER_TOKEN
    assert t["form"]["ref"] == "main"
    assert t["form"]["variables[ENVIRONMENT]"] == "staging" and t["form"]["variables[SERVICE]"] == "cart"
    assert t["form"]["variables[UPSTREAM_PIPELINE]"] == "100"
    assert not any(k.lower().startswith("x-gitlab") for k in t["headers"])  # nothing inbound forwarded
    assert st["downstream_id"] == "1001"
    statuses = wait_until(lambda: gitlab.requests("status"), what="a commit status")
    s = statuses[-1]["form"]
    assert s["name"] == "tollgate/staging" and s["state"] == "success"
    assert s["target_url"] == "http://tollgate.example/api/v1/audit?project=shop%2Fcart&pipeline=100"
    art = gitlab.requests("artifact")[0]
    assert art["path"] == "/api/v4/projects/7/jobs/501/artifacts/trivy-report.json"
    assert art["headers"]["PRIVATE-TOKEN"] == pipelines.API_TOKEN
    actions = [r["action"] for r in audit_actions(redis)]
    assert actions == ["received", "decided", "triggered"]


def test_critical_blocks_and_names_the_cve(gateway, gitlab, redis):
    tg = gateway()
    serve_report(gitlab, 7, 501, pipelines.REPORTS / CRITICAL)
    post(tg, pipeline_event(pipeline=101, ref="main"))
    st = wait_state(redis, 101, "production", "blocked")
    assert st["rule"] == "severity.block"
    decision = json.loads(st["decision"])
    assert decision["counts"]["critical"] == 1
    assert any(f["severity"] == "critical" and f["id"].startswith("CVE-") for f in decision["findings"])
    status = wait_until(lambda: gitlab.requests("status"), what="a commit status")[-1]["form"]
    assert status["state"] == "failed" and "critical" in status["description"]
    assert gitlab.requests("trigger") == []


def test_highs_wait_for_approval(gateway, gitlab, redis):
    tg = gateway()
    serve_report(gitlab, 7, 501, pipelines.REPORTS / HIGHS)
    post(tg, pipeline_event(pipeline=102, ref="main"))
    wait_state(redis, 102, "production", "pending_approval")
    assert redis.cmd("ZSCORE", "tg:pending", "tg:deploy:7:102:production") is not None
    status = wait_until(lambda: gitlab.requests("status"), what="a commit status")[-1]["form"]
    assert status["state"] == "pending" and status["name"] == "tollgate/production"
    assert gitlab.requests("trigger") == []


def test_feature_branch_is_skipped_without_a_status(gateway, gitlab, redis, tollgate):
    tg = gateway()
    post(tg, pipeline_event(pipeline=103, ref="feature/login"))
    decided = wait_until(lambda: [r for r in audit_actions(redis) if r["action"] == "decided"], what="a decision")
    assert decided[0]["decision"] == "skip" and decided[0]["environment"] is None
    assert any("no environment" in r for r in decided[0]["reasons"])
    assert gitlab.requests("status") == [] and gitlab.requests("trigger") == [] and gitlab.requests("artifact") == []


def test_failed_pipeline_records_a_skip(gateway, gitlab, redis):
    tg = gateway()
    post(tg, pipeline_event(pipeline=104, ref="dev", status="failed"))
    st = wait_state(redis, 104, "staging", "skipped")
    assert "failed" in st["reason"]
    status = wait_until(lambda: gitlab.requests("status"), what="a commit status")[-1]["form"]
    assert status["state"] == "skipped"


def test_missing_report_blocks(gateway, gitlab, redis):
    tg = gateway()
    post(tg, pipeline_event(pipeline=105, ref="dev"))  # no artifact registered: 404
    st = wait_state(redis, 105, "staging", "blocked")
    assert st["rule"] == "on_missing_report" and "trivy-report.json" in st["reason"]


def test_other_events_are_recorded_and_acknowledged(gateway, gitlab, redis):
    tg = gateway()
    post(tg, json.loads(harness.fixture_bytes("gitlab/webhooks/push_event.json")), kind="Push Hook")
    post(tg, pipeline_event(pipeline=106, ref="dev", status="running"))
    wait_until(lambda: redis.cmd("XPENDING", "tg:events", "tg:workers")[0] == 0 and
               len(audit_actions(redis)) == 2, what="both events recorded")
    assert [r["action"] for r in audit_actions(redis)] == ["received", "received"]
    assert gitlab.requests() == []


def test_duplicate_deliveries_trigger_once(gateway, gitlab, redis):
    tg = gateway(workers=3)
    serve_report(gitlab, 7, 501, pipelines.REPORTS / CLEAN)
    ev = pipeline_event(pipeline=107, ref="dev")
    for i in range(5):  # GitLab resends, and a pipeline re-run sends success again
        post(tg, ev, idem="dup-%d" % i)
    wait_state(redis, 107, "staging", "triggered")
    wait_until(lambda: redis.cmd("XPENDING", "tg:events", "tg:workers")[0] == 0, what="all acknowledged")
    assert len(gitlab.requests("trigger")) == 1
    assert [r["action"] for r in audit_actions(redis)].count("triggered") == 1


def test_three_processes_trigger_each_pipeline_once(gateway, gitlab, redis):
    gws = [gateway(workers=2) for _ in range(3)]
    pipelines_ = list(range(200, 215))
    for p in pipelines_:
        serve_report(gitlab, 7, 1000 + p, pipelines.REPORTS / CLEAN)
    for p in pipelines_:
        ev = pipeline_event(pipeline=p, ref="release/%d" % p, builds=(("trivy-scan", 1000 + p, "success"),))
        for i, g in enumerate(gws):
            post(g, ev, idem="p%d-%d" % (p, i))
    for p in pipelines_:
        wait_state(redis, p, "staging", "triggered", timeout=30)
    per_pipeline = [t["form"]["variables[UPSTREAM_PIPELINE]"] for t in gitlab.requests("trigger")]
    assert sorted(per_pipeline) == sorted(str(p) for p in pipelines_)


def test_retries_until_gitlab_recovers(gateway, gitlab, redis):
    tg = gateway()
    serve_report(gitlab, 7, 501, pipelines.REPORTS / CLEAN)
    gitlab.script("trigger", {"status": 500}, {"status": 502})
    post(tg, pipeline_event(pipeline=108, ref="dev"))
    st = wait_state(redis, 108, "staging", "triggered")
    assert st["attempts"] == "3"
    answers = [t for t in gitlab.requests("trigger")]
    assert len(answers) == 3
    failed = [r for r in audit_actions(redis) if r["action"] == "trigger_failed"]
    assert len(failed) == 2 and not any(r["details"]["final"] for r in failed)


def test_retry_after_is_honoured(gateway, gitlab, redis):
    tg = gateway()
    serve_report(gitlab, 7, 501, pipelines.REPORTS / CLEAN)
    gitlab.script("trigger", {"status": 429, "retry_after": 1})
    post(tg, pipeline_event(pipeline=109, ref="dev"))
    wait_state(redis, 109, "staging", "triggered")
    t = gitlab.requests("trigger")
    assert len(t) == 2 and t[1]["at"] - t[0]["at"] >= 0.95


@pytest.mark.parametrize("status", [401, 404])
def test_no_retry_on_client_errors(gateway, gitlab, redis, status):
    tg = gateway()
    serve_report(gitlab, 7, 501, pipelines.REPORTS / CLEAN)
    gitlab.script("trigger", {"status": status, "message": "%d scripted refusal" % status})
    post(tg, pipeline_event(pipeline=110, ref="dev"))
    st = wait_state(redis, 110, "staging", "failed")
    assert "scripted refusal" in st["error"]
    time.sleep(0.5)  # a wrong retry would show up within the 100-400 ms backoff
    assert len(gitlab.requests("trigger")) == 1
    final = [r for r in audit_actions(redis) if r["action"] == "trigger_failed"]
    assert len(final) == 1 and final[0]["details"]["final"] is True
    status_form = gitlab.requests("status")[-1]["form"]
    assert status_form["state"] == "failed"


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


def test_unreadable_event_is_dead_lettered_at_once(gateway, gitlab, redis):
    tg = gateway()
    ev = pipeline_event(pipeline=140, ref="dev")
    ev["builds"] = "not a list"
    post(tg, ev)
    dead = wait_until(lambda: redis.stream("tg:dead"), what="a dead letter")
    assert b"builds" in dead[0][1]["reason"] or b"unreadable" in dead[0][1]["reason"]
    assert dead[0][1]["body"] == json.dumps(ev).encode()
    wait_until(lambda: "dead_lettered" in [r["action"] for r in audit_actions(redis)], what="the audit record")
    assert redis.cmd("XPENDING", "tg:events", "tg:workers")[0] == 0


def test_event_failing_every_time_is_dead_lettered_after_max_attempts(gateway, gitlab, redis):
    tg = gateway(workers=1)
    gitlab.script("artifact", *[{"status": 500}] * 10)
    post(tg, pipeline_event(pipeline=141, ref="dev"))
    dead = wait_until(lambda: redis.stream("tg:dead"), timeout=30, what="a dead letter")
    fields = dead[0][1]
    assert fields["deliveries"] == b"4" and b"HTTP 500" in fields["reason"]
    assert len(gitlab.requests("artifact")) == 3
    assert deploy_state(redis, 141, "staging") == {}


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
