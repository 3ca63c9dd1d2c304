#!/usr/bin/env python3
"""bench/defectdojo.py -- peak RSS of Tollgate while it forwards a 50 MB report to DefectDojo,
against the same with a small report, in one run (issue 13: memory must not grow with the
report).

For each report size, a fresh Tollgate (one worker, one forwarder thread) on a private Redis,
the stand-in GitLab serving the report as the trivy-scan job's artifact and the stand-in
DefectDojo, which first answers 503 (down): the decision is made and triggered, and Tollgate's
peak RSS (VmHWM) is read. Then DefectDojo comes back, the forwarder downloads the artifact again
and streams it into the multipart upload, and VmHWM is read once more. Prints a Markdown table:
the peak after the decision, after the upload, the growth the upload caused, and the ratio of
the big run's peak to the small run's. The stand-in checks the uploaded bytes equal the artifact.
"""
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "tests" / "standins"))
import harness  # noqa: E402
import pipelines  # noqa: E402
from defectdojo import DefectDojo  # noqa: E402
from gitlab import GitLab  # noqa: E402

DD_KEY = "dd-bench-key-0123456789"


def vm_hwm_kib(pid):
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise SystemExit("no VmHWM for %d" % pid)


def run(work, name, report):
    work = work / name
    redis = harness.Redis(work / "redis").start()
    gitlab = GitLab(pipelines.API_TOKEN, pipelines.TRIGGER_TOKEN).start()
    dojo = DefectDojo(DD_KEY).start()
    dojo.set_down(True)
    sets = pipelines.write_sets(work)
    extra = ("gitlab:\n  url: %s\n  api_token: env:TG_TEST_GITLAB_TOKEN\n  timeout: 120s\n"
             "defectdojo:\n  url: %s\n  api_key: env:TG_TEST_DD_KEY\n  timeout: 120s\n  workers: 1\n"
             "  tries: 100\n  backoff: { base: 50ms, cap: 200ms }\n" % (gitlab.url, dojo.url))
    tg = harness.Tollgate(work / "tollgate", redis.url, extra=extra, workers=1,
                          env=dict(pipelines.env(), TG_TEST_DD_KEY=DD_KEY), **sets).start()
    try:
        gitlab.add_artifact(7, 501, "trivy-report.json", report)
        ev = pipelines.pipeline_event(pipeline=100, ref="main")
        r = harness.curl(tg.url + "/hooks/gitlab", headers=harness.gitlab_headers(event="Pipeline Hook"),
                         body=json.dumps(ev).encode())
        assert r.status == 202, r.body
        key = "tg:deploy:7:100:production"
        harness.wait_until(lambda: redis.cmd("HGET", key, "state") in (b"triggered", b"blocked", b"pending_approval"),
                           timeout=300, what="the decision")
        harness.wait_until(lambda: dojo.uploads(503), timeout=60, what="a first (refused) upload")
        decided = vm_hwm_kib(tg.proc.pid)
        dojo.set_down(False)
        up = harness.wait_until(lambda: dojo.uploads(201), timeout=300, what="the upload")[0]
        assert up["file_sha256"] == hashlib.sha256(report).hexdigest(), "uploaded bytes differ"
        forwarded = vm_hwm_kib(tg.proc.pid)
        return decided, forwarded
    finally:
        tg.stop()
        dojo.stop()
        gitlab.stop()
        redis.stop()


def main():
    size_mb = int(os.environ.get("DOJO_REPORT_MB", "50"))
    work = pathlib.Path(tempfile.mkdtemp(prefix="tollgate-bench-defectdojo-"))
    big_path = work / "big.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "gen_trivy_report.py"), str(size_mb), str(big_path)],
                   check=True)
    small = (ROOT / "tests" / "fixtures" / "reports" / "trivy" / "dd_scheme_2_no_vuln.json").read_bytes()
    big = big_path.read_bytes()
    try:
        rows = [("small", len(small)) + run(work, "small", small), ("big", len(big)) + run(work, "big", big)]
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
    out = ["| report | bytes | peak RSS after decision (MiB) | peak RSS after upload (MiB) | upload added (MiB) |",
           "|---|---|---|---|---|"]
    for name, n, decided, forwarded in rows:
        out.append("| %s | %d | %.1f | %.1f | %.1f |" % (name, n, decided / 1024, forwarded / 1024,
                                                        (forwarded - decided) / 1024))
    ratio = rows[1][3] / rows[0][3]
    out.append("")
    out.append("peak RSS ratio, %d MB report / small report: %.2f (the report is %.0fx bigger)"
               % (size_mb, ratio, len(big) / len(small)))
    text = "\n".join(out)
    print(text)
    (ROOT / "build" / "bench").mkdir(parents=True, exist_ok=True)
    (ROOT / "build" / "bench" / "defectdojo.md").write_text(text + "\n")


if __name__ == "__main__":
    main()
