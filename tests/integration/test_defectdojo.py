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
