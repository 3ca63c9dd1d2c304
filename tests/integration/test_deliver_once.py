"""Exactly one trigger per deployment under faults, through the real binary, a real Redis and
the stand-in GitLab (issue 11: F3, F4, F5): every trigger carries TOLLGATE_DEPLOYMENT; an
unknown outcome (timeout after the request left, a 5xx, a proxy's 502, a crash after sending)
is settled by asking GitLab for the marker before anything is resent; the `triggered` audit
record exists exactly when a pipeline was created. The marker, a 500 after the pipeline was
created, and listing failing every time are the cases 0142-0144."""
import collections
import hashlib
import json
import signal

import pytest

import harness
import pipelines
from harness import gitlab_headers, wait_until
from pipelines import pipeline_event, serve_report
from test_deliver import gitlab  # noqa: F401 (the stand-in GitLab fixture)

CLEAN = "trivy/dd_scheme_2_no_vuln.json"
MARKER = "variables[TOLLGATE_DEPLOYMENT]"


@pytest.fixture
def gateway(tollgate, gitlab, logdir):
    sets = pipelines.write_sets(logdir)

    def make(workers=2, settle="3s", env=None, wait_ready=True, extra=""):
        e = pipelines.env()
        e.update(env or {})
        return tollgate(workers=workers, env=e, extra=pipelines.config_extra(gitlab.url, extra, settle),
                        wait_ready=wait_ready, **sets)
    return make


def deployment_id(pipeline, env="staging", project_id=7):
    return hashlib.sha256(b"tg:deploy:%d:%d:%s" % (project_id, pipeline, env.encode())).hexdigest()[:12]


def post(tg, event, idem=None):
    r = harness.curl(tg.url + "/hooks/gitlab", headers=gitlab_headers(idem=idem), body=json.dumps(event).encode())
    assert r.status == 202, r.body


def state(redis, pipeline, env="staging"):
    rec = redis.cmd("HGETALL", "tg:deploy:7:%d:%s" % (pipeline, env)) or []
    return {rec[i].decode(): rec[i + 1].decode() for i in range(0, len(rec), 2)}


def wait_state(redis, pipeline, want, timeout=20):
    return wait_until(lambda: state(redis, pipeline).get("state") == want and state(redis, pipeline),
                      timeout=timeout, what="deployment %d to be %s (is %s)" % (
                          pipeline, want, state(redis, pipeline).get("state")))


def audit(redis):
    return [json.loads(f["record"]) for _, f in redis.stream("tg:audit")]


def pipelines_per_deployment(gitlab):
    """How many pipelines GitLab created per deployment id (from the marker)."""
    return collections.Counter(p["variables"].get("TOLLGATE_DEPLOYMENT", "?").split("/")[0]
                               for p in gitlab.pipelines())


def start_one(gitlab, tg, pipeline):
    serve_report(gitlab, 7, 10000 + pipeline, pipelines.REPORTS / CLEAN)
    post(tg, pipeline_event(pipeline=pipeline, ref="dev", builds=(("trivy-scan", 10000 + pipeline, "success"),)))


def assert_exactly_once(redis, gitlab, pipeline):
    """One pipeline in GitLab, the deployment triggered with it, one `triggered` record, no unknown."""
    did = deployment_id(pipeline)
    st = wait_state(redis, pipeline, "triggered")
    created = [p for p in gitlab.pipelines() if p["variables"].get("TOLLGATE_DEPLOYMENT", "").startswith(did + "/")]
    assert len(created) == 1, created
    assert st["downstream_id"] == str(created[0]["id"])
    recs = wait_until(lambda: [r for r in audit(redis) if r["pipeline"] == pipeline and r["action"] == "triggered"],
                      what="the triggered record")
    assert len(recs) == 1 and recs[0]["details"]["downstream_id"] == created[0]["id"]
    assert not [r for r in audit(redis) if r["pipeline"] == pipeline and r["action"] == "unknown"]
    wait_until(lambda: redis.cmd("ZCARD", "tg:outbox") == 0, what="the outbox to drain")
    return st, created[0]


def test_f3_timeouts_with_gitlab_creating_then_answering_late_trigger_each_deployment_once(gateway, gitlab, redis):
    """trigger.timeout 1s; GitLab creates each pipeline and answers 2.5 s later: before, 50 of
    50 deployments were created twice."""
    tg = gateway(workers=4)
    ids = list(range(400, 450))
    for p in ids:
        gitlab.script("trigger", {"create": True, "hang": 2.5}, where={"variables[UPSTREAM_PIPELINE]": str(p)})
    for p in ids:
        serve_report(gitlab, 7, 10000 + p, pipelines.REPORTS / CLEAN)
        post(tg, pipeline_event(pipeline=p, ref="release/%d" % p, builds=(("trivy-scan", 10000 + p, "success"),)))
    for p in ids:
        wait_state(redis, p, "triggered", timeout=120)
    counts = pipelines_per_deployment(gitlab)
    assert sorted(counts) == sorted(deployment_id(p) for p in ids)
    assert set(counts.values()) == {1}
    assert len(gitlab.requests("trigger")) == 50
    triggered = [r for r in audit(redis) if r["action"] == "triggered"]
    assert sorted(r["pipeline"] for r in triggered) == ids
    assert all(r["details"]["reconciled"] for r in triggered)


def test_502_then_hang_triggers_once(gateway, gitlab, redis):
    """A proxy's 502 (nothing created), then GitLab creates and hangs: the 502 is settled as
    absent only after the settle window, the second attempt is found."""
    tg = gateway()
    gitlab.script("trigger", {"status": 502}, {"create": True, "hang": 2})
    start_one(gitlab, tg, 302)
    st, created = assert_exactly_once(redis, gitlab, 302)
    assert st["attempts"] == "2" and created["variables"]["TOLLGATE_DEPLOYMENT"] == deployment_id(302) + "/2"
    failed = [r for r in audit(redis) if r["action"] == "trigger_failed"]
    assert len(failed) == 1 and "settle window" in failed[0]["reasons"][0]
    sent = gitlab.requests("trigger")
    assert len(sent) == 2 and sent[1]["at"] - sent[0]["at"] >= 1 + 3 - 0.05  # timeout + settle


def test_pipeline_created_after_the_client_gave_up_is_found_within_the_settle_window(gateway, gitlab, redis):
    tg = gateway(settle="3s")
    gitlab.script("trigger", {"create_after": 2, "hang": 1.5})  # created 1 s after trigger.timeout
    start_one(gitlab, tg, 303)
    st, _ = assert_exactly_once(redis, gitlab, 303)
    assert st["attempts"] == "1" and len(gitlab.requests("trigger")) == 1
    assert len(gitlab.requests("list")) >= 2  # absent at once, found at settle_until


@pytest.mark.parametrize("point", ["claimed", "sending", "created", "answered", "recorded"])
def test_crash_at_each_step_triggers_exactly_once(gateway, gitlab, redis, point):
    """SIGKILL after the claim, after `sending` was recorded, after GitLab created the pipeline
    (the answer still on its way), after the answer arrived but before it was recorded, and
    after the outcome was recorded but before its effects were completed."""
    if point == "created":
        gitlab.script("trigger", {"create": True, "hang": 3})
        victim = gateway(workers=1)
    else:
        victim = gateway(workers=1, env={"TOLLGATE_CRASH_AT": point})
    start_one(gitlab, victim, 310)
    if point == "created":
        wait_until(lambda: gitlab.pipelines(), what="GitLab to create the pipeline")
        victim.stop(sig=signal.SIGKILL)
    else:
        wait_until(lambda: victim.proc.poll() is not None, timeout=20, what="the crash at %s" % point)
        victim.stop()
    survivor = gateway(workers=1)
    st, created = assert_exactly_once(redis, gitlab, 310)
    assert len(gitlab.requests("trigger")) == 1  # sent by the victim, or (claimed, sending) by the survivor
    statuses = wait_until(lambda: [s for s in gitlab.requests("status") if s["form"]["state"] == "success"],
                          what="the success status")
    assert len(statuses) >= 1
    assert not any(l.get("event") == "outcome_unknown" for l in survivor.log_lines())


def test_missing_right_to_read_variables_is_a_clear_unknown(gateway, gitlab, redis):
    tg = gateway()
    gitlab.set_maintainer(False)
    gitlab.script("trigger", {"create": True, "status": 500})
    start_one(gitlab, tg, 320)
    st = wait_state(redis, 320, "unknown")
    assert "Maintainer" in st["error"] and "403" in st["error"]
    assert len(gitlab.requests("trigger")) == 1 and len(gitlab.requests("variables")) == 1  # no silent retry
    rec = wait_until(lambda: [r for r in audit(redis) if r["action"] == "unknown"], what="the unknown record")
    assert "Maintainer" in rec[0]["reasons"][0]
    assert not [r for r in audit(redis) if r["action"] == "triggered"]
    line = wait_until(lambda: [l for l in tg.log_lines() if l.get("event") == "outcome_unknown"], what="the log line")
    assert line[0]["level"] == "error" and "Maintainer" in line[0]["msg"]
    status = wait_until(lambda: [s for s in gitlab.requests("status") if s["form"]["state"] == "failed"],
                        what="the failed status")
    assert "could not be asked" in status[0]["form"]["description"]


def test_triggered_record_follows_the_trigger_when_the_audit_sink_fails_for_a_while(gateway, gitlab, redis, logdir):
    """audit.fail_closed off and the file sink failing: the trigger goes on and the commit
    learns it at once, but the effect stays in the outbox until its record is written."""
    tg = gateway(extra="audit:\n  file: /dev/full\n  fail_closed: false\n")  # every write: ENOSPC
    start_one(gitlab, tg, 330)
    wait_state(redis, 330, "triggered")
    wait_until(lambda: [s for s in gitlab.requests("status") if s["form"]["state"] == "success"], what="the status")
    wait_until(lambda: any(l.get("event") == "audit_waits" for l in tg.log_lines()), what="the effect to wait")
    assert redis.cmd("ZCARD", "tg:outbox") == 1
    sink = logdir / "audit.jsonl"
    tg.rewrite_config(extra=tg.params["extra"].replace("/dev/full", str(sink)))
    tg.send_signal(signal.SIGHUP)
    wait_until(lambda: redis.cmd("ZCARD", "tg:outbox") == 0, timeout=20, what="the outbox to drain")
    assert_exactly_once(redis, gitlab, 330)
    lines = [json.loads(line) for line in sink.read_text().splitlines()]
    assert [line["pipeline"] for line in lines if line["action"] == "triggered"] == [330]
    assert len([s for s in gitlab.requests("status") if s["form"]["state"] == "success"]) == 1  # not repeated


def _paused_after_sending(gateway, gitlab, redis, logdir, point, pipeline):
    """Gateway A records `sending` and is held at `point` (TOLLGATE_STALL_AT) past its lease;
    gateway B's sweep reconciles, finds nothing after the settle window and sends attempt 2;
    then A is let go (the tester held A in gdb for 14 s: 2 pipelines, 1 triggered record)."""
    release = logdir / ("release-%d" % pipeline)
    a = gateway(workers=1, settle="1s", env={"TOLLGATE_STALL_AT": point, "TOLLGATE_STALL_UNTIL": str(release)})
    start_one(gitlab, a, pipeline)
    wait_until(lambda: [l for l in a.log_lines() if l.get("event") == "stall_point"], what="A held at " + point)
    b = gateway(workers=1, settle="1s")
    st = wait_state(redis, pipeline, "triggered", timeout=30)
    assert st["attempts"] == "2"
    release.write_text("go")
    return a, b


def test_f3_paused_before_the_request_leaves_sends_nothing(gateway, gitlab, redis, logdir):
    a, _ = _paused_after_sending(gateway, gitlab, redis, logdir, "sending", 330)
    wait_until(lambda: [l for l in a.log_lines() if l.get("event") == "send_withheld"], what="A to withhold its send")
    st, created = assert_exactly_once(redis, gitlab, 330)
    assert created["variables"]["TOLLGATE_DEPLOYMENT"] == deployment_id(330) + "/2"
    assert len(gitlab.requests("trigger")) == 1
    assert not [r for r in audit(redis) if r["action"] == "duplicate_trigger"]


def test_f3_late_201_after_the_lease_was_lost_is_recorded_and_canceled(gateway, gitlab, redis, logdir):
    """A pause between the last check and the wire cannot be closed: the late pipeline is a
    recorded duplicate, canceled through GitLab's API, never silent."""
    a, _ = _paused_after_sending(gateway, gitlab, redis, logdir, "confirmed", 331)
    did = deployment_id(331)
    both = wait_until(lambda: len(gitlab.pipelines()) == 2 and gitlab.pipelines(), what="A's late pipeline")
    late = [p for p in both if p["variables"]["TOLLGATE_DEPLOYMENT"] == did + "/1"][0]
    kept = [p for p in both if p["variables"]["TOLLGATE_DEPLOYMENT"] == did + "/2"][0]
    rec = wait_until(lambda: [r for r in audit(redis) if r["action"] == "duplicate_trigger"], what="the record")
    assert len(rec) == 1 and rec[0]["pipeline"] == 331
    assert rec[0]["details"]["duplicate_id"] == late["id"] and rec[0]["details"]["recorded_id"] == kept["id"]
    assert "#%d" % kept["id"] in rec[0]["reasons"][0]
    cancels = wait_until(lambda: gitlab.requests("cancel"), what="the cancel call")
    assert [c["path"] for c in cancels] == ["/api/v4/projects/%s/pipelines/%d/cancel" % (
        late["project"].replace("/", "%2F"), late["id"])]
    assert cancels[0]["headers"]["PRIVATE-TOKEN"] == pipelines.API_TOKEN
    assert wait_until(lambda: [p for p in gitlab.pipelines() if p.get("canceled")], what="canceled")[0]["id"] == late["id"]
    line = wait_until(lambda: [l for l in a.log_lines() if l.get("event") == "duplicate_trigger"], what="the log")
    assert line[0]["level"] == "error" and str(late["id"]) in line[0]["msg"] and str(kept["id"]) in line[0]["msg"]
    st = state(redis, 331)
    assert st["state"] == "triggered" and st["downstream_id"] == str(kept["id"])
    assert len([r for r in audit(redis) if r["action"] == "triggered" and r["pipeline"] == 331]) == 1


def _own_pipeline(gitlab, n=1):
    """n trigger pipelines of the chart ref created with our own trigger token, not ours."""
    return [gitlab.state.create_pipeline("shop/charts", {"ref": "main", "variables[SERVICE]": "other"})["id"]
            for _ in range(n)]


def test_f1_a_foreign_pipelines_403_does_not_hide_ours(gateway, gitlab, redis):
    """The api_token's user owns the trigger token (README allows it): another token's trigger
    pipelines answer 403 on their variables. Before, the scan stopped at that 403: unknown."""
    gitlab.set_maintainer(False, owner=True)
    foreign = gitlab.foreign_pipeline("shop/charts")
    tg = gateway()
    gitlab.script("trigger", {"create": True, "status": 500})
    start_one(gitlab, tg, 340)
    st, created = assert_exactly_once(redis, gitlab, 340)
    assert st["attempts"] == "1" and created["id"] > foreign
    asked = [r["path"].split("/")[-2] for r in gitlab.requests("variables")]
    assert str(foreign) in asked and str(created["id"]) in asked


def test_f1_only_403s_is_the_missing_right_and_some_403s_leave_absence_unproven(gateway, gitlab, redis):
    gitlab.set_maintainer(False, owner=True)
    foreign = gitlab.foreign_pipeline("shop/charts")
    tg = gateway(settle="1s")
    gitlab.script("trigger", {"status": 502})  # nothing created; only the foreign pipeline is listed
    start_one(gitlab, tg, 341)
    st = wait_state(redis, 341, "unknown")
    assert "Maintainer" in st["error"] and "#%d" % foreign in st["error"] and "403" in st["error"]
    assert len(gitlab.requests("trigger")) == 1
    readable = _own_pipeline(gitlab)[0]
    gitlab.script("trigger", {"status": 502})
    start_one(gitlab, tg, 342)
    st = wait_state(redis, 342, "unknown", timeout=40)
    assert "absence not proven" in st["error"] and "#%d" % foreign in st["error"], st["error"]
    assert "#%d" % readable not in st["error"] and st["reconcile_checks"] == "4"  # checked until trigger.tries
    assert len(gitlab.requests("trigger")) == 2  # never resent while unproven


def test_f1_a_pipeline_deleted_between_listing_and_variables_is_skipped(gateway, gitlab, redis):
    tg = gateway()
    gone = _own_pipeline(gitlab)[0]
    gitlab.script("variables", {"status": 404, "message": "404 Pipeline Not Found"})  # the first asked: `gone`
    gitlab.script("trigger", {"create": True, "status": 500})
    start_one(gitlab, tg, 343)
    st, _ = assert_exactly_once(redis, gitlab, 343)
    assert gitlab.requests("variables")[0]["path"].endswith("/%d/variables" % gone)


def test_f6_pages_follow_x_next_page_not_the_page_size(gateway, gitlab, redis):
    """A server that serves 10 a page: before, page 1 (10 < 100) ended the scan; our pipeline,
    on page 2, was missed and the deployment was sent again."""
    gitlab.set_max_per_page(10)
    _own_pipeline(gitlab, 12)
    tg = gateway()
    gitlab.script("trigger", {"create": True, "status": 500})
    start_one(gitlab, tg, 344)
    st, _ = assert_exactly_once(redis, gitlab, 344)
    assert st["attempts"] == "1" and len(gitlab.requests("trigger")) == 1
    pages = [r["query"].get("page") for r in gitlab.requests("list")]
    assert "2" in pages, pages


def test_f2_a_busy_chart_ref_is_scanned_oldest_first_from_the_window(gateway, gitlab, redis, logdir):
    """350 newer trigger pipelines on the chart ref: before, every check started at the newest
    and ran out of time (100 ms a variables call). Pipelines are read oldest first from the
    window's start, so ours is among the first read."""
    release = logdir / "release-345"
    _own_pipeline(gitlab, 3)  # before ours, inside the window
    tg = gateway(workers=1, env={"TOLLGATE_STALL_AT": "answered", "TOLLGATE_STALL_UNTIL": str(release)})
    gitlab.script("trigger", {"create": True, "status": 500})
    start_one(gitlab, tg, 345)
    wait_until(lambda: [l for l in tg.log_lines() if l.get("event") == "stall_point"], what="the answer held")
    _own_pipeline(gitlab, 350)
    release.write_text("go")
    st, created = assert_exactly_once(redis, gitlab, 345)
    assert len(gitlab.requests("variables")) <= 4  # the 3 older ones and ours, none of the 350


@pytest.fixture
def small_disk(logdir):
    """A 256 KiB tmpfs (issue 11's tester filled one under audit.file)."""
    import subprocess
    mnt = logdir / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True)
    if r.returncode:
        pytest.skip("cannot mount a tmpfs here: " + r.stderr.decode())
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(path):
    """Writes until the filesystem says ENOSPC, down to single bytes."""
    import errno
    import os
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (65536, 4096, 256, 16, 1):
            while True:
                try:
                    os.write(fd, b"x" * size)
                except OSError as e:
                    assert e.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)


def _hook(tg, pipeline):
    ev = pipeline_event(pipeline=pipeline, ref="dev", builds=(("trivy-scan", 10000 + pipeline, "success"),))
    return harness.curl(tg.url + "/hooks/gitlab", headers=gitlab_headers(), body=json.dumps(ev).encode()).status


def test_f4_f5_a_full_disk_under_the_file_sink_leaves_no_torn_line_and_keeps_the_gate_closed(
        gateway, gitlab, redis, small_disk):
    """F4: a short write(2) on a full disk left a partial line, the next record glued to it,
    and verify failed the whole file. F5: the health probe (open + fsync, both fine on a full
    disk) reported the sink recovered, so hooks got 202 while every write failed."""
    from test_audit import idle, verify
    sink = small_disk / "audit.jsonl"
    tg = gateway(extra="audit:\n  file: '%s'\n  fail_closed: true\n" % sink)
    start_one(gitlab, tg, 350)
    wait_state(redis, 350, "triggered")
    wait_until(lambda: redis.cmd("ZCARD", "tg:outbox") == 0, what="the outbox to drain")
    _fill(small_disk / "filler")
    for p in range(351, 371):  # records until a write fails: the file's last page fills, then a short write
        serve_report(gitlab, 7, 10000 + p, pipelines.REPORTS / CLEAN)
        if _hook(tg, p) == 503:
            break
    else:
        pytest.fail("no hook refused while the disk is full")
    refused = p
    wait_until(lambda: any(l.get("event") == "failing" for l in tg.log_lines()), what="the sink to fail")
    probes = lambda: tg.metric("tollgate_audit_probes_failed_total") or 0  # noqa: E731
    seen = probes()
    wait_until(lambda: probes() >= seen + 3, what="three probes of the full disk")  # each found it failing
    assert _hook(tg, refused) == 503
    assert not any(l.get("event") == "recovered" for l in tg.log_lines())
    text = sink.read_bytes()
    assert text.endswith(b"\n") and all(json.loads(x) for x in text.splitlines())  # no partial line
    (small_disk / "filler").unlink()
    wait_until(lambda: _hook(tg, refused) == 202, what="the gate to open once the disk has room")
    # One ref: a newer pipeline's trigger may go out before an older one's retry comes round,
    # and then the older is superseded (never rolled back); the newest is always triggered.
    wait_state(redis, refused, "triggered", timeout=30)
    for p in range(351, refused):
        wait_until(lambda: state(redis, p).get("state") in ("triggered", "superseded"), timeout=30,
                   what="deployment %d to be triggered or superseded" % p)
    wait_until(lambda: redis.cmd("ZCARD", "tg:outbox") == 0 and idle(redis), what="every record written")
    lines = [json.loads(x) for x in sink.read_text().splitlines()]
    assert sorted(x["seq"] for x in lines) == sorted(set(x["seq"] for x in lines))
    rc, out, err = verify(tg)
    assert rc == 0, out + err
