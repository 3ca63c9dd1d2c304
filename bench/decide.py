#!/usr/bin/env python3
"""bench/decide.py -- webhook POST to downstream trigger: how long does a deploy decision take?

Starts a private Redis (AOF everysec), the stand-in GitLab (serving a clean Horusec and
Trivy report for every pipeline as job artifacts) and Tollgate with the shipped policy and
template, then posts N dev-branch pipelines at a steady rate and measures, for each, the
time from just before its webhook POST to the moment the stand-in received its trigger
request. Prints p50/p90/p99/max and the target (p50 <= 20 ms).
"""
import argparse
import http.client
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "tests" / "standins"))
sys.path.insert(0, str(ROOT / "scripts"))
import harness  # noqa: E402
from demo import config, event_for, PROJECT, REPORTS, SCANS  # noqa: E402
from gitlab import GitLab  # noqa: E402


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=50.0, help="pipelines per second")
    a = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="tollgate-bench-decide-"))
    redis = harness.Redis(work / "redis").start()
    gitlab = GitLab(api_token="glpat-bench", trigger_token="glptt-bench").start()
    port = harness.free_port()
    cfg = work / "tollgate.yaml"
    cfg.write_text(config(work, redis.url, gitlab.url, port))
    env = dict(os.environ, DEMO_GITLAB_TOKEN="glpat-bench", DEMO_WEBHOOK_TOKEN="bench-token", TRIGGER_TOKEN="glptt-bench")
    log = open(work / "tollgate.log", "wb")
    tg = subprocess.Popen([str(harness.TOLLGATE), "serve", "-c", str(cfg)], stdout=log, stderr=log, env=env)
    horusec, trivy = [(REPORTS / f).read_bytes() for f in SCANS["clean"]]
    sent = {}
    try:
        harness.wait_until(lambda: subprocess.run(["curl", "-sf", "http://127.0.0.1:%d/readyz" % port],
                                                  capture_output=True).returncode == 0, what="Tollgate")
        bodies = []
        for i in range(a.n):
            p = 10000 + i
            gitlab.add_artifact(PROJECT["id"], p * 10, "sast-report.json", horusec)
            gitlab.add_artifact(PROJECT["id"], p * 10 + 1, "trivy-report.json", trivy)
            bodies.append((p, json.dumps(event_for(p, "dev")).encode()))
        conn = http.client.HTTPConnection("127.0.0.1", port)
        headers = {"Content-Type": "application/json", "X-Gitlab-Event": "Pipeline Hook", "X-Gitlab-Token": "bench-token"}
        start = time.monotonic()
        for i, (p, body) in enumerate(bodies):
            due = start + i / a.rate
            while time.monotonic() < due:
                time.sleep(min(0.001, due - time.monotonic()))
            sent[p] = time.time()
            conn.request("POST", "/hooks/gitlab", body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            assert r.status == 202, r.status
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(gitlab.requests("trigger")) < a.n:
            time.sleep(0.2)
        got = {int(t["form"]["variables[UPSTREAM_PIPELINE]"]): t["at"] for t in gitlab.requests("trigger")}
        lat = [(got[p] - sent[p]) * 1000 for p in sent if p in got]
        print("| pipelines | rate/s | triggered | p50 ms | p90 ms | p99 ms | max ms | target p50 <= 20 ms |")
        print("|---|---|---|---|---|---|---|---|")
        print("| %d | %.0f | %d | %.1f | %.1f | %.1f | %.1f | %s |" % (
            a.n, a.rate, len(lat), statistics.median(lat), percentile(lat, 90), percentile(lat, 99), max(lat),
            "PASS" if statistics.median(lat) <= 20 and len(lat) == a.n else "MISS"))
    finally:
        tg.terminate()
        tg.wait(timeout=30)
        log.close()
        gitlab.stop()
        redis.stop()


if __name__ == "__main__":
    main()
