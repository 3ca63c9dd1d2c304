"""Builders for the deliver tests: GitLab pipeline events derived from the documented payload,
the stand-in GitLab, and a gateway configured against it."""
import copy
import json
import pathlib
import sys

import harness

sys.path.insert(0, str(harness.ROOT / "tests" / "standins"))
from gitlab import GitLab  # noqa: E402

API_TOKEN = "glpat-test-api-token-0042"
TRIGGER_TOKEN = "glptt-test-trigger-token-0042"
DOC_PIPELINE = json.loads(harness.fixture_bytes("gitlab/webhooks/pipeline_event.json"))
REPORTS = harness.FIXTURES / "reports"

POLICY = """\
version: 1
environments:
  production:
    branches: [main]
    require_jobs: [trivy-scan]
    reports:
      - { job: trivy-scan, artifact: trivy-report.json, format: trivy }
    severity:
      block: { critical: 0 }
      approve: { high: 0 }
    approvals: { required: 1, expire: 1h }
  staging:
    branches: [dev, "release/*"]
    require_jobs: [trivy-scan]
    reports:
      - { job: trivy-scan, artifact: trivy-report.json, format: trivy }
    severity:
      block: { critical: 0 }
"""

TEMPLATE = """\
name: chart
match: { project: "*" }
trigger:
  project: "{{ project.namespace }}/charts"
  ref: main
  token: env:TG_TEST_TRIGGER_TOKEN
  variables:
    SERVICE: "{{ project.name }}"
    IMAGE_TAG: "{{ pipeline.sha }}"
    ENVIRONMENT: "{{ decision.environment }}"
    UPSTREAM_PIPELINE: "{{ pipeline.id }}"
"""


def pipeline_event(pipeline=100, ref="dev", status="success", project_id=7, path="shop/cart", user="dora",
                   sha=None, builds=(("trivy-scan", 501, "success"),), mr=False, tag=False, source=None,
                   variables=None, parent=None, user_id=None):
    """mr: True keeps the documented merge_request; a dict updates it (source_branch,
    source_project_id, ...). parent: (project id, pipeline id, bridge job id) for
    source_pipeline. variables: {KEY: value} for object_attributes.variables. user_id: the
    user's GitLab id (the documented example's 1 when None)."""
    ev = copy.deepcopy(DOC_PIPELINE)
    oa = ev["object_attributes"]
    oa.update(id=pipeline, iid=pipeline - 90, ref=ref, status=status, tag=tag,
              sha=sha or ("%040x" % (pipeline * 7919)),
              source=source or ("merge_request_event" if mr else "push"))
    oa["variables"] = [{"key": k, "value": v} for k, v in (variables or {}).items()]
    if isinstance(mr, dict):
        ev["merge_request"].update(source_project_id=project_id, target_project_id=project_id)
        ev["merge_request"].update(mr)
    if parent:
        ev["source_pipeline"] = {"project": {"id": parent[0], "web_url": "https://gitlab.example.com/" + path,
                                             "path_with_namespace": path},
                                 "pipeline_id": parent[1], "job_id": parent[2]}
    else:
        ev["source_pipeline"] = None
    oa["url"] = "https://gitlab.example.com/%s/-/pipelines/%d" % (path, pipeline)
    ns, name = path.rsplit("/", 1)
    ev["project"].update(id=project_id, name=name, namespace=ns, path_with_namespace=path,
                         web_url="https://gitlab.example.com/" + path)
    ev["user"]["username"] = user
    if user_id is not None:
        ev["user"]["id"] = user_id
    if not mr:
        ev["merge_request"] = None
    template = ev["builds"][0]
    ev["builds"] = []
    for bname, bid, bstatus in builds:
        b = copy.deepcopy(template)
        b.update(id=bid, name=bname, status=bstatus, stage="test")
        ev["builds"].append(b)
    return ev


def write_sets(logdir, policy=POLICY, template=TEMPLATE):
    """Writes a policy and a template directory; returns them as Tollgate(...) keywords."""
    pol = pathlib.Path(logdir) / "policies"
    tpl = pathlib.Path(logdir) / "templates"
    pol.mkdir(parents=True, exist_ok=True)
    tpl.mkdir(parents=True, exist_ok=True)
    (pol / "test.yaml").write_text(policy)
    (tpl / "chart.yaml").write_text(template)
    return {"policies": pol, "templates": tpl}


def config_extra(gitlab_url, extra="", settle="1s"):
    """settle must exceed the longest a scripted stand-in GitLab takes to create a pipeline."""
    return ("gitlab:\n  url: %s\n  api_token: env:TG_TEST_GITLAB_TOKEN\n  timeout: 2s\n"
            "public_url: http://tollgate.example\n"
            "queue: { claim_idle: 3s, max_attempts: 3 }\n"
            "trigger: { retry_base: 100ms, retry_cap: 400ms, tries: 4, timeout: 1s, settle: %s }\n%s"
            % (gitlab_url, settle, extra))


def env():
    return {"TG_TEST_GITLAB_TOKEN": API_TOKEN, "TG_TEST_TRIGGER_TOKEN": TRIGGER_TOKEN}


def serve_report(gl, project_id, job_id, fixture, name="trivy-report.json"):
    data = (REPORTS / fixture).read_bytes() if not isinstance(fixture, bytes) else fixture
    gl.add_artifact(project_id, job_id, name, data)
