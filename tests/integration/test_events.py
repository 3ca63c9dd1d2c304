"""What a pipeline is and whether it may deploy at all: refs from fields (tag flag, merge
requests), sources, forks, pipelines Tollgate triggered, ignored chart projects, and jobs of
child pipelines found through GitLab's bridges and pipeline-jobs APIs.

Each case runs twice: through `tollgate eval` (no network) and through the real gateway with
a real Redis and the stand-in GitLab. Events are GitLab's documented Pipeline Hook payload
(tests/fixtures/gitlab/webhooks/pipeline_event.json, see SOURCES.md there) edited per case.
"""
import json
import re
import subprocess

import pytest

import harness
import pipelines
from harness import gitlab_headers, wait_until
from pipelines import pipeline_event, serve_report

CLEAN = pipelines.REPORTS / "trivy/dd_scheme_2_no_vuln.json"
TRIVY = "    require_jobs: [trivy-scan]\n" \
        "    reports: [{ job: trivy-scan, artifact: trivy-report.json, format: trivy }]\n"

POLICY = """\
version: 1
ignore_projects: ["shop/helm-charts", "*/charts/*"]
environments:
  production:
    branches: [main]
    merge_requests: {mr}
""" + TRIVY + """\
  releases:
    tags: ["v*"]
""" + TRIVY + """\
  integration:
    branches: [integration]
    sources: [trigger]
""" + TRIVY + """\
  mono:
    branches: [mono]
    require_jobs: [build, { job: trivy-scan, pipeline: child }]
    reports:
      - { job: trivy-scan, artifact: trivy-report.json, format: trivy, pipeline: child }
"""

MR_MAIN = {"iid": 7, "source_branch": "main", "target_branch": "main"}
FORK = dict(MR_MAIN, source_project_id=99)

# name -> (pipeline_event keywords, expected with merge_requests false, with true).
# An expectation is (verdict, environment, rule), or ("ignored", reason part).
CASES = {
    "branch named like a tag": (dict(ref="refs/tags/v9.9.9"), ("skip", None, "branch"), None),
    "tag v1": (dict(ref="v1", tag=True), ("deploy", "releases", "policy"), None),
    "scheduled pipeline": (dict(ref="main", source="schedule"), ("deploy", "production", "policy"), None),
    "detached mr from main": (dict(ref="refs/merge-requests/7/head", mr=MR_MAIN),
                              ("skip", "production", "merge_request"), ("deploy", "production", "policy")),
    "merged results mr from main": (dict(ref="refs/merge-requests/7/merge", mr=MR_MAIN),
                                    ("skip", "production", "merge_request"), ("deploy", "production", "policy")),
    "merge train mr from main": (dict(ref="refs/merge-requests/7/train", mr=MR_MAIN),
                                 ("skip", "production", "merge_request"), ("deploy", "production", "policy")),
    "fork mr": (dict(ref="main", mr=FORK), ("skip", "production", "fork"), ("skip", "production", "fork")),
    "child pipeline": (dict(ref="main", source="parent_pipeline", parent=(7, 90, 91)),
                       ("skip", "production", "source"), None),
    "failed child pipeline": (dict(ref="main", source="parent_pipeline", status="failed", parent=(7, 90, 91)),
                              ("skip", "production", "source"), None),
    "multi-project downstream": (dict(ref="main", source="pipeline", parent=(3, 90, 91)),
                                 ("skip", "production", "source"), None),
    "trigger token pipeline": (dict(ref="main", source="trigger"), ("skip", "production", "source"), None),
    "unknown source": (dict(ref="main", source="teleport"), ("skip", "production", "source"), None),
    "sources override allows trigger": (dict(ref="integration", source="trigger"),
                                        ("deploy", "integration", "policy"), None),
    "sources override refuses push": (dict(ref="integration"), ("skip", "integration", "source"), None),
    "tollgate's own trigger": (dict(ref="integration", source="trigger",
                                    variables={"TOLLGATE_DEPLOYMENT": "tg:deploy:7:100:production/1"}),
                               ("ignored", "Tollgate triggered this pipeline"), None),
    "chart project": (dict(ref="main", path="shop/helm-charts"),
                      ("ignored", 'matches ignore_projects "shop/helm-charts"'), None),
    "chart project by glob": (dict(ref="main", path="platform/charts/cart"),
                              ("ignored", 'matches ignore_projects "*/charts/*"'), None),
    "chart project in another case": (dict(ref="main", path="Shop/Helm-Charts"),
                                      ("ignored", 'matches ignore_projects "shop/helm-charts"'), None),
}


def expectation(name, mr):
    _, off, on = CASES[name]
    return on if mr and on else off


def write_config(tmp, mr):
    sets = pipelines.write_sets(tmp, policy=POLICY.replace("{mr}", "true" if mr else "false"))
    cfg = tmp / "tollgate.yaml"
    cfg.write_text("webhooks:\n  - name: default\n    token: env:TG_TEST_GITLAB_TOKEN\n"
                   "policies: %s\ntemplates: %s\n" % (sets["policies"], sets["templates"]))
    return cfg


# ---- offline: tollgate eval ----

def evaluate(cfg, event, tmp, reports=()):
    path = tmp / "event.json"
    path.write_text(json.dumps(event))
    args = [str(harness.TOLLGATE), "eval", "-c", str(cfg), "--event", str(path)]
    for r in reports:
        args += ["--report", str(r)]
    env = dict(pipelines.env())
    env["PATH"] = "/usr/bin:/bin"
    p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)
    return p, json.loads(p.stdout) if p.stdout.strip() else None


def clean_report(tmp):
    d = tmp / "reports"
    d.mkdir(exist_ok=True)
    (d / "trivy-report.json").write_bytes(CLEAN.read_bytes())
    return d / "trivy-report.json"


EVAL_CASES = [pytest.param(n, False, id=n + "-merge_requests-false") for n in CASES] + \
             [pytest.param(n, True, id=n + "-merge_requests-true") for n in CASES if CASES[n][2] is not None]


@pytest.mark.parametrize("name,mr", EVAL_CASES)
def test_eval(tmp_path, name, mr):
    kw = CASES[name][0]
    cfg = write_config(tmp_path, mr)
    p, d = evaluate(cfg, pipeline_event(**kw), tmp_path, [clean_report(tmp_path)])
    want = expectation(name, mr)
    assert p.returncode == (0 if want[0] == "deploy" else 1), p.stderr
    if want[0] == "ignored":
        assert want[1] in d["ignored"] and "verdict" not in d
        return
    assert (d["verdict"], d["environment"], d["rule"]) == want, d["reasons"]
    assert d["source"] == kw.get("source", "merge_request_event" if kw.get("mr") else "push")


def test_eval_branch_named_like_a_tag_keeps_its_name(tmp_path):
    p, d = evaluate(write_config(tmp_path, False), pipeline_event(ref="refs/tags/v9.9.9"), tmp_path)
    assert d["ref"] == "refs/tags/v9.9.9" and d["reasons"][0] == "no environment for ref refs/tags/v9.9.9"


def test_eval_mr_ref_is_the_source_branch(tmp_path):
    p, d = evaluate(write_config(tmp_path, False), pipeline_event(ref="refs/merge-requests/7/head", mr=MR_MAIN),
                    tmp_path)
    assert d["ref"] == "main"
    assert d["reasons"][0] == "merge-request pipeline (!7): production does not deploy merge requests"


def test_eval_child_jobs_offline(tmp_path):
    """Offline, a required child job is missing; a child report counts when given."""
    cfg = write_config(tmp_path, False)
    ev = pipeline_event(ref="mono", builds=(("build", 501, "success"),))
    p, d = evaluate(cfg, ev, tmp_path, [clean_report(tmp_path)])
    assert (d["verdict"], d["rule"]) == ("block", "require_jobs")
    assert d["reasons"][0] == ("required job trivy-scan (child pipeline) is missing: no job trivy-scan: child "
                               "pipelines are not looked up offline")
    assert d["children"] == {"looked_up": False, "pending": False, "pipelines": []}


# ---- through the gateway ----

@pytest.fixture
def gitlab():
    g = pipelines.GitLab(pipelines.API_TOKEN, pipelines.TRIGGER_TOKEN).start()
    yield g
    g.stop()


def post(tg, event, uuid):
    r = harness.curl(tg.url + "/hooks/gitlab", body=json.dumps(event).encode(),
                     headers=gitlab_headers(idem="idem-" + uuid, extra={"X-Gitlab-Event-UUID": uuid}))
    assert r.status == 202, r.body


def audit(redis):
    return [json.loads(f["record"]) for _, f in redis.stream("tg:audit")]


def deployments(redis):
    return sorted(k.decode() for k in redis.cmd("KEYS", "tg:deploy:*:*:*") or [])


def answered(redis, pipeline):
    """The decided or ignored record of a pipeline, once there is one."""
    recs = [r for r in audit(redis) if r["pipeline"] == pipeline and r["action"] in ("decided", "ignored")]
    return recs[0] if recs else None


def start(tollgate, gitlab, logdir, mr):
    sets = pipelines.write_sets(logdir, policy=POLICY.replace("{mr}", "true" if mr else "false"))
    return tollgate(workers=2, env=pipelines.env(), extra=pipelines.config_extra(gitlab.url), **sets)


@pytest.mark.parametrize("mr", [False, True], ids=["merge_requests-false", "merge_requests-true"])
def test_gateway(tollgate, gitlab, redis, logdir, mr):
    tg = start(tollgate, gitlab, logdir, mr)
    names = [n for n in CASES if not mr or CASES[n][2] is not None]
    # One at a time: pipelines of one project and ref deploy in order (never roll back).
    for i, name in enumerate(names):
        pid, want = 2000 + i, expectation(name, mr)
        kw = dict(CASES[name][0], pipeline=pid, builds=(("trivy-scan", 5000 + i, "success"),))
        serve_report(gitlab, 7, 5000 + i, CLEAN)
        post(tg, pipeline_event(**kw), "uuid-%d" % pid)
        rec = wait_until(lambda: answered(redis, pid), what="pipeline %d (%s) to be answered" % (pid, name))
        assert rec["details"]["event_uuid"] == "uuid-%d" % pid, name
        if want[0] == "ignored":
            assert rec["action"] == "ignored" and want[1] in rec["reasons"][0], (name, rec)
            continue
        assert (rec["decision"], rec["environment"], rec["details"]["rule"]) == want, (name, rec["reasons"])
        if want[0] == "deploy":
            key = "tg:deploy:7:%d:%s" % (pid, rec["environment"])
            wait_until(lambda: redis.cmd("HGET", key, "state") == b"triggered", what="%s triggered" % name)
    # Every event acknowledged: each delivery has run to its end. Deployment records exist for
    # real candidates only: ignored, ineligible (source, fork) and unmatched pipelines have none.
    wait_until(lambda: redis.cmd("XPENDING", "tg:events", "tg:workers")[0] == 0, what="all events acknowledged")
    expected = sorted("tg:deploy:7:%d:%s" % (2000 + i, expectation(n, mr)[1]) for i, n in enumerate(names)
                      if expectation(n, mr)[0] != "ignored" and expectation(n, mr)[2] not in ("source", "fork", "branch"))
    assert [k for k in deployments(redis) if k.count(":") == 4] == expected
    # Only real candidates got a commit status; ignored and ineligible pipelines none.
    wait_until(lambda: len(gitlab.requests("status")) >= 1, what="commit statuses")
    with_status = {int(s["form"]["pipeline_id"]) for s in gitlab.requests("status") if "pipeline_id" in s["form"]}
    for i, name in enumerate(names):
        want = expectation(name, mr)
        silent = want[0] == "ignored" or want[2] in ("source", "fork", "branch")
        assert (2000 + i in with_status) != silent, name
    triggered = sorted(int(t["form"]["variables[UPSTREAM_PIPELINE]"]) for t in gitlab.requests("trigger"))
    assert triggered == sorted(2000 + i for i, n in enumerate(names) if expectation(n, mr)[0] == "deploy")


def child_pipeline(gitlab, parent, child, trivy_status="success", child_status="success"):
    gitlab.add_pipeline(7, parent, bridges=[{"id": parent * 10, "name": "scans", "status": child_status,
                                             "downstream_pipeline": {"id": child, "project_id": 7,
                                                                     "status": child_status}}])
    gitlab.add_pipeline(7, child, jobs=[{"id": child * 10, "name": "trivy-scan", "status": "failed"},
                                        {"id": child * 10 + 1, "name": "trivy-scan", "status": trivy_status},
                                        {"id": child * 10 + 2, "name": "unit", "status": "success"}])


def test_gateway_child_not_terminal_waits_then_reopens(tollgate, gitlab, redis, logdir):
    """The parent reports success while its child still runs: no decision is recorded (no
    deployment, no commit status), one waiting record says why, and the parent's entry is
    parked. The child's success hook re-opens it once: decided with the child's state then."""
    tg = start(tollgate, gitlab, logdir, False)
    child_pipeline(gitlab, 3200, 3201, trivy_status="running", child_status="running")
    post(tg, pipeline_event(pipeline=3200, ref="mono", builds=(("build", 3300, "success"),)), "uuid-3200")
    rec = wait_until(lambda: next((r for r in audit(redis) if r["action"] == "waiting"), None), what="waiting")
    assert (rec["pipeline"], rec["environment"], rec["decision"]) == (3200, "mono", "block")
    assert rec["reasons"][0] == "required job trivy-scan (child pipeline 3201) is running"
    assert rec["details"]["children"]["pending"] is True and rec["details"]["parked"] == "parked"
    assert rec["details"]["event_uuid"] == "uuid-3200"
    wait_until(lambda: redis.cmd("XPENDING", "tg:events", "tg:workers")[0] == 0, what="the parent handled")
    assert redis.cmd("EXISTS", "tg:deploy:7:3200:mono") == 0
    assert redis.cmd("HGET", "tg:waiting:7:3200", "event_uuid") == b"uuid-3200"
    assert 0 < redis.cmd("PTTL", "tg:waiting:7:3200") <= 7 * 24 * 3600 * 1000
    assert answered(redis, 3200) is None and gitlab.requests("status") == [] and gitlab.requests("trigger") == []

    child_pipeline(gitlab, 3200, 3201)  # the child finished: trivy-scan's latest run succeeded
    serve_report(gitlab, 7, 32011, CLEAN)
    child = pipeline_event(pipeline=3201, ref="mono", source="parent_pipeline", parent=(7, 3200, 32000),
                           builds=(("trivy-scan", 32011, "success"),))
    post(tg, child, "uuid-3201")
    wait_until(lambda: redis.cmd("HGET", "tg:deploy:7:3200:mono", "state") == b"triggered", what="parent deployed")
    rec = answered(redis, 3200)
    assert rec["decision"] == "deploy" and rec["details"]["event_uuid"] == "uuid-3200"
    reopened = [r["details"]["idempotency_key"] for r in audit(redis) if r["action"] == "received"]
    assert reopened[:2] == ["idem-uuid-3200", "idem-uuid-3201"] and len(reopened) == 3
    assert re.fullmatch(r"reopen:7:3200:7:3201:success:[0-9a-f]{16}", reopened[2]), reopened[2]
    # the child is never decided as a deployment: no record, no status
    assert redis.cmd("EXISTS", "tg:deploy:7:3201:mono") == 0
    assert {int(s["form"]["pipeline_id"]) for s in gitlab.requests("status")} == {3200}
    # the parked copy went with the decision; a second delivery of the child's hook re-opens nothing
    wait_until(lambda: redis.cmd("HEXISTS", "tg:waiting:7:3200", "body") == 0, what="the parked copy gone")
    post(tg, child, "uuid-3201-again")
    wait_until(lambda: sum(1 for r in audit(redis) if r["action"] == "received") == 4, what="the second delivery")
    wait_until(lambda: redis.cmd("XPENDING", "tg:events", "tg:workers")[0] == 0, what="every entry handled")
    assert redis.cmd("XLEN", "tg:events") == 4
    assert [r["action"] for r in audit(redis) if r["pipeline"] == 3200 and r["action"] != "received"] == \
        ["waiting", "decided", "triggered"]
    assert len(gitlab.requests("trigger")) == 1


def test_gateway_child_ending_during_the_lookup_reopens_at_once(tollgate, gitlab, redis, logdir):
    """A child's terminal hook handled while the parent's worker lists the children (between
    its read of the children generation and its park) must not be lost: the parent is not
    left parked on a stale view but re-queued at once, and then waits on the current one."""
    tg = start(tollgate, gitlab, logdir, False)
    child_pipeline(gitlab, 3800, 3801, trivy_status="running", child_status="running")
    gitlab.before_next("bridges", lambda: redis.cmd("HINCRBY", "tg:waiting:7:3800", "gen", 1))
    post(tg, pipeline_event(pipeline=3800, ref="mono", builds=(("build", 3900, "success"),)), "uuid-3800")
    wait_until(lambda: redis.cmd("HGET", "tg:waiting:7:3800", "body") is not None, what="parked")
    wait_until(lambda: redis.cmd("XPENDING", "tg:events", "tg:workers")[0] == 0, what="every entry handled")
    keys = [r["details"]["idempotency_key"] for r in audit(redis) if r["action"] == "received"]
    first = next(i for i, _ in redis.stream("tg:events"))
    assert keys == ["idem-uuid-3800", "reopen:7:3800:g1:" + first]
    waits = [r["details"]["parked"] for r in audit(redis) if r["action"] == "waiting"]
    assert waits == ["re-queued: a child ended meanwhile"]  # the second wait is the same state: one record
    assert redis.cmd("HGET", "tg:waiting:7:3800", "gen") == b"1"
    assert redis.cmd("EXISTS", "tg:deploy:7:3800:mono") == 0 and gitlab.requests("status") == []


def test_gateway_child_job_on_a_second_page_of_another_project(tollgate, gitlab, redis, logdir):
    """A multi-project downstream pipeline (project 9) holding 150 jobs: its trivy-scan, the
    oldest, is on the second page; the report comes from project 9."""
    tg = start(tollgate, gitlab, logdir, False)
    gitlab.add_pipeline(7, 3600, bridges=[
        {"id": 36001, "name": "unit-tests", "status": "success",
         "downstream_pipeline": {"id": 3601, "project_id": 7, "status": "success"}},
        {"id": 36002, "name": "security", "status": "success",
         "downstream_pipeline": {"id": 3602, "project_id": 9, "status": "success"}}])
    gitlab.add_pipeline(7, 3601, jobs=[{"id": 36010, "name": "unit", "status": "success"}])
    gitlab.add_pipeline(9, 3602, jobs=[{"id": 50000, "name": "trivy-scan", "status": "success"}] +
                        [{"id": 50001 + i, "name": "lint-%d" % i, "status": "success"} for i in range(150)])
    serve_report(gitlab, 9, 50000, CLEAN)
    post(tg, pipeline_event(pipeline=3600, ref="mono", builds=(("build", 3700, "success"),)), "uuid-3600")
    wait_until(lambda: redis.cmd("HGET", "tg:deploy:7:3600:mono", "state") == b"triggered", what="mono deployed")
    pages = [(r["path"], r["query"].get("page")) for r in gitlab.requests("jobs")]
    assert sorted(pages) == [("/api/v4/projects/7/pipelines/3601/jobs", "1"),
                             ("/api/v4/projects/9/pipelines/3602/jobs", "1"),
                             ("/api/v4/projects/9/pipelines/3602/jobs", "2")]
    assert all(r["query"].get("per_page") == "100" for r in gitlab.requests("jobs"))
    assert [r["path"] for r in gitlab.requests("artifact")] == ["/api/v4/projects/9/jobs/50000/artifacts/trivy-report.json"]
    rec = answered(redis, 3600)
    assert sorted((p["project"], p["pipeline"]) for p in rec["details"]["children"]["pipelines"]) == [
        (7, 3601), (9, 3602)]
