"""The pipeline lifecycle through the real binary, a real Redis and the stand-in GitLab:
the scope of "never roll back" (services sharing a chart repository), decisions on terminal
statuses only, re-decisions of retried pipelines, withdrawals, and echoes of Tollgate's own
commit statuses (issue 10)."""
import pytest

import pipelines
from harness import wait_until
from pipelines import pipeline_event, serve_report
from test_deliver import audit_actions, deploy_state, gateway, gitlab, post  # noqa: F401 (fixtures)

CLEAN = "trivy/dd_scheme_2_no_vuln.json"
HIGHS = "trivy/dd_legacy_trivy_mix.json"         # 6 high: production waits for approval


def state_of(redis, project, pipeline, env):
    return deploy_state(redis, pipeline, env, project_id=project).get("state")


def wait_for(redis, project, pipeline, env, want, timeout=15):
    wait_until(lambda: state_of(redis, project, pipeline, env) == want, timeout=timeout,
               what="deployment %d/%d/%s to be %s (is %s)" % (project, pipeline, env, want,
                                                              state_of(redis, project, pipeline, env)))
    return deploy_state(redis, pipeline, env, project_id=project)


def two_services(tg, gitlab, redis, ref, env, report, state):
    """shop/checkout (43) pipeline 6001 first, then shop/cart (42) pipeline 6000, same ref, both
    sent to shop/charts by the template: both reach state."""
    for project, path, pipeline, job in ((43, "shop/checkout", 6001, 602), (42, "shop/cart", 6000, 601)):
        serve_report(gitlab, project, job, pipelines.REPORTS / report)
        post(tg, pipeline_event(pipeline=pipeline, ref=ref, project_id=project, path=path,
                                builds=(("trivy-scan", job, "success"),)))
        wait_for(redis, project, pipeline, env, state)
    assert state_of(redis, 43, 6001, env) == state
    assert "superseded" not in actions(redis)


def test_services_sharing_a_chart_repository_never_supersede_each_other(gateway, gitlab, redis):
    """Both clean; 6001 (the other project's) finishes first. Both deploy (issue 10, fault 1)."""
    tg = gateway()
    two_services(tg, gitlab, redis, "dev", "staging", CLEAN, "triggered")
    sent = sorted((t["project"], t["form"]["variables[SERVICE]"], t["form"]["variables[UPSTREAM_PIPELINE]"])
                  for t in gitlab.requests("trigger"))
    assert sent == [("shop/charts", "cart", "6000"), ("shop/charts", "checkout", "6001")]


def test_pending_approvals_of_services_sharing_a_chart_repository_both_wait(gateway, gitlab, redis):
    tg = gateway()
    two_services(tg, gitlab, redis, "main", "production", HIGHS, "pending_approval")
    wait_until(lambda: actions(redis).count("approval_requested") == 2, what="two approval requests")


def test_a_newer_pipeline_of_the_same_project_still_supersedes_an_older_one(gateway, gitlab, redis):
    """The sibling that must keep working: same project, same ref, same chart target."""
    tg = gateway()
    serve_report(gitlab, 42, 601, pipelines.REPORTS / CLEAN)
    serve_report(gitlab, 42, 602, pipelines.REPORTS / CLEAN)
    gitlab.script("trigger", *[{"status": 429}] * 20, where={"variables[UPSTREAM_PIPELINE]": "6000"})
    post(tg, pipeline_event(pipeline=6000, ref="dev", project_id=42, path="shop/cart",
                            builds=(("trivy-scan", 601, "success"),)))
    wait_for(redis, 42, 6000, "staging", "retry_wait")
    post(tg, pipeline_event(pipeline=6001, ref="dev", project_id=42, path="shop/cart",
                            builds=(("trivy-scan", 602, "success"),)))
    wait_for(redis, 42, 6001, "staging", "triggered")
    st = wait_for(redis, 42, 6000, "staging", "superseded")
    assert "6001" in st["error"]


# ---- decide on terminal statuses; re-decide a retried pipeline; never re-decide an acted one ----

def scan(job, status="success"):
    return (("trivy-scan", job, status),)


def actions(redis):
    return [r["action"] for r in audit_actions(redis)]


def settled(redis, n):
    """All n events received and acknowledged."""
    wait_until(lambda: actions(redis).count("received") == n and
               redis.cmd("XPENDING", "tg:events", "tg:workers")[0] == 0, what="%d events handled" % n)


def statuses(gitlab):
    return [(s["form"]["state"], s["form"].get("pipeline_id")) for s in gitlab.requests("status")]


def test_a_retried_pipeline_deploys_when_it_turns_green(gateway, gitlab, redis):
    """Pipeline 7000 on main: failed (trivy-scan failed), running (retried), success."""
    tg = gateway(workers=1)
    serve_report(gitlab, 7, 702, pipelines.REPORTS / CLEAN)
    post(tg, pipeline_event(pipeline=7000, ref="main", status="failed", builds=scan(701, "failed")))
    wait_for(redis, 7, 7000, "production", "skipped")
    post(tg, pipeline_event(pipeline=7000, ref="main", status="running", builds=scan(702, "running")))
    post(tg, pipeline_event(pipeline=7000, ref="main", status="success", builds=scan(702)))
    st = wait_for(redis, 7, 7000, "production", "triggered")
    assert st["version"] == "2" and st["redecided_from"] == "skip" and st["status"] == "success"
    assert len(gitlab.requests("trigger")) == 1
    redecided = [r for r in audit_actions(redis) if r["action"] == "redecided"]
    assert len(redecided) == 1 and redecided[0]["decision"] == "deploy"
    assert redecided[0]["details"]["earlier_verdict"] == "skip"
    wait_until(lambda: len(gitlab.requests("status")) == 2, what="two commit statuses")
    assert statuses(gitlab) == [("skipped", "7000"), ("success", "7000")]
    settled(redis, 3)
    assert actions(redis) == ["received", "decided", "received", "received", "redecided", "triggered"]


def test_two_success_hooks_are_one_decision(gateway, gitlab, redis):
    tg = gateway()
    serve_report(gitlab, 7, 711, pipelines.REPORTS / CLEAN)
    ev = pipeline_event(pipeline=7100, ref="main", builds=scan(711))
    post(tg, ev, idem="7100-first")
    ev["object_attributes"]["duration"] = (ev["object_attributes"].get("duration") or 0) + 1
    post(tg, ev, idem="7100-again")  # GitLab sends it again: a distinct delivery, same builds
    wait_for(redis, 7, 7100, "production", "triggered")
    settled(redis, 2)
    assert actions(redis).count("decided") == 1 and len(gitlab.requests("trigger")) == 1
    assert "kept" not in actions(redis)  # a redelivery (same status, same builds) is only received


def test_running_after_success_changes_nothing(gateway, gitlab, redis):
    tg = gateway(workers=1)
    serve_report(gitlab, 7, 721, pipelines.REPORTS / CLEAN)
    post(tg, pipeline_event(pipeline=7200, ref="main", builds=scan(721)))
    wait_for(redis, 7, 7200, "production", "triggered")
    post(tg, pipeline_event(pipeline=7200, ref="main", status="running", builds=scan(721)))  # the echo of a pending status
    post(tg, pipeline_event(pipeline=7200, ref="main", status="pending", builds=scan(722, "pending")))
    settled(redis, 3)
    st = deploy_state(redis, 7200, "production")
    assert st["state"] == "triggered" and st["version"] == "1"
    assert actions(redis) == ["received", "decided", "triggered", "received", "received"]


def deploy_then(tg, gitlab, redis, pipeline, first_job, later):
    """A clean pipeline deploys on the hook of job first_job; then the later hook arrives.
    Returns the kept record it leaves."""
    serve_report(gitlab, 7, first_job, pipelines.REPORTS / CLEAN)
    post(tg, pipeline_event(pipeline=pipeline, ref="main", builds=scan(first_job)))
    wait_for(redis, 7, pipeline, "production", "triggered")
    post(tg, later)
    return wait_until(lambda: [r for r in audit_actions(redis) if r["action"] == "kept"], what="the kept record")[0]


def test_a_job_retried_after_the_deploy_failing_is_recorded_not_redeployed(gateway, gitlab, redis):
    tg = gateway(workers=1)
    kept = deploy_then(tg, gitlab, redis, 7300, 731,
                       pipeline_event(pipeline=7300, ref="main", status="failed", builds=scan(732, "failed")))
    assert kept["details"]["rule"] == "acted" and kept["details"]["status"] == "failed"
    assert "triggered" in kept["reasons"][0]
    post(tg, pipeline_event(pipeline=7300, ref="main", status="success", builds=scan(733)))  # retried again
    settled(redis, 3)
    assert len(gitlab.requests("trigger")) == 1 and deploy_state(redis, 7300, "production")["state"] == "triggered"
    assert actions(redis).count("decided") == 1 and "redecided" not in actions(redis)


def test_an_older_event_arriving_after_a_newer_one_is_kept(gateway, gitlab, redis):
    """Hooks come out of order: the success of the retried job (742) first, the failed of the
    first run (741) after it. The lower job ids say which is older."""
    tg = gateway(workers=1)
    kept = deploy_then(tg, gitlab, redis, 7400, 742,
                       pipeline_event(pipeline=7400, ref="main", status="failed", builds=scan(741, "failed")))
    assert kept["details"]["rule"] == "stale" and kept["details"]["rank"] == 741
    assert len(gitlab.requests("trigger")) == 1


def test_an_older_success_never_redecides_a_newer_failure(gateway, gitlab, redis):
    """The failed hook of a later run (job 752) arrives first, the success of the run before it
    (751) after: the pipeline's newest state is failed, so the older success deploys nothing."""
    tg = gateway(workers=1)
    serve_report(gitlab, 7, 751, pipelines.REPORTS / CLEAN)
    post(tg, pipeline_event(pipeline=7450, ref="main", status="failed", builds=scan(752, "failed")))
    wait_for(redis, 7, 7450, "production", "skipped")
    post(tg, pipeline_event(pipeline=7450, ref="main", builds=scan(751)))
    kept = wait_until(lambda: [r for r in audit_actions(redis) if r["action"] == "kept"], what="the kept record")[0]
    assert kept["details"]["rule"] == "stale" and kept["details"]["verdict_now"] == "deploy"
    assert deploy_state(redis, 7450, "production")["state"] == "skipped" and gitlab.requests("trigger") == []


def test_the_echo_of_tollgates_own_failed_status_never_redecides(gateway, gitlab, redis):
    """A block posts `failed` with pipeline_id; GitLab turns the pipeline failed and sends a
    hook with the same builds. Then a real retry turns it green: re-decided, not the echo."""
    tg = gateway(workers=1)
    serve_report(gitlab, 7, 751, pipelines.REPORTS / "trivy/dd_scheme_2_many_vulns.json")
    post(tg, pipeline_event(pipeline=7500, ref="main", builds=scan(751)))
    wait_for(redis, 7, 7500, "production", "blocked")
    post(tg, pipeline_event(pipeline=7500, ref="main", status="failed", builds=scan(751)))  # the echo
    settled(redis, 2)
    st = deploy_state(redis, 7500, "production")
    assert st["state"] == "blocked" and st["status"] == "success" and st["version"] == "1"
    assert "kept" not in actions(redis) and len(gitlab.requests("status")) == 1


def test_manual_counts_as_success_only_where_the_policy_says_so(tollgate, gitlab, redis, logdir):
    policy = pipelines.POLICY.replace("  staging:\n", "  staging:\n    manual_as_success: true\n")
    sets = pipelines.write_sets(logdir, policy=policy)
    tg = tollgate(workers=1, env=pipelines.env(), extra=pipelines.config_extra(gitlab.url), **sets)
    serve_report(gitlab, 7, 761, pipelines.REPORTS / CLEAN)
    serve_report(gitlab, 7, 771, pipelines.REPORTS / CLEAN)
    manual = (("trivy-scan", 761, "success"), ("deploy-gate", 762, "manual"))
    post(tg, pipeline_event(pipeline=7600, ref="dev", status="manual", builds=manual))
    wait_for(redis, 7, 7600, "staging", "triggered")
    assert deploy_state(redis, 7600, "staging")["status"] == "manual"
    post(tg, pipeline_event(pipeline=7700, ref="main", status="manual",
                            builds=(("trivy-scan", 771, "success"), ("deploy-gate", 772, "manual"))))
    settled(redis, 2)
    assert deploy_state(redis, 7700, "production") == {}  # production has no manual_as_success: not terminal
    assert actions(redis).count("decided") == 1


def test_a_kept_hook_raises_the_rank_so_an_older_success_loses(gateway, gitlab, redis):
    """Staging, in this order: failed (job 8001), failed (job 8003, a later run), success
    (job 8002, older than 8003). The second failed is kept (same status) but makes 8003 the
    newest run known, so the success of the run before it deploys nothing."""
    tg = gateway(workers=1)
    serve_report(gitlab, 7, 8002, pipelines.REPORTS / CLEAN)
    for job, status in ((8001, "failed"), (8003, "failed"), (8002, "success")):
        post(tg, pipeline_event(pipeline=8000, ref="dev", status=status, builds=scan(job, status)))
        settled(redis, {8001: 1, 8003: 2, 8002: 3}[job])
    st = deploy_state(redis, 8000, "staging")
    assert st["state"] == "skipped" and st["rank"] == "8003" and st["status"] == "failed"
    kept = [r["details"]["rule"] for r in audit_actions(redis) if r["action"] == "kept"]
    assert kept == ["same_status", "stale"] and gitlab.requests("trigger") == []


# Sets of hooks of one pipeline (status, job id offset, report) whose newest run (highest job
# id) decides, and the state every order of them must end in on three processes.
SHUFFLED = [
    ("production", (("success", 1, HIGHS), ("success", 3, HIGHS), ("failed", 2, None)), "pending_approval"),
    ("production", (("failed", 1, None), ("success", 3, HIGHS), ("canceled", 2, None)), "pending_approval"),
    ("staging", (("failed", 1, None), ("canceled", 2, None), ("success", 3, CLEAN)), "triggered"),
]


def test_the_final_state_depends_on_the_set_of_hooks_not_their_order(gateway, gitlab, redis):
    """Every order of each set, sent round-robin to three gateway processes sharing one Redis:
    one final state per set, the newest run's status recorded, at most one trigger each. Each
    order is a pipeline of a project of its own (a newer pipeline of one project and ref would
    supersede the older ones' requests)."""
    import itertools
    tgs = [gateway() for _ in range(3)]
    pipeline, sent, want = 8100, 0, {}
    for env, hooks, final in SHUFFLED:
        for order in itertools.permutations(hooks):
            pipeline += 1
            ref = "main" if env == "production" else "dev"
            for status, offset, report in hooks:
                if report:
                    serve_report(gitlab, pipeline, pipeline * 10 + offset, pipelines.REPORTS / report)
            for status, offset, _ in order:
                post(tgs[sent % 3], pipeline_event(pipeline=pipeline, ref=ref, status=status, project_id=pipeline,
                                                   path="shop/svc%d" % pipeline,
                                                   builds=scan(pipeline * 10 + offset, status)))
                sent += 1
            want[pipeline] = (env, final, str(pipeline * 10 + 3), [o[0] for o in order])
    settled(redis, sent)
    for pipeline, (env, final, rank, order) in want.items():
        st = wait_for(redis, pipeline, pipeline, env, final)
        assert st["rank"] == rank and st["status"] == "success", (pipeline, order, st)
    triggered = [t["form"]["variables[UPSTREAM_PIPELINE]"] for t in gitlab.requests("trigger")]
    assert sorted(triggered) == sorted({str(p) for p, w in want.items() if w[1] == "triggered"})
