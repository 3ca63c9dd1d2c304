"""DefectDojo forwarding (issue 13): the `defectdojo:` configuration, the reimport-scan call
through the real binary, Redis and the stand-in DefectDojo (tests/standins/defectdojo.py)."""
import os
import subprocess

import harness

SETS = "webhooks:\n  - {name: a, token: env:TRIGGER_TOKEN}\npolicies: %s\ntemplates: %s\n" % (harness.ROOT / "policies", harness.ROOT / "templates")
DOJO = """defectdojo:
  url: https://dojo.example.com/
  api_key: env:DD_KEY_FOR_CHECK
  product_type: "{{project.namespace}}"
  product: "{{project.path}}"
  engagement: "CI/CD {{pipeline.ref}}"
  test_title: "{{report.job}} / {{report.artifact}}"
  environments: {production: Production, staging: Staging}
  close_old_findings: true
  minimum_severity: Info
  tags: [tollgate]
  forward: [deploy, block, needs_approval]
  timeout: 30s
"""


def run_check(tmp_path, text, env=None):
    cfg = tmp_path / "tollgate.yaml"
    cfg.write_text(text + SETS)
    e = dict(os.environ, TRIGGER_TOKEN="glptt-x", DD_KEY_FOR_CHECK="dd-secret-key-value")
    e.update(env or {})
    return subprocess.run([str(harness.TOLLGATE), "check", "-c", str(cfg)], capture_output=True, text=True, env=e)


def test_check_accepts_the_documented_section(tmp_path):
    p = run_check(tmp_path, DOJO)
    assert p.returncode == 0, p.stderr
    assert "dd-secret-key-value" not in p.stdout + p.stderr


def test_check_names_each_fault_with_its_position(tmp_path):
    bad = DOJO.replace("{{pipeline.ref}}", "{{pipeline.nope}}").replace("Info", "Severe") \
        .replace("[deploy, block, needs_approval]", "[deploy, skip]").replace("https://dojo", "ftp://dojo")
    p = run_check(tmp_path, bad)
    cfg = str(tmp_path / "tollgate.yaml")
    assert p.returncode == 2, p.stderr
    for want in (cfg + ":2:8: error: defectdojo.url must be http:// or https://",
                 cfg + ":6:15: error: defectdojo.engagement: unknown placeholder {{ pipeline.nope }}",
                 cfg + ":10:21: error: defectdojo.minimum_severity must be Info",
                 cfg + ":12:12: error: defectdojo.forward: \"skip\" is not deploy, block or needs_approval"):
        assert want in p.stderr, p.stderr


def test_check_refuses_an_inline_or_missing_key(tmp_path):
    p = run_check(tmp_path, DOJO.replace("env:DD_KEY_FOR_CHECK", "dd-inline-key"))
    assert p.returncode == 2 and "api_key" in p.stderr, p.stderr
    assert "dd-inline-key" not in p.stderr
    p = run_check(tmp_path, DOJO.replace("  api_key: env:DD_KEY_FOR_CHECK\n", ""))
    assert p.returncode == 2 and "api_key" in p.stderr, p.stderr


def test_check_refuses_configurations_that_cannot_work(tmp_path):
    cfg = str(tmp_path / "tollgate.yaml")
    empty = tmp_path / "empty-key"
    empty.write_text("\n")
    rows = [
        (("https://dojo.example.com/", "https://"), ":2:8: error: defectdojo.url has no host"),
        (("https://dojo.example.com/", "https://dojo.example.com/?x=1"), ":2:8: error: defectdojo.url must not carry a query"),
        (("https://dojo.example.com/", "https://dojo.example.com/#top"), ":2:8: error: defectdojo.url must not carry a query"),
        (("https://dojo.example.com/", '"https://dojo .example.com/"'), ":2:8: error: defectdojo.url must not hold spaces"),
        (("https://dojo.example.com/", "https://user:s3cretpw@dojo.example.com/"),
         ":2:8: error: defectdojo.url must not carry credentials"),
        (("https://dojo.example.com/", "https://dojo.example.com:x/"), ":2:8: error: defectdojo.url has a port"),
        (("env:DD_KEY_FOR_CHECK", "file:%s" % empty), ":3:12: error: secret file %s is empty" % empty),
        (('product: "{{project.path}}"', 'product: ""'), ":5:12: error: defectdojo.product is empty"),
        (("Production, staging", '"", staging'), ":8:30: error: defectdojo.environments.production is empty"),
        (("timeout: 30s\n", "timeout: 30s\n  ca_file: /nonexistent/ca.pem\n"),
         ":14:12: error: defectdojo.ca_file /nonexistent/ca.pem cannot be read"),
        (("timeout: 30s\n", "timeout: 30s\n  backoff: { base: 10s, cap: 1s }\n"),
         ":14:12: error: defectdojo.backoff: base (10000 ms) is above cap (1000 ms)"),
        (("{{pipeline.ref}}", "{{pipeline.nope}}"),
         "decision.*, report.job, report.artifact, report.format, report.scan_type; see"),
    ]
    for (old, new), want in rows:
        assert old in DOJO, old
        p = run_check(tmp_path, DOJO.replace(old, new))
        assert p.returncode == 2 and (want if want.startswith("decision") else cfg + want) in p.stderr, (new, p.stderr)
        assert "s3cretpw" not in p.stderr
    p = run_check(tmp_path, DOJO, env={"DD_KEY_FOR_CHECK": ""})
    assert p.returncode == 2 and cfg + ":3:12: error: environment variable DD_KEY_FOR_CHECK is empty" in p.stderr


# ---- forwarding through the real binary ----

import json  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

import pipelines  # noqa: E402
from harness import gitlab_headers, wait_until  # noqa: E402
from pipelines import pipeline_event, serve_report  # noqa: E402

sys.path.insert(0, str(harness.ROOT / "tests" / "standins"))
from defectdojo import DefectDojo  # noqa: E402

DD_KEY = "dd-test-api-key-7f3a9c2e51"
CLEAN = "trivy/dd_scheme_2_no_vuln.json"
CRITICAL = "trivy/dd_scheme_2_many_vulns.json"

# Every format: (job, artifact, policy format, fixture, DefectDojo scan_type, extra entry keys)
FORMATS = [
    ("trivy-scan", "trivy-report.json", "trivy", CLEAN, "Trivy Scan", ""),
    ("horusec", "horusec.json", "horusec", "horusec/dd_version_2.6.3.json", "Horusec Scan", ""),
    ("codeql", "codeql.sarif", "sarif", "sarif/dd_codeQL-output.sarif", "SARIF", ""),
    ("grype", "grype.json", "grype", "grype/dd_no_vuln.json", "Anchore Grype", ""),
    ("sast", "gl-sast-report.json", "gitlab", "gitlab/dd_gl-sast-report_issue4344_v15.json",
     "GitLab SAST Report", ""),
    ("deps", "gl-dependency-scanning-report.json", "gitlab",
     "gitlab/dd_gl-dependency-scanning-report-many-vuln_v15.json", "GitLab Dependency Scanning Report", ""),
    ("container", "gl-container-scanning-report.json", "gitlab",
     "gitlab/dd_gl-container-scanning-report-5-vuln_v15.json", "GitLab Container Scan", ""),
    ("secrets", "gl-secret-detection-report.json", "gitlab",
     "gitlab/dd_gl-secret-detection-report_3_vuln_v15.json", "GitLab Secret Detection Report", ""),
    ("old-sast", "gl-sast-old.json", "gitlab", "gitlab/dd_gl-sast-report-0-vuln.json", "GitLab SAST Report",
     ", defectdojo_scan_type: GitLab SAST Report"),
]


def policy(reports, block="{ critical: 1000 }", approve="{ critical: 1000 }"):
    rep = "\n".join("      - { job: %s, artifact: %s, format: %s%s }" % (j, a, f, x) for j, a, f, x in reports)
    jobs = ", ".join(sorted({r[0] for r in reports}))
    return ("version: 1\nenvironments:\n  production:\n    branches: [main]\n    require_jobs: [%s]\n"
            "    reports:\n%s\n    severity:\n      block: %s\n      approve: %s\n"
            "    approvals: { required: 1, expire: 1h }\n" % (jobs, rep, block, approve))


def dojo_config(url, tries=4, extra="", timeout="3s"):
    return ("defectdojo:\n  url: %s\n  api_key: env:TG_TEST_DD_KEY\n"
            "  environments: { production: Production }\n  tags: [tollgate, ci]\n"
            "  minimum_severity: Low\n  timeout: %s\n  workers: 2\n  tries: %d\n"
            "  backoff: { base: 20ms, cap: 100ms }\n%s" % (url, timeout, tries, extra))


@pytest.fixture
def dojo():
    d = DefectDojo(DD_KEY).start()
    yield d
    d.stop()


@pytest.fixture
def gitlab():
    g = pipelines.GitLab(pipelines.API_TOKEN, pipelines.TRIGGER_TOKEN).start()
    yield g
    g.stop()


@pytest.fixture
def gateway(tollgate, gitlab, dojo, logdir):
    def make(reports=(FORMATS[0],), workers=2, dd_extra="", tries=4, timeout="3s", **pol):
        sets = pipelines.write_sets(logdir, policy=policy([r[:3] + (r[5],) for r in reports], **pol))
        env = dict(pipelines.env(), TG_TEST_DD_KEY=DD_KEY)
        extra = pipelines.config_extra(gitlab.url, dojo_config(dojo.url, tries, dd_extra, timeout))
        return tollgate(workers=workers, env=env, extra=extra, **sets)
    return make


def post(tg, event, idem=None):
    r = harness.curl(tg.url + "/hooks/gitlab", headers=gitlab_headers(event="Pipeline Hook", idem=idem),
                     body=json.dumps(event).encode())
    assert r.status == 202, r.body
    return r.json()


def deploy(redis, pipeline, env="production", project_id=7):
    rec = redis.cmd("HGETALL", "tg:deploy:%d:%d:%s" % (project_id, pipeline, env)) or []
    return {rec[i].decode(): rec[i + 1].decode() for i in range(0, len(rec), 2)}


def audit(redis, action=None):
    recs = [json.loads(f["record"]) for _, f in redis.stream("tg:audit")]
    return [r for r in recs if action is None or r["action"] == action]


def builds(reports):
    return tuple((r[0], 600 + i, "success") for i, r in enumerate(reports))


def serve_all(gitlab, reports):
    for i, r in enumerate(reports):
        serve_report(gitlab, 7, 600 + i, r[3], name=r[1])


def test_every_format_is_forwarded_with_every_field(gateway, gitlab, dojo, redis):
    tg = gateway(reports=FORMATS)
    serve_all(gitlab, FORMATS)
    ev = pipeline_event(pipeline=300, ref="main", builds=builds(FORMATS))
    post(tg, ev)
    ups = wait_until(lambda: len(dojo.uploads(201)) == len(FORMATS) and dojo.uploads(201),
                     what="every report in DefectDojo")
    by_title = {u["fields"]["test_title"]: u for u in ups}
    sha = ev["object_attributes"]["sha"]
    for i, (job, artifact, fmt, fixture, scan_type, _) in enumerate(FORMATS):
        u = by_title["%s / %s" % (job, artifact)]
        assert u["file"].encode("latin-1") == (pipelines.REPORTS / fixture).read_bytes(), job
        assert u["file_name"] == artifact.rsplit("/", 1)[-1]
        assert u["headers"]["Authorization"] == "Token " + DD_KEY
        assert u["fields"] == {
            "scan_type": scan_type, "product_type_name": "shop", "product_name": "shop/cart",
            "engagement_name": "CI/CD main", "test_title": "%s / %s" % (job, artifact),
            "auto_create_context": "true", "build_id": "300", "commit_hash": sha, "branch_tag": "main",
            "version": sha, "source_code_management_uri": "https://gitlab.example.com/shop/cart",
            "environment": "Production", "close_old_findings": "true", "minimum_severity": "Low",
            "active": "true", "verified": "false", "tags": ["tollgate", "ci"]}, job
    # results in the audit trail and the deployment record
    fwd = wait_until(lambda: len(audit(redis, "forwarded")) == len(FORMATS) and audit(redis, "forwarded"),
                     what="forwarded records")
    rec = json.loads(wait_until(lambda: len(json.loads(deploy(redis, 300).get("defectdojo", "{}"))) == len(FORMATS)
                                and deploy(redis, 300)["defectdojo"], what="results in the deployment"))
    ctx = dojo.state.products["shop/cart"]
    for r in fwd:
        d = r["details"]
        assert d["product_id"] == ctx["id"] and d["product_type_id"] == ctx["product_type_id"]
        assert d["url"] == "%s/test/%d" % (dojo.url, d["test_id"]) and "statistics" in d
        entry = rec["%s/%s" % (d["job"], d["artifact"])]
        assert entry["test_id"] == d["test_id"] and entry["result"] == "forwarded"
        assert r["pipeline"] == 300 and r["project"] == "shop/cart"


def test_block_forwards_and_reimport_reuses_the_test(gateway, gitlab, dojo, redis):
    tg = gateway(block="{ critical: 0 }")
    serve_report(gitlab, 7, 600, CRITICAL)
    post(tg, pipeline_event(pipeline=310, ref="main", builds=builds(FORMATS[:1])))
    wait_until(lambda: deploy(redis, 310).get("state") == "blocked", what="blocked")
    first = wait_until(lambda: dojo.uploads(201), what="the blocked pipeline's report")[0]
    serve_report(gitlab, 7, 601, CLEAN)
    post(tg, pipeline_event(pipeline=311, ref="main", builds=(("trivy-scan", 601, "success"),)))
    wait_until(lambda: len(dojo.uploads(201)) == 2, what="the second pipeline's report")
    res = [json.loads(deploy(redis, p).get("defectdojo", "{}")) for p in (310, 311)]
    wait_until(lambda: all(json.loads(deploy(redis, p).get("defectdojo", "{}")) for p in (310, 311)),
               what="both recorded")
    res = [json.loads(deploy(redis, p)["defectdojo"])["trivy-scan/trivy-report.json"] for p in (310, 311)]
    assert res[0]["test_id"] == res[1]["test_id"]  # reimport: one test for the ref, not two
    assert first["fields"]["build_id"] == "310"


def test_a_400_is_forward_failed_with_defectdojos_reason(gateway, gitlab, dojo, redis):
    tg = gateway()
    dojo.script({"status": 400, "body": {"engagement_name": ["Ensure this field has no more than 255 characters."]}})
    serve_report(gitlab, 7, 600, CLEAN)
    post(tg, pipeline_event(pipeline=320, ref="main", builds=builds(FORMATS[:1])))
    r = wait_until(lambda: audit(redis, "forward_failed"), what="forward_failed")[0]
    assert r["reasons"] == ["DefectDojo answered 400: engagement_name: Ensure this field has no more "
                            "than 255 characters."]
    assert len(dojo.uploads()) == 1  # final: never retried
    entry = json.loads(deploy(redis, 320)["defectdojo"])["trivy-scan/trivy-report.json"]
    assert entry["result"] == "failed" and "engagement_name" in entry["error"]
    assert deploy(redis, 320)["state"] == "triggered" or deploy(redis, 320)["state"] in ("decided", "triggering", "sending")


def test_unknown_gitlab_type_is_never_guessed(gateway, gitlab, dojo, redis):
    old = ("old-sast", "gl-sast-old.json", "gitlab", "gitlab/dd_gl-sast-report-0-vuln.json", None, "")
    tg = gateway(reports=(old,))
    serve_all(gitlab, (old,))
    post(tg, pipeline_event(pipeline=330, ref="main", builds=builds((old,))))
    r = wait_until(lambda: audit(redis, "forward_failed"), what="forward_failed")[0]
    assert "without scan.type" in r["reasons"][0] and "defectdojo_scan_type" in r["reasons"][0]
    assert dojo.uploads() == []


def test_uploads_complete_after_defectdojo_was_down_and_the_deploy_did_not_wait(gateway, gitlab, dojo, redis):
    dojo.set_down(True)
    tg = gateway(tries=50)
    serve_report(gitlab, 7, 600, CLEAN)
    post(tg, pipeline_event(pipeline=340, ref="main", builds=builds(FORMATS[:1])))
    # the deployment is triggered while DefectDojo refuses everything
    wait_until(lambda: deploy(redis, 340).get("state") == "triggered", what="triggered")
    wait_until(lambda: len(dojo.uploads(503)) >= 3, what="retries against a down DefectDojo")
    assert audit(redis, "forwarded") == []
    wait_until(lambda: "tollgate_defectdojo_outbox_depth 1\n" in harness.curl(tg.url + "/metrics", method="GET")
               .body.decode(), what="the outbox depth gauge")
    dojo.set_down(False)
    wait_until(lambda: dojo.uploads(201), what="the upload once DefectDojo is back")
    wait_until(lambda: audit(redis, "forwarded"), what="forwarded")
    assert len(dojo.uploads(201)) == 1
    m = harness.curl(tg.url + "/metrics", method="GET").body.decode()
    assert 'tollgate_defectdojo_forwards_total{result="forwarded"} 1' in m
    assert 'tollgate_defectdojo_forwards_total{result="retried"}' in m
    wait_until(lambda: "tollgate_defectdojo_outbox_depth 0\n" in harness.curl(tg.url + "/metrics", method="GET")
               .body.decode(), what="an empty outbox in the gauge")


def test_a_closed_connection_a_stall_and_a_429_are_retried(gateway, gitlab, dojo, redis):
    dojo.script({"close": True}, {"hang": 3}, {"status": 429, "retry_after": 0})
    tg = gateway(timeout="300ms")
    serve_report(gitlab, 7, 600, CLEAN)
    post(tg, pipeline_event(pipeline=345, ref="main", builds=builds(FORMATS[:1])))
    wait_until(lambda: audit(redis, "forwarded"), what="forwarded after three failures")
    ups = dojo.uploads()  # in arrival order; the stalled one (1) answers whenever its hang ends
    assert len(ups) == 4 and [ups[i]["status"] for i in (0, 2, 3)] == [None, 429, 201]
    assert audit(redis, "forward_failed") == [] and len(audit(redis, "forwarded")) == 1


def test_dead_letters_after_the_last_try_then_requeue(gateway, gitlab, dojo, redis, logdir):
    dojo.set_down(True)
    tg = gateway(tries=2)
    serve_report(gitlab, 7, 600, CLEAN)
    post(tg, pipeline_event(pipeline=350, ref="main", builds=builds(FORMATS[:1])))
    r = wait_until(lambda: audit(redis, "forward_failed"), what="dead-lettered")[0]
    assert r["details"]["dead_lettered"] is True and "503" in r["reasons"][0]
    assert len(dojo.uploads(503)) == 2
    p = subprocess.run([str(harness.TOLLGATE), "forward", "dead", "list", "-c", str(tg.config)],
                       capture_output=True, text=True, env=tg.env)
    assert p.returncode == 0, p.stderr
    dead = json.loads(p.stdout)
    assert len(dead) == 1 and dead[0]["attempts"] == 2 and dead[0]["job"]["job"] == "trivy-scan"
    dojo.set_down(False)
    p = subprocess.run([str(harness.TOLLGATE), "forward", "dead", "requeue", dead[0]["id"], "-c", str(tg.config)],
                       capture_output=True, text=True, env=tg.env)
    assert p.returncode == 0, p.stderr
    wait_until(lambda: dojo.uploads(201), what="the requeued upload")
    replayed = audit(redis, "replayed")
    assert len(replayed) == 1 and replayed[0]["details"]["forward_id"] == dead[0]["id"]
    assert replayed[0]["actor"].startswith("operator:")
    p = subprocess.run([str(harness.TOLLGATE), "forward", "dead", "list", "-c", str(tg.config)],
                       capture_output=True, text=True, env=tg.env)
    assert json.loads(p.stdout) == []


def test_one_upload_per_report_under_duplicates_three_processes_and_a_redecision(
        tollgate, gateway, gitlab, dojo, redis):
    tgs = [gateway(), gateway(), gateway()]
    serve_report(gitlab, 7, 600, CLEAN)
    ev = pipeline_event(pipeline=360, ref="main", builds=builds(FORMATS[:1]))
    for i, tg in enumerate(tgs):
        post(tg, ev)  # the same event, redelivered to each process
        post(tg, ev, idem="other-%d" % i)  # and as distinct deliveries
    wait_until(lambda: dojo.uploads(201), what="the upload")
    wait_until(lambda: audit(redis, "forwarded"), what="forwarded")
    # a failed run then a success of the same pipeline: a re-decision, the artifact unchanged
    ev2 = pipeline_event(pipeline=361, ref="main", status="failed", builds=builds(FORMATS[:1]))
    post(tgs[0], ev2)
    wait_until(lambda: deploy(redis, 361).get("state"), what="decided for failed")
    ev2["object_attributes"]["status"] = "success"
    post(tgs[1], ev2)
    wait_until(lambda: deploy(redis, 361).get("state") == "triggered", what="re-decided")
    wait_until(lambda: len(audit(redis, "forwarded")) == 2, what="pipeline 361 forwarded")
    # nothing more is on its way: the outbox is empty, and each pipeline was sent once
    wait_until(lambda: redis.cmd("ZCARD", "tg:fwd:due") == 0 and redis.cmd("ZCARD", "tg:fwd:lease") == 0,
               what="an empty outbox")
    builds_sent = sorted(u["fields"]["build_id"] for u in dojo.uploads())
    assert builds_sent == ["360", "361"]


def test_the_api_key_never_appears_in_logs_audit_or_error_bodies(gateway, gitlab, dojo, redis):
    tg = gateway()
    dojo.script({"status": 400, "body": {"detail": "bad key " + DD_KEY}})
    serve_report(gitlab, 7, 600, CLEAN)
    post(tg, pipeline_event(pipeline=370, ref="main", builds=builds(FORMATS[:1])))
    wait_until(lambda: audit(redis, "forward_failed"), what="forward_failed")
    dump = json.dumps(audit(redis)) + tg.logs() + json.dumps(deploy(redis, 370))
    for k in redis.cmd("KEYS", "tg:*"):
        dump += k.decode()
    assert DD_KEY not in dump
    assert "[REDACTED]" in deploy(redis, 370)["defectdojo"]  # DefectDojo's echo of it, cut out


def test_backfill_forwards_a_past_pipeline_again(gateway, gitlab, dojo, redis):
    tg = gateway()
    serve_report(gitlab, 7, 600, CLEAN)
    post(tg, pipeline_event(pipeline=380, ref="main", builds=builds(FORMATS[:1])))
    wait_until(lambda: audit(redis, "forwarded"), what="forwarded")
    p = subprocess.run([str(harness.TOLLGATE), "forward", "-c", str(tg.config), "--project", "7",
                        "--pipeline", "380"], capture_output=True, text=True, env=tg.env)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "tg:deploy:7:380:production trivy-scan/trivy-report.json: queued for DefectDojo\n"
    ups = wait_until(lambda: len(dojo.uploads(201)) == 2 and dojo.uploads(201), what="the backfilled upload")
    assert ups[0]["fields"] == ups[1]["fields"] and ups[0]["file"] == ups[1]["file"]
    p = subprocess.run([str(harness.TOLLGATE), "forward", "-c", str(tg.config), "--project", "7",
                        "--pipeline", "999"], capture_output=True, text=True, env=tg.env)
    assert p.returncode == 2 and "pipeline 999 of project 7 has no recorded forward job" in p.stderr


def test_the_shipped_application_pipeline_has_no_upload_job():
    text = (harness.ROOT / "contrib" / "gitlab-ci" / "app.gitlab-ci.yml").read_text()
    script = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for word in ("import-scan", "reimport", "defectdojo", "DD_API", "Authorization: Token"):
        assert word.lower() not in script.lower(), word


def test_a_pending_approval_gets_a_follow_up_with_the_defectdojo_link(tollgate, gitlab, dojo, redis, logdir):
    from chat import Chat
    chat = Chat().start()
    try:
        sets = pipelines.write_sets(logdir, policy=policy([FORMATS[0][:3] + ("",)], approve="{ critical: 0 }"))
        env = dict(pipelines.env(), TG_TEST_DD_KEY=DD_KEY, TG_TEST_SLACK_SECRET="slack-signing-secret-0042",
                   TG_TEST_SLACK_WEBHOOK=chat.slack_webhook_url, TG_TEST_API_READ="api-reader-token-0042",
                   TG_TEST_API_ALICE="api-alice-token-0042")
        extra = pipelines.config_extra(gitlab.url, dojo_config(dojo.url) + (
            "api:\n  tokens:\n    - { token: env:TG_TEST_API_READ, identity: rita, scopes: [read] }\n"
            "    - { token: env:TG_TEST_API_ALICE, identity: alice, scopes: [read, approve] }\n"
            "chatops:\n  slack:\n    signing_secret: env:TG_TEST_SLACK_SECRET\n"
            "    webhook_url: env:TG_TEST_SLACK_WEBHOOK\n    users: { U0ALICE: alice }\n"))
        tg = tollgate(workers=2, env=env, extra=extra, **sets)
        serve_report(gitlab, 7, 600, CRITICAL)
        post(tg, pipeline_event(pipeline=390, ref="main", builds=builds(FORMATS[:1])))
        rec = wait_until(lambda: audit(redis, "forwarded"), what="forwarded")[0]
        url = "%s/test/%d" % (dojo.url, rec["details"]["test_id"])
        posts = wait_until(lambda: [p for p in chat.posts("slack_webhook") if url in (p["json"] or {}).get("text", "")],
                           what="the follow-up notice")
        assert len(posts) == 1
        text = posts[0]["json"]["text"]
        assert "trivy-scan/trivy-report.json" in text and "pipeline 390" in text and "production" in text
        assert deploy(redis, 390)["approval_id"] in text
        # the deployment API shows DefectDojo's answer
        r = harness.curl(tg.url + "/api/v1/deployments/" + deploy(redis, 390)["approval_id"], method="GET",
                         headers={"Authorization": "Bearer api-reader-token-0042"})
        assert r.status == 200, r.body
        shown = r.json()["defectdojo"]["trivy-scan/trivy-report.json"]
        assert shown["test_id"] == rec["details"]["test_id"] and shown["url"] == url
        assert shown["result"] == "forwarded" and "statistics" in shown
        assert DD_KEY not in r.body.decode()
        # GitLab keeps a status's link and refuses the same state again, so the link rides on
        # the next status whose state changes anyway: the approval's trigger (success)
        before = [q["form"].get("target_url") for q in gitlab.requests("status")]
        assert url not in before
        r = harness.curl(tg.url + "/api/v1/deployments/%s/approve" % deploy(redis, 390)["approval_id"],
                         headers={"Authorization": "Bearer api-alice-token-0042",
                                  "Content-Type": "application/json"}, body=b"{}")
        assert r.status == 200, r.body
        done = wait_until(lambda: [q["form"] for q in gitlab.requests("status")
                                   if q["form"].get("state") == "success"], what="the success status")
        assert done[-1].get("target_url") == url, done[-1]
    finally:
        chat.stop()


def test_a_wrong_key_is_forward_failed_with_defectdojos_words(tollgate, gitlab, dojo, redis, logdir):
    sets = pipelines.write_sets(logdir, policy=policy([FORMATS[0][:3] + ("",)]))
    env = dict(pipelines.env(), TG_TEST_DD_KEY="dd-wrong-key-000000000")
    tg = tollgate(workers=2, env=env, extra=pipelines.config_extra(gitlab.url, dojo_config(dojo.url)), **sets)
    serve_report(gitlab, 7, 600, CLEAN)
    post(tg, pipeline_event(pipeline=395, ref="main", builds=builds(FORMATS[:1])))
    r = wait_until(lambda: audit(redis, "forward_failed"), what="forward_failed")[0]
    assert r["reasons"] == ["DefectDojo answered 403: Invalid token."]
    assert len(dojo.uploads()) == 1 and "dd-wrong-key-000000000" not in json.dumps(audit(redis)) + tg.logs()


def cli(tg, *args):
    return subprocess.run([str(harness.TOLLGATE), *args, "-c", str(tg.config)], capture_output=True, text=True,
                          env=tg.env)


def test_the_key_is_cut_out_even_where_defectdojos_words_are_cut(gateway, gitlab, dojo, redis):
    tg = gateway()
    # the key straddles the 400-character cut of the reason, and comes again whole after it
    dojo.script({"status": 400, "body": {"detail": "x" * 376 + DD_KEY + " and " + DD_KEY}})
    serve_report(gitlab, 7, 600, CLEAN)
    post(tg, pipeline_event(pipeline=400, ref="main", builds=builds(FORMATS[:1])))
    r = wait_until(lambda: audit(redis, "forward_failed"), what="forward_failed")[0]
    dump = json.dumps(audit(redis)) + tg.logs() + json.dumps(deploy(redis, 400))
    assert DD_KEY[:8] not in dump
    assert "x[REDACTED] and [REDACTE" in r["reasons"][0]  # cut after the key was taken out


def test_two_reports_of_one_job_with_the_same_bytes_are_both_forwarded(gateway, gitlab, dojo, redis):
    reps = [("trivy-scan", "trivy-image.json", "trivy", CLEAN, "Trivy Scan", ""),
            ("trivy-scan", "trivy-fs.json", "trivy", CLEAN, "Trivy Scan", "")]
    tg = gateway(reports=reps)
    serve_report(gitlab, 7, 600, CLEAN, name="trivy-image.json")
    serve_report(gitlab, 7, 600, CLEAN, name="trivy-fs.json")
    post(tg, pipeline_event(pipeline=410, ref="main", builds=(("trivy-scan", 600, "success"),)))
    fwd = wait_until(lambda: len(audit(redis, "forwarded")) == 2 and audit(redis, "forwarded"), what="both forwarded")
    assert sorted(r["details"]["artifact"] for r in fwd) == ["trivy-fs.json", "trivy-image.json"]
    assert sorted(u["fields"]["test_title"] for u in dojo.uploads(201)) == [
        "trivy-scan / trivy-fs.json", "trivy-scan / trivy-image.json"]
    # a backfill right after enqueues both again, each under an id of its own
    p = cli(tg, "forward", "--project", "7", "--pipeline", "410")
    assert p.returncode == 0, p.stderr
    wait_until(lambda: len(audit(redis, "forwarded")) == 4, what="both backfilled")


def test_a_requeued_job_that_fails_again_gets_its_own_record(gateway, gitlab, dojo, redis):
    dojo.set_down(True)
    tg = gateway(tries=2)
    serve_report(gitlab, 7, 600, CLEAN)
    post(tg, pipeline_event(pipeline=420, ref="main", builds=builds(FORMATS[:1])))
    wait_until(lambda: audit(redis, "forward_failed"), what="dead-lettered")
    dead = json.loads(cli(tg, "forward", "dead", "list").stdout)
    assert cli(tg, "forward", "dead", "requeue", dead[0]["id"]).returncode == 0
    recs = wait_until(lambda: len(audit(redis, "forward_failed")) == 2 and audit(redis, "forward_failed"),
                      what="the second series' record")
    assert [r["details"]["requeued"] for r in recs] == [0, 1]
    assert all(r["details"]["dead_lettered"] for r in recs)
    dojo.set_down(False)
    assert cli(tg, "forward", "dead", "requeue", dead[0]["id"]).returncode == 0
    ok = wait_until(lambda: audit(redis, "forwarded"), what="forwarded at last")
    assert ok[0]["details"]["requeued"] == 2


def test_dead_requeue_and_drop_of_unknown_ids_do_nothing_and_record_nothing(gateway, redis):
    tg = gateway()
    for verb in ("requeue", "drop"):
        for bad in ("nope", "*", ""):
            p = cli(tg, "forward", "dead", verb, bad)
            assert p.returncode == 2 and "no such dead forward job" in p.stderr, (verb, bad, p.stderr)
        p = cli(tg, "forward", "dead", verb)
        assert p.returncode == 2 and "name the job ids" in p.stderr
    assert audit(redis, "replayed") == [] and audit(redis, "dropped") == []


def test_backfill_sends_the_names_rendered_at_decision_time(gateway, gitlab, dojo, redis):
    tg = gateway(dd_extra='  product: "{{project.name}}"\n'
                          '  engagement: "CI/CD {{pipeline.ref}} #{{pipeline.iid}} by {{user.name}}"\n')
    serve_report(gitlab, 7, 600, CLEAN)
    post(tg, pipeline_event(pipeline=430, ref="main", builds=builds(FORMATS[:1])))
    wait_until(lambda: dojo.uploads(201), what="the first upload")
    p = cli(tg, "forward", "--project", "7", "--pipeline", "430")
    assert p.returncode == 0, p.stderr
    ups = wait_until(lambda: len(dojo.uploads(201)) == 2 and dojo.uploads(201), what="the backfilled upload")
    assert ups[0]["fields"] == ups[1]["fields"]
    assert len(dojo.state.engagements) == 1 and len(dojo.state.tests) == 1


def test_a_refused_key_waits_in_the_dead_letters_for_a_requeue(gateway, gitlab, dojo, redis):
    tg = gateway(tries=4)
    dojo.script({"status": 401, "body": {"detail": "Invalid token."}})
    serve_report(gitlab, 7, 600, CLEAN)
    post(tg, pipeline_event(pipeline=440, ref="main", builds=builds(FORMATS[:1])))
    r = wait_until(lambda: audit(redis, "forward_failed"), what="forward_failed")[0]
    assert r["details"]["dead_lettered"] is True and r["reasons"] == ["DefectDojo answered 401: Invalid token."]
    assert len(dojo.uploads()) == 1  # not retried: the key is fixed by a person
    dead = json.loads(cli(tg, "forward", "dead", "list").stdout)
    assert len(dead) == 1
    assert cli(tg, "forward", "dead", "requeue", dead[0]["id"]).returncode == 0
    wait_until(lambda: audit(redis, "forwarded"), what="forwarded after the requeue")


def test_a_stopping_process_does_not_wait_for_a_hanging_defectdojo(gateway, gitlab, dojo, redis):
    dojo.script({"hang": 120})  # far beyond the harness's stop bound (15 s)
    tg = gateway(timeout="300s")
    serve_report(gitlab, 7, 600, CLEAN)
    post(tg, pipeline_event(pipeline=450, ref="main", builds=builds(FORMATS[:1])))
    wait_until(lambda: dojo.uploads(), what="the upload hanging in DefectDojo")
    assert tg.stop() == 0  # a clean exit within the bound, not a kill after it
    # the job is neither lost nor dead-lettered: due again for the next process
    assert redis.cmd("ZCARD", "tg:fwd:due") == 1 and redis.cmd("ZCARD", "tg:fwd:dead") == 0
    assert audit(redis, "forward_failed") == [] and audit(redis, "forwarded") == []


def test_gitlab_refusals_of_the_download_are_final_and_a_grown_artifact_stops(gateway, gitlab, dojo, redis):
    reps = [("a", "a.json", "trivy", CLEAN, "Trivy Scan", ""), ("b", "b.json", "trivy", CLEAN, "Trivy Scan", ""),
            ("c", "c.json", "trivy", CLEAN, "Trivy Scan", ""), ("d", "d.json", "trivy", CLEAN, "Trivy Scan", "")]
    dojo.set_down(True)  # the reports wait in the outbox while GitLab changes its answers
    tg = gateway(reports=reps, tries=50)
    for i, r in enumerate(reps):
        serve_report(gitlab, 7, 600 + i, CLEAN, name=r[1])
    post(tg, pipeline_event(pipeline=460, ref="main", builds=builds(reps)))
    wait_until(lambda: len({u["file_name"] for u in dojo.uploads(503)}) == 4, what="all four tried once")
    for job_id, name, status in ((600, "a.json", 410), (601, "b.json", 403), (602, "c.json", 401)):
        gitlab.script("artifact", *([{"status": status}] * 3),
                      where={"path": "/api/v4/projects/7/jobs/%d/artifacts/%s" % (job_id, name)})
    serve_report(gitlab, 7, 603, pipelines.REPORTS.joinpath(CLEAN).read_bytes() + b" " * 100000, name="d.json")
    wait_until(lambda: len(audit(redis, "forward_failed")) == 4, what="four final failures")
    why = {r["details"]["artifact"]: r for r in audit(redis, "forward_failed")}
    assert why["a.json"]["reasons"] == ["GitLab no longer has the artifact (expired?)"]
    assert why["b.json"]["reasons"][0].startswith("GitLab refused the artifact download (403)")
    assert why["c.json"]["reasons"][0].startswith("GitLab refused the artifact download (401)")
    assert why["d.json"]["reasons"][0].startswith("the artifact changed since it was counted (more than the")
    assert not any(r["details"]["dead_lettered"] for r in why.values())


def test_a_name_longer_than_defectdojo_keeps_is_refused_before_sending(gateway, gitlab, dojo, redis):
    tg = gateway(dd_extra='  engagement: "CI/CD {{pipeline.ref}} %s"\n' % ("x" * 300))
    serve_report(gitlab, 7, 600, CLEAN)
    post(tg, pipeline_event(pipeline=470, ref="main", builds=builds(FORMATS[:1])))
    r = wait_until(lambda: audit(redis, "forward_failed"), what="forward_failed")[0]
    assert r["reasons"] == ["engagement_name would be 311 characters, DefectDojo keeps at most 300 "
                            "(shorten defectdojo.engagement)"]
    assert dojo.uploads() == [] and r["details"]["dead_lettered"] is False


# ---- the stand-in's contract, through curl (a real multipart client) ----

def reimport(dojo, fields, key=DD_KEY, file=b'{"Results": []}'):
    args = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", dojo.url + "/api/v2/reimport-scan/"]
    if key is not None:
        args += ["-H", "Authorization: Token " + key]
    for k, v in fields:
        args += ["--form-string", "%s=%s" % (k, v)]
    if file is not None:
        args += ["-F", "file=@-;filename=report.json"]
    p = subprocess.run(args, input=file, capture_output=True, check=True)
    body, _, code = p.stdout.rpartition(b"\n")
    return int(code), json.loads(body)


NAMES = [("scan_type", "Trivy Scan"), ("product_type_name", "shop"), ("product_name", "shop/cart"),
         ("engagement_name", "CI/CD main"), ("test_title", "trivy"), ("auto_create_context", "true")]


def test_standin_contract(dojo):
    assert reimport(dojo, NAMES, key=None) == (401, {"detail": "Authentication credentials were not provided."})
    assert reimport(dojo, NAMES, key="nope") == (403, {"detail": "Invalid token."})
    code, body = reimport(dojo, [("scan_type", "Nessus Scan Deluxe")] + NAMES[1:], file=None)
    assert code == 400 and body["scan_type"] == ['"Nessus Scan Deluxe" is not a valid choice.']
    assert body["file"] == ["No file was submitted."]
    code, body = reimport(dojo, [n for n in NAMES if n[0] != "engagement_name"])
    assert code == 400 and list(body) == ["engagement_name"]
    code, first = reimport(dojo, NAMES + [("environment", "Moon")])
    assert code == 201 and "Moon" in dojo.state.environments  # an unknown environment is created
    for k in ("test", "test_id", "engagement_id", "product_id", "product_type_id", "statistics"):
        assert k in first, k
    code, again = reimport(dojo, NAMES)
    assert code == 201 and again["test_id"] == first["test_id"] and again["product_id"] == first["product_id"]
    code, other = reimport(dojo, [("test_title", "horusec") if n[0] == "test_title" else n for n in NAMES])
    assert other["test_id"] != first["test_id"] and other["engagement_id"] == first["engagement_id"]
    assert [u["file"] for u in dojo.uploads(201)] == ['{"Results": []}'] * 3
    # column sizes: the serializer checks the URL; the database refuses a longer name (a 500)
    code, body = reimport(dojo, NAMES + [("source_code_management_uri", "https://g.example/" + "x" * 600)])
    assert code == 400 and body == {"source_code_management_uri": ["Ensure this field has no more than 600 characters."]}
    code, body = reimport(dojo, [("product_name", "p" * 256) if n[0] == "product_name" else n for n in NAMES])
    assert code == 500
