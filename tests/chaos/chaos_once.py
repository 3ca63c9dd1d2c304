#!/usr/bin/env python3
"""Chaos, exactly-once part (issue 11): triggers per deployment under faults and crashes, and
deployments without their `triggered` audit record, through the real binary, a real Redis and
the stand-in GitLab.

    python3 tests/chaos/chaos_once.py [--short]

Faults: GitLab creating the pipeline and answering after trigger.timeout (F3), creating and
resetting the connection, a proxy's 502 then a hang, 500 after creating, 503 without creating,
and SIGKILL of Tollgate at each step of a trigger (after the claim, after `sending`, after
GitLab created the pipeline, after the answer, after the outcome was recorded). Prints markdown
table rows `| figure | measured | target | met |` and exits 1 when a target is missed. Counts
only, no latency figures (so it has no timing margins); the short form runs fewer deployments.
Logs go to tests/log/chaos_once/.
"""
import argparse
import collections
import hashlib
import json
import pathlib
import shutil
import signal
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
import harness  # noqa: E402
import pipelines  # noqa: E402
from harness import gitlab_headers, wait_until  # noqa: E402

CLEAN = "trivy/dd_scheme_2_no_vuln.json"
CRASH_POINTS = ("claimed", "sending", "created", "answered", "recorded")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def deployment_id(pipeline):
    return hashlib.sha256(b"tg:deploy:7:%d:staging" % pipeline).hexdigest()[:12]


class Run:
    def __init__(self, logdir, short):
        self.logdir = logdir
        self.short = short
        self.redis = harness.Redis(logdir / "redis").start()
        self.gitlab = pipelines.GitLab(pipelines.API_TOKEN, pipelines.TRIGGER_TOKEN).start()
        self.sets = pipelines.write_sets(logdir)
        self.procs = []
        self.deployments = []

    def gateway(self, workers, env=None):
        e = pipelines.env()
        e.update(env or {})
        t = harness.Tollgate(self.logdir / ("tollgate%d" % len(self.procs)), self.redis.url, workers=workers, env=e,
                             extra=pipelines.config_extra(self.gitlab.url, "", "3s"), **self.sets)
        self.procs.append(t)
        return t.start()

    def post(self, tg, pipeline, script=None):
        if script:
            self.gitlab.script("trigger", *script, where={"variables[UPSTREAM_PIPELINE]": str(pipeline)})
        pipelines.serve_report(self.gitlab, 7, 100000 + pipeline, pipelines.REPORTS / CLEAN)
        ev = pipelines.pipeline_event(pipeline=pipeline, ref="release/%d" % pipeline,
                                      builds=(("trivy-scan", 100000 + pipeline, "success"),))
        r = harness.curl(tg.url + "/hooks/gitlab", headers=gitlab_headers(), body=json.dumps(ev).encode())
        assert r.status == 202, r.body
        self.deployments.append(pipeline)

    def crash(self, point, pipeline):
        """A gateway alone on the queue dies at point; the deployment is left to the others."""
        victim = self.gateway(1, None if point == "created" else {"TOLLGATE_CRASH_AT": point})
        self.post(victim, pipeline, [{"create": True, "hang": 2}] if point == "created" else None)
        if point == "created":
            did = deployment_id(pipeline)
            wait_until(lambda: any(p["variables"].get("TOLLGATE_DEPLOYMENT", "").startswith(did)
                                   for p in self.gitlab.pipelines()), timeout=30, what="GitLab to create it")
            victim.stop(sig=signal.SIGKILL)
        else:
            wait_until(lambda: victim.proc.poll() is not None, timeout=30, what="the crash at " + point)
            victim.stop()
        log("crashed at %s (pipeline %d)" % (point, pipeline))

    def faults(self, tg):
        n = 50 if not self.short else 10
        k = 10 if not self.short else 2
        p = 1000
        kinds = [("timeout", n, [{"create": True, "hang": 2.5}]),
                 ("reset", k, [{"create": True, "close": True}]),
                 ("502-then-hang", k, [{"status": 502}, {"create": True, "hang": 2}]),
                 ("500-after-create", k, [{"create": True, "status": 500}]),
                 ("503", k, [{"status": 503}])]
        for name, count, script in kinds:
            for _ in range(count):
                self.post(tg, p, script)
                p += 1
            log("posted %d deployments with %s" % (count, name))

    def settle(self):
        def states():
            out = collections.Counter()
            for p in self.deployments:
                out[(self.redis.cmd("HGET", "tg:deploy:7:%d:staging" % p, "state") or b"-").decode()] += 1
            return out
        done = lambda: set(states()) <= {"triggered", "unknown", "failed"} and self.redis.cmd("ZCARD", "tg:outbox") == 0
        try:
            wait_until(done, timeout=300, interval=0.5, what="every deployment to settle")
        except AssertionError:
            pass
        return states()

    def figures(self):
        counts = collections.Counter(p["variables"].get("TOLLGATE_DEPLOYMENT", "?").split("/")[0]
                                     for p in self.gitlab.pipelines())
        per = [counts.get(deployment_id(p), 0) for p in self.deployments]
        records = collections.Counter()
        for _, f in self.redis.stream("tg:audit"):
            r = json.loads(f["record"])
            if r["action"] == "triggered":
                records[r["pipeline"]] += 1
        missing = sum(1 for p, c in zip(self.deployments, per) if c != records.get(p, 0))
        return per, missing

    def stop(self):
        for t in self.procs:
            t.stop()
        self.gitlab.stop()
        self.redis.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--short", action="store_true", help="fewer deployments (what make test runs)")
    ap.add_argument("--rows", help="also append the figures here as JSON lines (tests/chaos/run.py)")
    a = ap.parse_args()
    logdir = ROOT / "tests" / "log" / "chaos_once"
    shutil.rmtree(logdir, ignore_errors=True)
    logdir.mkdir(parents=True)
    run = Run(logdir, a.short)
    try:
        for i, point in enumerate(CRASH_POINTS):
            run.crash(point, 900 + i)
        tg = run.gateway(4)
        run.faults(tg)
        states = run.settle()
        per, missing = run.figures()
    finally:
        run.stop()
    log("states: %s" % dict(states))
    once = bool(per) and min(per) == 1 and max(per) == 1 and states.get("triggered", 0) == len(per)
    rows = [
        ("triggers per deployment (timeouts, resets, 502-then-hang, 5xx, crashes at each step)",
         "min %d, max %d over %d deployments; %d triggered, %d unknown" % (
             min(per), max(per), len(per), states.get("triggered", 0), states.get("unknown", 0)),
         "exactly 1", once),
        ("deployments without their `triggered` record", str(missing), "0", missing == 0),
    ]
    for figure, measured, target, met in rows:
        print("| %s | %s | %s | %s |" % (figure, measured, target, "yes" if met else "**no**"))
    if a.rows:
        with open(a.rows, "a") as f:
            for figure, measured, target, met in rows:
                f.write(json.dumps({"figure": figure, "measured": measured, "target": target, "met": met}) + "\n")
    return 0 if all(r[3] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
