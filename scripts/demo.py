#!/usr/bin/env python3
"""`make demo`: the whole flow on one machine, with real parts.

Starts a private redis-server, the stand-in GitLab (tests/standins/gitlab.py, serving the
scan reports as job artifacts) and Tollgate with the shipped policy and template, replays
four recorded pipelines through `tollgate replay`, prints each decision and every call the
stand-in GitLab received, has a human approve the waiting deploy from the stand-in chat
(tests/standins/chat.py plays Slack), shows a retried pipeline deploying once it turns green
and two services that share a chart repository both deploying, shows the stand-in DefectDojo
(tests/standins/defectdojo.py) receiving the counted reports of the deployed and the blocked
pipeline, signs in to the console with the stand-in GitLab and prints its address and a
sign-in link (kept up until Enter when run from a terminal), then stops everything.
"""
import copy
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "tests" / "standins"))
sys.path.insert(0, str(ROOT / "scripts"))
import demo_approval  # noqa: E402
import demo_console  # noqa: E402
import harness  # noqa: E402
from defectdojo import DefectDojo  # noqa: E402
from gitlab import GitLab  # noqa: E402

REPORTS = ROOT / "tests" / "fixtures" / "reports"
PROJECT = {"id": 42, "path": "shop/cart"}
CHECKOUT = {"id": 43, "path": "shop/checkout"}
SCANS = {  # (horusec report, trivy report) per story
    "clean": ("horusec/derived_empty_from_issue_9939.json", "trivy/dd_scheme_2_no_vuln.json"),
    "critical": ("horusec/derived_empty_from_issue_9939.json", "trivy/dd_scheme_2_many_vulns.json"),
    "highs": ("horusec/derived_empty_from_issue_9939.json", "trivy/dd_legacy_trivy_mix.json"),
}
STORIES = [  # (title, pipeline id, ref, scans)
    ("a feature branch: tests only, never deployed", 501, "feature/search", "clean"),
    ("dev with clean scans: deploys to staging", 502, "dev", "clean"),
    ("main with a critical CVE: blocked, the CVE named", 503, "main", "critical"),
    ("main with only highs: waits for an approval", 504, "main", "highs"),
]


def say(text=""):
    print(text, flush=True)


def event_for(pipeline, ref, status="success", project=PROJECT, trivy=("success", 1)):
    """A Pipeline Hook; trivy = (the trivy-scan job's status, its run: 2 is a retry, a new job id)."""
    doc = json.loads((ROOT / "tests/fixtures/gitlab/webhooks/pipeline_event.json").read_bytes())
    ev = copy.deepcopy(doc)
    slug = project["path"].split("/")[1]
    ev["object_attributes"].update(id=pipeline, iid=pipeline - 400, ref=ref, status=status, tag=False,
                                   sha=hashlib.sha1(b"%d" % pipeline).hexdigest(), source="push",
                                   url="https://gitlab.example.com/%s/-/pipelines/%d" % (project["path"], pipeline))
    ev["merge_request"] = None
    ev["project"].update(id=project["id"], name=slug, namespace="Shop", path_with_namespace=project["path"],
                         web_url="https://gitlab.example.com/" + project["path"])
    ev["user"]["username"] = "dora"
    template = ev["builds"][0]
    ev["builds"] = []
    for i, (name, st) in enumerate((("horusec", "success"), ("trivy-scan", trivy[0]))):
        b = copy.deepcopy(template)
        b.update(id=pipeline * 10 + i + (trivy[1] - 1 if i else 0), name=name, stage="scan", status=st)
        ev["builds"].append(b)
    return ev


def config(dirs, redis_url, gitlab_url, port):
    return """\
listen:
  - address: 127.0.0.1:%d
redis: { url: '%s' }
gitlab: { url: '%s', api_token: env:DEMO_GITLAB_TOKEN }
webhooks:
  - { name: gitlab, token: env:DEMO_WEBHOOK_TOKEN }
policies: '%s'
templates: '%s'
public_url: http://127.0.0.1:%d
workers: 2
""" % (port, redis_url, gitlab_url, ROOT / "policies", ROOT / "templates", port)


def dojo_config(dojo_url):
    return """\
defectdojo:
  url: '%s'
  api_key: env:DEMO_DEFECTDOJO_KEY
  environments: { production: Production, staging: Staging }
  tags: [tollgate]
""" % dojo_url


def show_dojo(dojo, pipeline, want=2, timeout=15):
    """The reports of one pipeline as the stand-in DefectDojo received them (forwarded after
    the decision, so waited for with a bound)."""
    deadline = time.monotonic() + timeout
    ups = []
    while time.monotonic() < deadline:
        ups = [u for u in dojo.uploads(201) if u["fields"].get("build_id") == str(pipeline)]
        if len(ups) >= want:
            break
        time.sleep(0.1)
    for u in ups:
        f = u["fields"]
        say("   DefectDojo <- POST /api/v2/reimport-scan/ %s, %d bytes, product %s, engagement '%s', "
            "test '%s', environment %s" % (f["scan_type"], u["file_bytes"], f["product_name"],
                                           f["engagement_name"], f["test_title"], f["environment"]))
    if len(ups) < want:
        say("   DefectDojo: only %d of %d reports arrived within %ds" % (len(ups), want, timeout))


def wait_decision(redis, pipeline, timeout=15, action="decided", project=PROJECT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for _, f in redis.stream("tg:audit"):
            rec = json.loads(f["record"])
            if rec["action"] == action and rec["pipeline"] == pipeline and rec["project"] == project["path"]:
                return rec
        time.sleep(0.1)
    raise SystemExit("demo: no %s record for pipeline %d (see %s)" % (action, pipeline, "the Tollgate log"))


def show_decision(redis, rec, project=PROJECT):
    env = rec["environment"] or "no environment"
    earlier = (rec.get("details") or {}).get("earlier_verdict")
    say("   %s: %s (%s)%s" % ("re-decided" if earlier else "decision", rec["decision"], env,
                               ", replacing the earlier %s" % earlier if earlier else ""))
    for reason in rec["reasons"][:3]:
        say("     - %s" % reason)
    for f in (rec.get("details") or {}).get("findings", [])[:2]:
        say("     finding: %s %s in %s %s" % (f["severity"], f["id"], f.get("package") or f.get("file"), f.get("version") or ""))
    if rec["environment"]:
        key = "tg:deploy:%d:%d:%s" % (project["id"], rec["pipeline"], rec["environment"])
        deadline = time.monotonic() + 10
        state = None
        while time.monotonic() < deadline:
            state = redis.cmd("HGET", key, "state")
            if state not in (b"decided", b"triggering", b"retry_wait"):
                break
            time.sleep(0.1)
        say("   deployment state: %s" % (state or b"-").decode())


def show_calls(gitlab, seen):
    calls = gitlab.requests()
    for c in calls[seen:]:
        if c["kind"] == "artifact":
            say("   GitLab <- GET  %s" % c["path"])
        elif c["kind"] == "trigger":
            f = c["form"]
            variables = ", ".join("%s=%s" % (k[10:-1], v) for k, v in f.items() if k.startswith("variables["))
            say("   GitLab <- POST trigger %s ref=%s (%s)" % (c["project"], f["ref"], variables))
        else:
            f = c["form"]
            say("   GitLab <- POST status %s %s: %s" % (f["name"], f["state"], f["description"]))
    return len(calls)


def replay(cfg, env, work, ev):
    path = work / ("pipeline-%d-%s.json" % (ev["object_attributes"]["id"], ev["object_attributes"]["status"]))
    path.write_text(json.dumps(ev))
    out = subprocess.run([str(harness.TOLLGATE), "replay", "-c", str(cfg), str(path)], env=env,
                         capture_output=True, text=True)
    say("   replay %s: %s" % (ev["object_attributes"]["status"], out.stdout.strip().split(": ", 1)[-1]))


def serve_scans(gitlab, project, pipeline, scans, run=1):
    horusec, trivy = SCANS[scans]
    gitlab.add_artifact(project["id"], pipeline * 10, "sast-report.json", (REPORTS / horusec).read_bytes())
    gitlab.add_artifact(project["id"], pipeline * 10 + run, "trivy-report.json", (REPORTS / trivy).read_bytes())


def lifecycle_stories(redis, gitlab, cfg, env, work, seen):
    """A retried pipeline deploys; two services that share a chart repository both deploy."""
    say("6. dev pipeline 505: trivy-scan fails, is retried, and the pipeline turns green")
    serve_scans(gitlab, PROJECT, 505, "clean", run=2)
    replay(cfg, env, work, event_for(505, "dev", status="failed", trivy=("failed", 1)))
    show_decision(redis, wait_decision(redis, 505))
    replay(cfg, env, work, event_for(505, "dev", trivy=("success", 2)))
    show_decision(redis, wait_decision(redis, 505, action="redecided"))
    seen = show_calls(gitlab, seen)
    say()
    say("7. shop/checkout pipeline 507 and shop/cart pipeline 506 on dev share the chart repository")
    for project, pipeline in ((CHECKOUT, 507), (PROJECT, 506)):
        serve_scans(gitlab, project, pipeline, "clean")
        replay(cfg, env, work, event_for(pipeline, "dev", project=project))
        say("   %s pipeline %d:" % (project["path"], pipeline))
        show_decision(redis, wait_decision(redis, pipeline, project=project), project=project)
    return show_calls(gitlab, seen)


def main():
    work = pathlib.Path(tempfile.mkdtemp(prefix="tollgate-demo-"))
    redis = harness.Redis(work / "redis").start()
    gitlab = GitLab(api_token="glpat-demo-api", trigger_token="glptt-demo-trigger").start()
    chat = demo_approval.start_chat()
    dojo = DefectDojo(api_key="dd-demo-api-key-4711").start()
    port = harness.free_port()
    cfg = work / "tollgate.yaml"
    cfg.write_text(config(work, redis.url, gitlab.url, port) + demo_approval.config_lines() +
                   dojo_config(dojo.url) + demo_console.config_lines())
    demo_console.register(gitlab, "http://127.0.0.1:%d" % port)
    env = dict(os.environ, DEMO_GITLAB_TOKEN="glpat-demo-api", DEMO_WEBHOOK_TOKEN="demo-webhook-token",
               TRIGGER_TOKEN="glptt-demo-trigger", DEMO_DEFECTDOJO_KEY="dd-demo-api-key-4711",
               **demo_approval.env(chat), **demo_console.env())
    log = open(work / "tollgate.log", "wb")
    tg = subprocess.Popen([str(harness.TOLLGATE), "serve", "-c", str(cfg)], stdout=log, stderr=log, env=env)
    try:
        harness.wait_until(lambda: subprocess.run(["curl", "-sf", "http://127.0.0.1:%d/readyz" % port],
                                                  capture_output=True).returncode == 0, what="Tollgate")
        say("Tollgate on http://127.0.0.1:%d, Redis %s, stand-in GitLab %s" % (port, redis.url, gitlab.url))
        say("Policy: policies/default.yaml  Template: templates/helm-chart.yaml\n")
        seen = 0
        for n, (title, pipeline, ref, scans) in enumerate(STORIES, 1):
            horusec, trivy = SCANS[scans]
            gitlab.add_artifact(PROJECT["id"], pipeline * 10, "sast-report.json", (REPORTS / horusec).read_bytes())
            gitlab.add_artifact(PROJECT["id"], pipeline * 10 + 1, "trivy-report.json", (REPORTS / trivy).read_bytes())
            path = work / ("pipeline-%d.json" % pipeline)
            path.write_text(json.dumps(event_for(pipeline, ref)))
            say("%d. %s (pipeline %d on %s)" % (n, title, pipeline, ref))
            out = subprocess.run([str(harness.TOLLGATE), "replay", "-c", str(cfg), str(path)], env=env,
                                 capture_output=True, text=True)
            say("   replay: %s" % out.stdout.strip().split(": ", 1)[-1])
            show_decision(redis, wait_decision(redis, pipeline))
            seen = show_calls(gitlab, seen)
            if pipeline in (502, 503):  # the deployed and the blocked pipeline
                show_dojo(dojo, pipeline)
            say()
        say("5. a human approves the waiting deploy from chat (pipeline 504, production)")
        demo_approval.approve_from_chat("http://127.0.0.1:%d" % port, chat, redis,
                                        "tg:deploy:%d:504:production" % PROJECT["id"], say=say)
        seen = show_calls(gitlab, seen)
        say()
        lifecycle_stories(redis, gitlab, cfg, env, work, seen)
        say()
        say("Audit trail: %d records, head %s" % (redis.cmd("XLEN", "tg:audit"),
                                                   redis.cmd("HGET", "tg:audit:head", "hash").decode()[:16] + "..."))
        say()
        demo_console.show("http://127.0.0.1:%d" % port, say=say)
        if sys.stdin.isatty():
            input("\nThe console stays up until you press Enter. ")
    finally:
        tg.terminate()
        tg.wait(timeout=20)
        log.close()
        gitlab.stop()
        chat.stop()
        dojo.stop()
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)
    say("demo: stopped Tollgate, the stand-in GitLab, chat and DefectDojo, and Redis")


if __name__ == "__main__":
    main()
