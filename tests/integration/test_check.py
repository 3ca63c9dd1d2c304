"""`tollgate check`: every fault as file:line:col, exit 2; warnings allowed, exit 0."""
import os
import subprocess

import harness


SETS = "policies: %s\ntemplates: %s\n" % (harness.ROOT / "policies", harness.ROOT / "templates")


def run_check(tmp_path, text, env=None):
    cfg = tmp_path / "tollgate.yaml"
    cfg.write_text(text + SETS)
    e = dict(os.environ, TRIGGER_TOKEN="glptt-x")
    e.update(env or {})
    return subprocess.run([str(harness.TOLLGATE), "check", "-c", str(cfg)], capture_output=True, text=True, env=e)


def test_every_error_is_reported_with_its_position(tmp_path):
    p = run_check(tmp_path, "listen:\n  - address: nowhere\nwebhooks:\n  - {name: a, token: 'env:NOPE_UNSET'}\n"
                            "limits: {max_body: huge}\nworkers: -1\n")
    assert p.returncode == 2
    cfg = str(tmp_path / "tollgate.yaml")
    for want in (cfg + ":2:14: error: address \"nowhere\" is not host:port",
                 cfg + ":4:22: error: environment variable NOPE_UNSET is not set",
                 cfg + ":5:20: error: max_body: \"huge\" is not a size",
                 cfg + ":6:10: error: workers: \"-1\" is not a whole number"):
        assert want in p.stderr, p.stderr
    assert "4 errors" in p.stderr


def test_inline_secret_is_a_warning(tmp_path):
    p = run_check(tmp_path, "webhooks:\n  - {name: a, token: hunter2}\n")
    assert p.returncode == 0, p.stderr
    assert "warning: token is written inline" in p.stderr
    assert "hunter2" not in p.stderr + p.stdout


def test_missing_file(tmp_path):
    p = subprocess.run([str(harness.TOLLGATE), "check", "-c", str(tmp_path / "none.yaml")], capture_output=True, text=True)
    assert p.returncode == 2 and "none.yaml: error: cannot read" in p.stderr


def test_usage_errors_exit_2():
    for args in (["check"], ["check", "-c"], ["nonsense"], []):
        p = subprocess.run([str(harness.TOLLGATE)] + args, capture_output=True, text=True)
        assert p.returncode == 2, args
    p = subprocess.run([str(harness.TOLLGATE), "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "serve" in p.stdout
