"""`tollgate eval` and `tollgate check` through the real binary: no network, no Redis.

Events are GitLab's documented Pipeline Hook payload (tests/fixtures/gitlab/webhooks), edited at
test time to set the ref, status and builds; reports are real scanner outputs from
tests/fixtures/reports copied under the artifact names the policy expects. Decisions use the
shipped policies/ and templates/ unless a test writes its own.
"""
import copy
import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

import harness

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOLLGATE = harness.TOLLGATE
FIXTURES = ROOT / "tests" / "fixtures"
REPORTS = FIXTURES / "reports"
PIPELINE = FIXTURES / "gitlab" / "webhooks" / "pipeline_event.json"
TRIGGER_TOKEN = "glptt-eval-test-token-0077"

CONFIG = """\
webhooks:
  - name: default
    token: env:TG_TEST_WEBHOOK_TOKEN
policies: {policies}
templates: {templates}
"""


def env():
    e = dict(os.environ)
    e.update(TG_TEST_WEBHOOK_TOKEN="test-webhook-token", GITLAB_WEBHOOK_TOKEN="test-webhook-token", GITLAB_API_TOKEN="test-api-token",
             TRIGGER_TOKEN=TRIGGER_TOKEN)
    return e


def config(tmp, policies=ROOT / "policies", templates=ROOT / "templates"):
    p = tmp / "tollgate.yaml"
    p.write_text(CONFIG.format(policies=policies, templates=templates))
    return p


def pipeline(tmp, ref="main", status="success", jobs=("horusec", "trivy-scan"), failed=(), mr=False,
             project="shop/cart"):
    """The documented payload as a pipeline of project on ref with the given jobs."""
    ev = json.loads(PIPELINE.read_text())
    ev["object_attributes"].update(ref=ref, status=status, tag=False,
                                   source="merge_request_event" if mr else "push")
    if not mr:
        ev["merge_request"] = None
    else:  # a merge-request pipeline's ref is its source branch
        ev["merge_request"]["source_branch"] = ref
    ev["project"]["path_with_namespace"] = project
    model = ev["builds"][1]
    for i, name in enumerate(jobs):
        b = copy.deepcopy(model)
        b.update(id=900 + i, name=name, stage="test", status="failed" if name in failed else "success")
        ev["builds"].append(b)
    path = tmp / "event.json"
    path.write_text(json.dumps(ev))
    return path


def report(tmp, fixture, artifact, prefix=""):
    """A fixture report copied as artifact (the policy matches by base name)."""
    d = tmp / fixture.replace("/", "_")
    d.mkdir(exist_ok=True)
    shutil.copy(REPORTS / fixture, d / artifact)
    return prefix + str(d / artifact)


def clean_reports(tmp):
    return [report(tmp, "trivy/dd_scheme_2_no_vuln.json", "trivy-report.json"),
            report(tmp, "horusec/derived_empty_from_issue_9939.json", "sast-report.json")]


def run(*args):
    return subprocess.run([str(TOLLGATE)] + [str(a) for a in args], capture_output=True, text=True, env=env(),
                          timeout=60)


def evaluate(cfg, event, reports=(), now=None):
    args = ["eval", "-c", cfg, "--event", event]
    for r in reports:
        args += ["--report", r]
    if now:
        args += ["--now", now]
    p = run(*args)
    assert TRIGGER_TOKEN not in p.stdout + p.stderr, "the trigger token leaked"
    return p, (json.loads(p.stdout) if p.stdout.strip() else None)


def critical_cve(fixture):
    doc = json.loads((REPORTS / fixture).read_text())
    return next(v["VulnerabilityID"] for r in doc["Results"] for v in r.get("Vulnerabilities") or []
                if v["Severity"] == "CRITICAL")


@pytest.fixture
def tmp(tmp_path):
    assert TOLLGATE.exists(), "build/tollgate is missing: run make first"
    return tmp_path


# ---- decisions ----

def test_deploy_prints_the_trigger(tmp):
    p, d = evaluate(config(tmp), pipeline(tmp), clean_reports(tmp))
    assert p.returncode == 0, p.stderr
    assert (d["verdict"], d["environment"], d["rule"]) == ("deploy", "production", "policy")
    assert d["project"] == "shop/cart" and d["ref"] == "main" and d["pipeline"] == 31
    assert [r["status"] for r in d["reports"]] == ["ok", "ok"]
    assert [r["format"] for r in d["reports"]] == ["horusec", "trivy"]
    assert d["counts"] == dict(critical=0, high=0, medium=0, low=0, info=0, unknown=0)
    assert len(d["policy_hash"]) == 64 and "approvals" not in d
    t = d["trigger"]
    assert (t["template"], t["project"], t["ref"]) == ("helm-chart", "shop/helm-charts", "main")
    assert t["variables"] == {
        "SERVICE": "cart", "IMAGE_TAG": "bcbb5ec396a2c0f828686f14fac9b80b780504f2",
        "ENVIRONMENT": "production", "UPSTREAM_PROJECT": "shop/cart", "UPSTREAM_PIPELINE": "31",
        "UPSTREAM_URL": "http://example.com/gitlab-org/gitlab-test/-/pipelines/31"}
    assert "token" not in t
    # pretty-printed with sorted keys
    assert p.stdout.startswith('{\n  "counts"')


def test_block_names_the_cve(tmp):
    fixture = "trivy/dd_scheme_2_many_vulns.json"
    cve = critical_cve(fixture)
    reports = [report(tmp, fixture, "trivy-report.json"),
               report(tmp, "horusec/derived_empty_from_issue_9939.json", "sast-report.json")]
    p, d = evaluate(config(tmp), pipeline(tmp), reports)
    assert p.returncode == 1, p.stderr
    assert (d["verdict"], d["rule"]) == ("block", "severity.block")
    assert d["reasons"][0] == "critical 1 > 0 in trivy-scan/trivy-report.json: %s" % cve
    assert d["findings"][0]["id"] == cve and d["findings"][0]["severity"] == "critical"
    assert d["findings"][0]["report"] == "trivy-scan/trivy-report.json"
    assert d["counts"]["critical"] == 1 and "trigger" not in d


def test_trivy_k8s_summary_findings_block(tmp):
    """`trivy k8s --report summary` puts its resources under "Findings" (issue 9): counted, blocks."""
    d_ = tmp / "k8s"
    d_.mkdir()
    (d_ / "trivy-report.json").write_text(json.dumps({"ClusterName": "prod", "Findings": [
        {"Namespace": "default", "Kind": "Deployment", "Name": "web", "Results": [
            {"Target": "nginx", "Vulnerabilities": [{"VulnerabilityID": "CVE-2023-1", "Severity": "CRITICAL"}]}]}]}))
    reports = [str(d_ / "trivy-report.json"), report(tmp, "horusec/derived_empty_from_issue_9939.json", "sast-report.json")]
    p, d = evaluate(config(tmp), pipeline(tmp), reports)
    assert (p.returncode, d["verdict"], d["rule"]) == (1, "block", "severity.block"), p.stdout
    assert d["reasons"][0] == "critical 1 > 0 in trivy-scan/trivy-report.json: CVE-2023-1"


def test_failed_scan_blocks_and_still_counts(tmp):
    """A scanner that declares failure (Horusec "status": "error") blocks with scan_failed: its
    findings may be partial, so it is not a pass even when they are under the limits (issue 9)."""
    bad = tmp / "failed"
    bad.mkdir()
    (bad / "sast-report.json").write_text('{"version": "v2.7.1", "status": "error", "errors": "docker not found", '
                                          '"analysisVulnerabilities": null}')
    reports = [report(tmp, "trivy/dd_scheme_2_no_vuln.json", "trivy-report.json"), str(bad / "sast-report.json")]
    p, d = evaluate(config(tmp), pipeline(tmp), reports)
    assert (p.returncode, d["verdict"], d["rule"]) == (1, "block", "scan_failed"), p.stdout
    assert d["reasons"][0] == ('report horusec/sast-report.json: the scanner declared that it failed '
                               '($.status is "error")')
    horusec = [r for r in d["reports"] if r["job"] == "horusec"][0]
    assert horusec["status"] == "ok" and horusec["scan_failed"] == '$.status is "error"'
    # the real report with status error and 14 findings: counted, and blocked as failed
    reports[1] = report(tmp, "horusec/dd_issue_6258.json", "sast-report.json")
    p, d = evaluate(config(tmp), pipeline(tmp), reports)
    assert (p.returncode, d["verdict"], d["rule"]) == (1, "block", "scan_failed"), p.stdout
    assert sum(d["counts"].values()) == 14


def test_horusec_criticals_block(tmp):
    reports = [report(tmp, "trivy/dd_scheme_2_no_vuln.json", "trivy-report.json"),
               report(tmp, "horusec/dd_horres3.json", "sast-report.json")]
    p, d = evaluate(config(tmp), pipeline(tmp), reports)
    assert p.returncode == 1
    assert d["reasons"][0].startswith("critical 18 > 0 in horusec/sast-report.json")
    assert len(d["findings"]) == 5 and all(f["severity"] == "critical" for f in d["findings"])


def test_highs_need_approval_in_production_only(tmp):
    # a legacy Trivy list: 6 highs, no critical; the FORMAT: prefix forces the parser
    reports = [report(tmp, "trivy/dd_legacy_trivy_mix.json", "trivy-report.json", prefix="trivy:"),
               report(tmp, "horusec/derived_empty_from_issue_9939.json", "sast-report.json")]
    p, d = evaluate(config(tmp), pipeline(tmp), reports)
    assert p.returncode == 1, p.stderr
    assert (d["verdict"], d["rule"]) == ("needs_approval", "severity.approve")
    assert d["reasons"][0].startswith("high 6 > 0 in trivy-scan/trivy-report.json: CVE-")
    assert d["approvals"] == {"required": 1, "approvers": [], "prevent_self_approval": True,
                              "expire_ms": 86400000}
    p, d = evaluate(config(tmp), pipeline(tmp, ref="dev"), reports)
    assert p.returncode == 0, p.stderr
    assert (d["verdict"], d["environment"]) == ("deploy", "staging")
    assert d["trigger"]["variables"]["ENVIRONMENT"] == "staging"


def test_feature_branch_is_skipped(tmp):
    p, d = evaluate(config(tmp), pipeline(tmp, ref="feature/login"), clean_reports(tmp))
    assert p.returncode == 1
    assert (d["verdict"], d["environment"], d["rule"]) == ("skip", None, "branch")
    assert d["reasons"] == ["no environment for ref feature/login"]
    assert d["reports"] == [] and d["findings"] == []


def test_documented_payload_as_is(tmp):
    # GitLab's example is a merge-request pipeline on master: no shipped environment has master
    p, d = evaluate(config(tmp), PIPELINE)
    assert p.returncode == 1
    assert (d["verdict"], d["rule"], d["project"]) == ("skip", "branch", "gitlab-org/gitlab-test")


def test_failed_pipeline_and_failed_job(tmp):
    p, d = evaluate(config(tmp), pipeline(tmp, status="failed"), clean_reports(tmp))
    assert (p.returncode, d["verdict"], d["rule"], d["reasons"][0]) == (1, "skip", "pipeline_status",
                                                                        "pipeline failed")
    p, d = evaluate(config(tmp), pipeline(tmp, failed=("trivy-scan",)), clean_reports(tmp))
    assert (p.returncode, d["verdict"], d["rule"]) == (1, "block", "require_jobs")
    assert d["reasons"][0] == "required job trivy-scan is failed"
    p, d = evaluate(config(tmp), pipeline(tmp, jobs=("horusec",)), clean_reports(tmp))
    assert d["reasons"][0] == "required job trivy-scan is missing"


def test_merge_request_pipeline_is_skipped(tmp):
    p, d = evaluate(config(tmp), pipeline(tmp, mr=True), clean_reports(tmp))
    assert (p.returncode, d["verdict"], d["rule"]) == (1, "skip", "merge_request")


def test_missing_report_blocks(tmp):
    reports = [report(tmp, "horusec/derived_empty_from_issue_9939.json", "sast-report.json")]
    p, d = evaluate(config(tmp), pipeline(tmp), reports)
    assert p.returncode == 1
    assert (d["verdict"], d["rule"]) == ("block", "on_missing_report")
    assert d["reasons"][0] == ("report trivy-scan/trivy-report.json is missing: artifact not found "
                               "(on_missing_report: block)")
    assert [r["status"] for r in d["reports"]] == ["ok", "missing"]


def test_unreadable_report_blocks(tmp):
    bad = tmp / "bad"
    bad.mkdir()
    (bad / "trivy-report.json").write_text('{"SchemaVersion": 2, "Results": [')
    reports = [str(bad / "trivy-report.json"),
               report(tmp, "horusec/derived_empty_from_issue_9939.json", "sast-report.json")]
    p, d = evaluate(config(tmp), pipeline(tmp), reports)
    assert (p.returncode, d["verdict"], d["rule"]) == (1, "block", "report_unreadable")
    assert d["reasons"][0].startswith("report trivy-scan/trivy-report.json is unreadable: trivy: byte ")
    assert d["reports"][1]["status"] == "unreadable" and d["reports"][1]["error"]


# Reports whose shape Tollgate does not understand block; none counts as "no findings"
# (issue 9). The policy names the formats (trivy-report.json: trivy, sast-report.json: horusec).
NOT_UNDERSTOOD = [
    ("results-object", "trivy-report.json", '{"SchemaVersion": 2, "Results": {"Vulnerabilities": 7}}',
     "$.Results is an object, not an array"),
    ("vulnerabilities-object", "trivy-report.json",
     '{"SchemaVersion": 2, "Results": [{"Target": "img", "Vulnerabilities": {"VulnerabilityID": "CVE-1", '
     '"Severity": "CRITICAL"}}]}', "$.Results[0].Vulnerabilities is an object, not an array"),
    ("vulnerabilities-string", "trivy-report.json", '{"SchemaVersion": 2, "Results": [{"Vulnerabilities": "CVE-1"}]}',
     "$.Results[0].Vulnerabilities is a string, not an array"),
    ("osv-list", "trivy-report.json", '[{"source": {"path": "go.mod", "type": "lockfile"}, "packages": []}]',
     "trivy: byte 0: expected a trivy report, the document is not a known report (a list whose entries are not "
     "Trivy Results"),
    ("gitlab-as-trivy", "trivy-report.json", '{"version": "15.0.7", "vulnerabilities": [{"severity": "Critical"}]}',
     "trivy: byte 0: expected a trivy report, the document is a gitlab report"),
    ("cyclonedx-as-trivy", "trivy-report.json",
     '{"bomFormat": "CycloneDX", "specVersion": "1.5", "vulnerabilities": [{"id": "CVE-1"}]}',
     "expected a trivy report, the document is not a supported report (a CycloneDX BOM"),
    ("sarif-as-horusec", "sast-report.json", '{"version": "2.1.0", "runs": []}',
     "horusec: byte 0: expected a horusec report, the document is a sarif report"),
    ("horusec-entries-number", "sast-report.json", '{"analysisVulnerabilities": 3}',
     "$.analysisVulnerabilities is a number, not an array"),
    # issue 9's attack: keys of two formats, a foreign SchemaVersion, statuses Trivy does not define
    ("trivy-and-sarif-keys", "trivy-report.json",
     '{"SchemaVersion":2,"Results":[{"Vulnerabilities":[{"Severity":"CRITICAL"}]}],"runs":null}',
     'top-level keys of two formats: "runs" (sarif) and "SchemaVersion" (trivy)'),
    ("security-hub-as-trivy", "trivy-report.json",
     '{"SchemaVersion":"2018-10-08","Severity":{"Label":"CRITICAL"},"Resources":[{"Type":"x"}]}',
     'SchemaVersion is "2018-10-08", not the integer 2'),
    ("k8s-nothing-readable", "trivy-report.json", '{"ClusterName":"prod"}', 'a trivy k8s "ClusterName" without'),
    ("misconfiguration-status-lower", "trivy-report.json",
     '{"SchemaVersion":2,"Results":[{"Misconfigurations":[{"Status":"fail","Severity":"CRITICAL"}]}]}',
     '$.Results[0].Misconfigurations[0].Status is "fail", not a Trivy status'),
    ("matches-and-vulnerabilities", "sast-report.json", '{"matches":[],"vulnerabilities":[{"severity":"Critical"}]}',
     'top-level keys of two formats: "matches" (grype) and "vulnerabilities" (gitlab)'),
]


@pytest.mark.parametrize("name,artifact,text,why", NOT_UNDERSTOOD, ids=[c[0] for c in NOT_UNDERSTOOD])
def test_report_not_understood_blocks(tmp, name, artifact, text, why):
    bad = tmp / "bad"
    bad.mkdir()
    (bad / artifact).write_text(text)
    reports = [str(bad / artifact)] + [r for r in clean_reports(tmp) if not r.endswith("/" + artifact)]
    p, d = evaluate(config(tmp), pipeline(tmp), reports)
    assert (p.returncode, d["verdict"], d["rule"]) == (1, "block", "report_unreadable"), p.stdout
    fmt = "trivy" if artifact == "trivy-report.json" else "horusec"
    assert re.match(r"report [\w-]+/%s is unreadable: %s: byte \d+: " % (artifact, fmt), d["reasons"][0])
    assert why in d["reasons"][0], d["reasons"][0]
    unreadable = [r for r in d["reports"] if r["status"] == "unreadable"]
    assert len(unreadable) == 1 and why in unreadable[0]["error"]


def same_base_policy(tmp):
    """The shipped policy with two report entries whose artifacts share a base name."""
    pol = tmp / "policies"
    pol.mkdir()
    shipped = (ROOT / "policies" / "default.yaml").read_text()
    old = ("      - { job: horusec,    artifact: sast-report.json,  format: horusec }\n"
           "      - { job: trivy-scan, artifact: trivy-report.json, format: trivy }\n")
    assert old in shipped
    (pol / "default.yaml").write_text(shipped.replace(old, "      - { job: horusec, artifact: out/report.json }\n"
                                                           "      - { job: trivy-scan, artifact: report.json }\n", 1))
    return config(tmp, policies=pol)


def two_reports(tmp):
    """a/report.json: an empty legacy Trivy report (null); b/report.json: a CRITICAL."""
    for name, text in (("a", "null"), ("b", '{"SchemaVersion": 2, "Results": [{"Target": "img", "Vulnerabilities": '
                                            '[{"VulnerabilityID": "CVE-2024-1", "Severity": "CRITICAL"}]}]}')):
        (tmp / name).mkdir()
        (tmp / name / "report.json").write_text(text)
    return tmp / "a" / "report.json", tmp / "b" / "report.json"


def test_reports_with_one_base_name_are_refused(tmp):
    """Two --report files that could stand for the same entry: which one counts would be a guess,
    so eval refuses them (issue 9: the first won, the critical in the second was never read)."""
    cfg, ev = same_base_policy(tmp), pipeline(tmp)
    a, b = two_reports(tmp)
    p, d = evaluate(cfg, ev, [a, b])
    assert p.returncode == 2 and d is None, p.stdout
    assert "--report %s and --report %s both stand for artifacts named report.json" % (a, b) in p.stderr
    assert "JOB=FILE" in p.stderr and "was not used" not in p.stderr
    # one file standing for the entries of two jobs is refused as well
    p, d = evaluate(cfg, ev, [b])
    assert p.returncode == 2, p.stdout
    assert "--report %s stands for artifacts of jobs horusec and trivy-scan" % b in p.stderr
    # the shipped policy (one entry per base name) refuses the same file name given twice too
    p, d = evaluate(config(tmp), ev, [a, b])
    assert p.returncode == 2 and "both stand for artifacts named report.json" in p.stderr


def test_report_named_by_job(tmp):
    """--report JOB=[FORMAT:]FILE says which entry a file stands for."""
    cfg, ev = same_base_policy(tmp), pipeline(tmp)
    a, b = two_reports(tmp)
    p, d = evaluate(cfg, ev, ["horusec=%s" % a, "trivy-scan=trivy:%s" % b])
    assert (p.returncode, d["verdict"], d["rule"]) == (1, "block", "severity.block"), p.stdout + p.stderr
    assert d["reasons"][0] == "critical 1 > 0 in trivy-scan/report.json: CVE-2024-1"
    assert [(r["job"], r["status"], r["format"]) for r in d["reports"]] == [("horusec", "ok", "trivy"),
                                                                          ("trivy-scan", "ok", "trivy")]
    assert "warning" not in p.stderr
    # the same job twice for one base name is refused; a job with no such entry is unused
    p, _ = evaluate(cfg, ev, ["trivy-scan=%s" % a, "trivy-scan=%s" % b])
    assert p.returncode == 2 and "of job trivy-scan" in p.stderr
    p, d = evaluate(cfg, ev, ["horusec=%s" % a, "trivy-scan=%s" % b, "deploy=%s" % a])
    assert (p.returncode, d["rule"]) == (1, "severity.block")
    assert ("--report %s was not used (no report of the chosen environment and job deploy has an artifact "
            "named report.json)" % a) in p.stderr


def test_exceptions_apply_then_expire(tmp):
    fixture = "trivy/dd_scheme_2_many_vulns.json"
    cve = critical_cve(fixture)
    pol = tmp / "policies"
    pol.mkdir()
    shipped = (ROOT / "policies" / "default.yaml").read_text()
    assert "exceptions: []" in shipped
    (pol / "default.yaml").write_text(shipped.replace(
        "exceptions: []", "exceptions:\n  - { id: %s, until: 2026-01-31, reason: patched in base image, by: alice }"
        % cve))
    cfg = config(tmp, policies=pol)
    reports = [report(tmp, fixture, "trivy-report.json"),
               report(tmp, "horusec/derived_empty_from_issue_9939.json", "sast-report.json")]
    # before the end date the critical is an accepted risk; the remaining high needs approval
    p, d = evaluate(cfg, pipeline(tmp), reports, now="2026-01-31T23:00:00Z")
    assert (p.returncode, d["verdict"]) == (1, "needs_approval"), p.stdout
    assert d["exceptions"] == {"applied": [cve], "expired": []}
    assert d["reports"][1]["excepted"] == 1 and d["counts"]["critical"] == 0
    # afterwards it counts again, and the reasons say which exception expired
    p, d = evaluate(cfg, pipeline(tmp), reports, now="2026-02-01T00:00:00Z")
    assert (p.returncode, d["verdict"]) == (1, "block")
    assert "exception %s expired 2026-01-31 (by alice)" % cve in d["reasons"]
    assert d["exceptions"] == {"applied": [], "expired": [cve]}


# ---- bad input ----

def test_bad_event_exits_2(tmp):
    cfg = config(tmp)
    bad = tmp / "bad.json"
    bad.write_text('{"object_kind": "pipeline", "builds": "none"}')
    p, _ = evaluate(cfg, bad)
    assert p.returncode == 2 and p.stdout == ""
    assert "bad.json: builds is not a list" in p.stderr
    bad.write_text("{not json")
    p, _ = evaluate(cfg, bad)
    assert p.returncode == 2 and "bad.json: invalid JSON" in p.stderr
    p, _ = evaluate(cfg, tmp / "missing.json")
    assert p.returncode == 2 and "missing.json: No such file" in p.stderr
    p, _ = evaluate(cfg, FIXTURES / "gitlab" / "webhooks" / "push_event.json")
    assert p.returncode == 2 and "a push event; eval decides Pipeline Hook events" in p.stderr


def test_bad_arguments_exit_2(tmp):
    cfg, ev = config(tmp), pipeline(tmp)
    assert run("eval", "-c", cfg).returncode == 2
    p = run("eval", "-c", cfg, "--event", ev, "--report", tmp / "nope.json")
    assert p.returncode == 2 and "nope.json" in p.stderr
    for now in ("yesterday", "2026-02-30", "2026-11-26T14:21:02+99:99"):  # F10: impossible times too
        p = run("eval", "-c", cfg, "--event", ev, "--now", now)
        assert p.returncode == 2 and "--now" in p.stderr, now
    p = run("eval", "--help")
    assert p.returncode == 0 and "usage: tollgate eval" in p.stdout
    p = run("eval", "-c", tmp / "nope.yaml", "--event", ev)
    assert p.returncode == 2 and "nope.yaml" in p.stderr


# ---- tollgate check on broken policy and template directories ----

BROKEN_POLICY_A = """\
version: 1
environments:
  production:
    branches: [main]
    severity:
      block: { urgent: 0, high: -1 }
    on_missing_reprt: block
exceptions:
  - { id: CVE-1, until: 2027-02-31x, reason: r, by: a }
"""
BROKEN_POLICY_B = """\
version: 1
environments:
  production:
    tags: ["v*"]
  qa:
    require_jobs: [test]
"""
BROKEN_TEMPLATE = """\
name: chart
trigger:
  project: "{{ project.namespace }}/{{ project.nmae }}"
  ref: "{{ pipeline.ref"
  token: glptt-inline-token
  variables:
    IMAGE-TAG: "{{ pipeline.sha }}"
"""


def test_check_reports_every_fault_with_position(tmp):
    pol, tpl = tmp / "policies", tmp / "templates"
    pol.mkdir()
    tpl.mkdir()
    (pol / "a.yaml").write_text(BROKEN_POLICY_A)
    (pol / "b.yaml").write_text(BROKEN_POLICY_B)
    (tpl / "chart.yaml").write_text(BROKEN_TEMPLATE)
    p = run("check", "-c", config(tmp, policies=pol, templates=tpl))
    assert p.returncode == 2
    want = [
        "%s/a.yaml:6:16: error: unknown severity \"urgent\" in severity.block" % pol,
        "%s/a.yaml:6:33: error: severity.block.high: \"-1\" must be a whole number, 0 or more" % pol,
        "%s/a.yaml:7:5: error: unknown key \"on_missing_reprt\" in an environment" % pol,
        "%s/a.yaml:9:25: error: until: \"2027-02-31x\" is not a date" % pol,
        "%s/b.yaml:3:3: error: environment \"production\" is already defined at %s/a.yaml:3" % (pol, pol),
        "%s/b.yaml:5:3: error: environment \"qa\" needs branches or tags" % pol,
        "%s/chart.yaml:3:12: error: trigger.project: unknown placeholder {{ project.nmae }}" % tpl,
        "%s/chart.yaml:4:8: error: trigger.ref: \"{{\" without \"}}\"" % tpl,
        "%s/chart.yaml:5:10: error: token must be env:NAME or file:PATH, never inline" % tpl,
        "%s/chart.yaml:7:5: error: variable name \"IMAGE-TAG\" must match" % tpl,
    ]
    lines = p.stderr.splitlines()
    for w in want:
        assert any(line.startswith(w) for line in lines), "%s\nnot in:\n%s" % (w, p.stderr)
    assert lines[-1].endswith(": %d errors" % len(want)), p.stderr


def test_check_empty_directories(tmp):
    pol, tpl = tmp / "policies", tmp / "templates"
    pol.mkdir()
    tpl.mkdir()
    (tpl / "chat.yaml").write_text("kind: chat\ntext: hello\n")
    p = run("check", "-c", config(tmp, policies=pol, templates=tpl))
    assert p.returncode == 2
    assert "%s: error: no policy files (*.yaml): nothing could ever deploy" % pol in p.stderr
    assert "%s: error: no trigger template (*.yaml): nothing could be deployed" % tpl in p.stderr


def test_check_accepts_the_shipped_files(tmp):
    p = run("check", "-c", config(tmp))
    assert p.returncode == 0, p.stderr
    p = run("check", "-c", ROOT / "tollgate.yaml")  # what `make run` starts with
    assert p.returncode == 0, p.stderr
