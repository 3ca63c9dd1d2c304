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


def test_services_sharing_a_chart_repository_never_supersede_each_other(gateway, gitlab, redis):
    """shop/cart (42) pipeline 6000 and shop/checkout (43) pipeline 6001 on main, both clean,
    both sent to shop/charts by the template; 6001 finishes first. Both deploy."""
    tg = gateway()
    serve_report(gitlab, 42, 601, pipelines.REPORTS / CLEAN)
    serve_report(gitlab, 43, 602, pipelines.REPORTS / CLEAN)
    post(tg, pipeline_event(pipeline=6001, ref="dev", project_id=43, path="shop/checkout",
                            builds=(("trivy-scan", 602, "success"),)))
    wait_for(redis, 43, 6001, "staging", "triggered")
    post(tg, pipeline_event(pipeline=6000, ref="dev", project_id=42, path="shop/cart",
                            builds=(("trivy-scan", 601, "success"),)))
    st = wait_for(redis, 42, 6000, "staging", "triggered")
    assert "error" not in st
    sent = sorted((t["project"], t["form"]["variables[SERVICE]"], t["form"]["variables[UPSTREAM_PIPELINE]"])
                  for t in gitlab.requests("trigger"))
    assert sent == [("shop/charts", "cart", "6000"), ("shop/charts", "checkout", "6001")]
    assert "superseded" not in [r["action"] for r in audit_actions(redis)]


def test_pending_approvals_of_services_sharing_a_chart_repository_both_wait(gateway, gitlab, redis):
    tg = gateway()
    serve_report(gitlab, 42, 601, pipelines.REPORTS / HIGHS)
    serve_report(gitlab, 43, 602, pipelines.REPORTS / HIGHS)
    post(tg, pipeline_event(pipeline=6001, ref="main", project_id=43, path="shop/checkout",
                            builds=(("trivy-scan", 602, "success"),)))
    wait_for(redis, 43, 6001, "production", "pending_approval")
    post(tg, pipeline_event(pipeline=6000, ref="main", project_id=42, path="shop/cart",
                            builds=(("trivy-scan", 601, "success"),)))
    wait_for(redis, 42, 6000, "production", "pending_approval")
    wait_until(lambda: len([r for r in audit_actions(redis) if r["action"] == "approval_requested"]) == 2,
               what="two approval requests")
    assert state_of(redis, 43, 6001, "production") == "pending_approval"
    assert "superseded" not in [r["action"] for r in audit_actions(redis)]


def test_a_newer_pipeline_of_the_same_project_still_supersedes_an_older_one(gateway, gitlab, redis):
    """The sibling that must keep working: same project, same ref, same chart target."""
    tg = gateway()
    serve_report(gitlab, 42, 601, pipelines.REPORTS / CLEAN)
    serve_report(gitlab, 42, 602, pipelines.REPORTS / CLEAN)
    gitlab.script("trigger", *[{"status": 503}] * 20, where={"variables[UPSTREAM_PIPELINE]": "6000"})
    post(tg, pipeline_event(pipeline=6000, ref="dev", project_id=42, path="shop/cart",
                            builds=(("trivy-scan", 601, "success"),)))
    wait_for(redis, 42, 6000, "staging", "retry_wait")
    post(tg, pipeline_event(pipeline=6001, ref="dev", project_id=42, path="shop/cart",
                            builds=(("trivy-scan", 602, "success"),)))
    wait_for(redis, 42, 6001, "staging", "triggered")
    st = wait_for(redis, 42, 6000, "staging", "superseded")
    assert "6001" in st["error"]
