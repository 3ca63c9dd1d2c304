"""The audit trail through the real binary, a real Redis and the stand-in GitLab: a record for
every step, exact filters and pages, a gapless chain across processes, tampering found and
named, fail-closed, and no configured secret anywhere."""
import hashlib
import http.client
import json
import signal
import subprocess
import threading
import time
import urllib.parse

import pytest

import harness
import pipelines
from harness import gitlab_headers, wait_until
from pipelines import pipeline_event, serve_report
from test_deliver import deploy_state, gitlab, wait_state  # noqa: F401 (gitlab: the stand-in's fixture)

CLEAN = pipelines.REPORTS / "trivy/dd_scheme_2_no_vuln.json"
API_TOKEN = "tg-audit-reader-token-7c21"
APPROVE_ONLY_TOKEN = "tg-audit-approver-token-93ab"
GENESIS = "0" * 64


def audit_extra(gitlab_url, sink, fail_closed=False, max_attempts=3):
    return ("gitlab:\n  url: %s\n  api_token: env:TG_TEST_GITLAB_TOKEN\n  timeout: 2s\n"
            "public_url: http://tollgate.example\n"
            "queue: { claim_idle: 3s, max_attempts: %d }\n"
            "trigger: { retry_base: 100ms, retry_cap: 400ms, tries: 4, timeout: 1s, settle: 1s }\n"
            "audit:\n  file: '%s'\n  fail_closed: %s\n"
            "api:\n  tokens:\n"
            "    - { token: env:TG_TEST_API_TOKEN, identity: auditor, scopes: [read] }\n"
            "    - { token: env:TG_TEST_APPROVE_TOKEN, identity: approver, scopes: [approve] }\n"
            % (gitlab_url, max_attempts, sink, "true" if fail_closed else "false"))


def audit_env():
    return dict(pipelines.env(), TG_TEST_API_TOKEN=API_TOKEN, TG_TEST_APPROVE_TOKEN=APPROVE_ONLY_TOKEN)


@pytest.fixture
def gateway(tollgate, gitlab, logdir):
    sets = pipelines.write_sets(logdir)

    def make(workers=2, sink=None, fail_closed=False, max_attempts=3):
        sink = sink or logdir / "audit.jsonl"
        return tollgate(workers=workers, env=audit_env(), **sets,
                        extra=audit_extra(gitlab.url, sink, fail_closed, max_attempts))
    return make


class Api:
    """GET requests on one kept-alive connection, with the reader's bearer token."""

    def __init__(self, tg, token=API_TOKEN):
        self.conn = http.client.HTTPConnection("127.0.0.1", tg.port, timeout=20)
        self.token = token

    def get(self, path, **params):
        if params:
            path += "?" + urllib.parse.urlencode(params)
        headers = {"Authorization": "Bearer " + self.token} if self.token else {}
        self.conn.request("GET", path, headers=headers)
        r = self.conn.getresponse()
        return r.status, json.loads(r.read() or b"null")

    def pages(self, limit, order, **filters):
        """Every record of a filtered query, following cursors; the number of requests."""
        out, cursor, requests = [], None, 0
        while True:
            params = dict(filters, limit=limit, order=order)
            if cursor:
                params["cursor"] = cursor
            status, body = self.get("/api/v1/audit", **params)
            assert status == 200, body
            requests += 1
            assert len(body["records"]) <= limit
            out += body["records"]
            cursor = body["next_cursor"]
            if cursor is None:
                return out, requests
            assert requests < 5000, "pagination does not end"


def post(tg, event, idem=None, kind="Pipeline Hook", expect=202, extra=None):
    r = harness.curl(tg.url + "/hooks/gitlab", headers=gitlab_headers(event=kind, idem=idem, extra=extra),
                     body=json.dumps(event).encode())
    assert r.status == expect, r.body
    return r.json()


def records(redis):
    return [json.loads(f["record"]) for _, f in redis.stream("tg:audit")]


def of(recs, action):
    return [r for r in recs if r["action"] == action]


def idle(redis):
    """Every delivery handled and every duplicate note chained."""
    return redis.cmd("XPENDING", "tg:events", "tg:workers")[0] == 0 and redis.cmd("XLEN", "tg:audit:inbox") == 0


def cli(tg, *args):
    p = subprocess.run([str(harness.TOLLGATE), *args, "-c", str(tg.config)], capture_output=True, env=tg.env,
                       timeout=60)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def verify(tg, *extra):
    return cli(tg, "audit", "verify", *extra)


# ---- a record for every step ----

def drive_scenario(tg, gitlab, redis):
    """Every kind of step the gateway and its operators take; returns what was sent."""
    serve_report(gitlab, 7, 501, CLEAN)
    gitlab.script("trigger", {"status": 500}, where={"variables[UPSTREAM_PIPELINE]": "300"})
    gitlab.script("trigger", {"status": 404, "message": "no such chart"}, where={"variables[UPSTREAM_PIPELINE]": "301"})
    deploy = pipeline_event(pipeline=300, ref="dev", user="dora")
    post(tg, deploy, idem="scn-300")
    assert post(tg, deploy, idem="scn-300")["duplicate"] is True
    post(tg, pipeline_event(pipeline=301, ref="release/1.2", user="dora"), idem="scn-301")
    unreadable = pipeline_event(pipeline=302, ref="dev")
    unreadable["builds"] = "not a list"
    post(tg, unreadable, idem="scn-302")
    post(tg, {"object_kind": "issue"}, kind="Issue Hook")
    post(tg, deploy, idem="scn-x", expect=401, extra={"X-Gitlab-Token": "not-the-token"})
    r = harness.curl(tg.url + "/hooks/gitlab", headers=gitlab_headers(idem="scn-bad"), body=b"{not json")
    assert r.status == 400
    r = harness.curl(tg.url + "/hooks/gitlab", headers=gitlab_headers(idem="scn-big"),
                     body=json.dumps({"pad": "x" * 70000}).encode())
    assert r.status == 413
    wait_state(redis, 300, "staging", "triggered")
    wait_state(redis, 301, "staging", "failed")
    dead = wait_until(lambda: redis.stream("tg:dead"), what="a dead letter")
    rc, out, err = cli(tg, "retrigger", "--project", "7", "--pipeline", "301", "--environment", "staging",
                       "--operator", "alice")
    assert rc == 0, err
    wait_state(redis, 301, "staging", "triggered")
    rc, out, err = cli(tg, "dead", "requeue", dead[0][0], "--operator", "bob")
    assert rc == 0, err
    tg.send_signal(signal.SIGHUP)
    wait_until(lambda: of(records(redis), "config_reloaded"), what="the reload record")
    wait_until(lambda: len(of(records(redis), "dead_lettered")) == 2 and idle(redis), what="the requeued event dead again")
    return deploy


def test_a_scripted_scenario_records_every_action(gateway, gitlab, redis, logdir):
    tg = gateway()
    deploy = drive_scenario(tg, gitlab, redis)
    assert tg.stop() == 0  # the per-minute summaries of refusals are flushed at shutdown
    recs = records(redis)
    body = json.dumps(deploy).encode()

    received = [r for r in of(recs, "received") if r["details"]["idempotency_key"] == "scn-300"]
    assert len(received) == 1
    rec = received[0]
    assert rec["actor"] == "gitlab:dora" and rec["project"] == "shop/cart" and rec["pipeline"] == 300
    assert rec["sha"] == deploy["object_attributes"]["sha"] and rec["ref"] == "dev"
    assert rec["details"]["webhook"] == "default" and rec["details"]["remote"] == "127.0.0.1"
    assert rec["details"]["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert "body" not in rec["details"]

    dup = of(recs, "duplicate")
    assert len(dup) == 1 and dup[0]["details"]["idempotency_key"] == "scn-300" and dup[0]["actor"] == "system"

    decided = [r for r in of(recs, "decided") if r["pipeline"] == 300][0]
    assert decided["decision"] == "deploy" and decided["environment"] == "staging" and decided["reasons"]
    assert decided["details"]["counts"]["critical"] == 0

    failed = [r for r in of(recs, "trigger_failed") if r["pipeline"] == 300]
    assert len(failed) == 1 and failed[0]["details"]["final"] is False and failed[0]["details"]["attempt"] == 1
    final = [r for r in of(recs, "trigger_failed") if r["pipeline"] == 301]
    assert len(final) == 1 and final[0]["details"]["final"] is True
    assert sorted(r["pipeline"] for r in of(recs, "triggered")) == [300, 301]
    assert of(recs, "triggered")[0]["details"]["downstream_id"] >= 1000

    dead = of(recs, "dead_lettered")
    assert len(dead) == 2 and all("unreadable" in r["reasons"][0] for r in dead)

    replayed = {r["details"]["what"]: r for r in of(recs, "replayed")}
    assert replayed["retrigger"]["actor"] == "operator:alice"
    assert replayed["retrigger"]["details"]["previous_state"] == "failed"
    assert replayed["requeue"]["actor"] == "operator:bob"

    reload = of(recs, "config_reloaded")[0]
    assert len(reload["details"]["policy_hash"]) == 64 and reload["actor"] == "system"

    rejected = {r["details"]["status"]: r["details"] for r in of(recs, "rejected")}
    assert rejected[401]["reason"] == "unauthorized" and rejected[401]["count"] == 1
    assert rejected[400]["reason"] == "bad_json" and rejected[413]["reason"] == "too_large"
    ignored = of(recs, "ignored")
    assert len(ignored) == 1 and ignored[0]["details"]["reason"] == "Issue Hook"

    assert [r["seq"] for r in recs] == list(range(1, len(recs) + 1))
    rc, out, err = verify(tg)
    assert rc == 0, out + err
    assert out.splitlines()[0] == "ok %d records, head %d:%s" % (len(recs), len(recs), recs[-1]["hash"])
    assert ", 0 checked records not in it" in out
    head_logs = [l for l in tg.log_lines() if l.get("module") == "audit" and l.get("event") == "head"]
    assert head_logs and head_logs[-1]["msg"] == "seq %d hash %s" % (len(recs), recs[-1]["hash"])


def test_a_duplicate_record_names_the_redelivery_field_by_field(gateway, gitlab, redis):
    """The enqueue script reads the entry's fields by name (test_queue.c proves it names no
    position): the duplicate record carries the redelivery's own key, webhook, event, sender
    and receive time, and the id of the entry it duplicates."""
    tg = gateway(workers=0)
    event = pipeline_event(pipeline=900, ref="dev")
    before = int(time.time() * 1000)
    first = post(tg, event, idem="dup-by-name")
    assert post(tg, event, idem="dup-by-name")["duplicate"] is True
    after = int(time.time() * 1000)
    notes = wait_until(lambda: redis.stream("tg:audit:inbox"), what="the duplicate note")
    assert len(notes) == 1 and notes[0][1]["action"] == b"duplicate"
    d = json.loads(notes[0][1]["details"])
    assert d["idempotency_key"] == "dup-by-name" and d["webhook"] == "default"
    assert d["event"] == "Pipeline Hook" and d["remote"] == "127.0.0.1"
    assert d["first_id"] == first["id"] and before <= int(d["received_at"]) <= after


def test_no_configured_secret_appears_in_records_sink_or_logs(gateway, gitlab, redis, logdir):
    tg = gateway()
    drive_scenario(tg, gitlab, redis)
    # a client that puts a secret where an identifier belongs: the writer redacts it
    post(tg, {"object_kind": "push"}, idem="scn-leak", kind="Push Hook", extra={"X-Gitlab-Instance": harness.WEBHOOK_TOKEN})
    api = Api(tg)
    status, page = api.get("/api/v1/audit", limit=1000)
    assert status == 200
    wait_until(lambda: idle(redis) and any(r["details"] and r["details"].get("idempotency_key") == "scn-leak"
                                           for r in records(redis)), what="the leaky delivery recorded")
    leak = [r for r in records(redis) if r["details"] and r["details"].get("idempotency_key") == "scn-leak"][0]
    assert leak["details"]["instance"].startswith("[redacted")
    tg.stop()
    rc, verify_out, _ = verify(tg)
    assert rc == 0, verify_out
    secrets = [harness.WEBHOOK_TOKEN, pipelines.API_TOKEN, pipelines.TRIGGER_TOKEN, API_TOKEN, APPROVE_ONLY_TOKEN,
               tg.env["TRIGGER_TOKEN"]]
    stream = json.dumps([[i, {k: v.decode() for k, v in f.items()}] for i, f in redis.stream("tg:audit")])
    keys = " ".join(k.decode() for k in redis.cmd("KEYS", "tg:audit*"))
    sink = (logdir / "audit.jsonl").read_text()
    logs = tg.logs()
    for s in secrets:
        for where, text in (("tg:audit", stream), ("audit keys", keys), ("the file sink", sink), ("the log", logs),
                            ("verify's output", verify_out), ("the API", json.dumps(page))):
            assert s not in text, "a configured secret is in %s" % where


def test_token_shaped_input_is_scrubbed_everywhere(gateway, gitlab, redis, logdir):
    """F8: token-shaped strings nobody configured -- in input fields, in GitLab's error texts --
    once appeared verbatim in logs, commit statuses, deployment hashes and audit index keys."""
    leaked = ["glptt-0123456789abcdef0123", "glpat-z_sxgtrfAxKr8q1TPY8Y", "xoxb-1234-5678-abcdefgh"]
    tg = gateway()
    serve_report(gitlab, 7, 501, CLEAN)
    gitlab.script("trigger", {"status": 400, "message": "trigger token %s is not valid" % leaked[0]},
                  {"status": 400, "message": "trigger token %s is not valid" % leaked[0]},
                  {"status": 400, "message": "trigger token %s is not valid" % leaked[0]},
                  where={"variables[UPSTREAM_PIPELINE]": "310"})
    ev = pipeline_event(pipeline=310, ref="dev", user="dora")
    ev["user"]["name"] = "Dora " + leaked[1]
    ev["commit"] = dict(ev.get("commit") or {}, message="fix: rotate " + leaked[2])
    post(tg, ev, idem="leak-310", extra={"X-Gitlab-Instance": "https://gitlab.example.com/" + leaked[1]})
    wait_state(redis, 310, "staging", "failed")
    wait_until(lambda: idle(redis), what="everything recorded")
    tg.stop()
    failed = [r for r in of(records(redis), "trigger_failed") if r["pipeline"] == 310]
    assert failed and "glptt-[REDACTED]" in json.dumps(failed[-1])
    keys = [k.decode() for k in redis.cmd("KEYS", "*")]
    hashes = json.dumps({k: {a.decode(): b.decode(errors="replace") for a, b in zip(*[iter(redis.cmd("HGETALL", k))] * 2)}
                         for k in keys if redis.cmd("TYPE", k) == b"hash"})
    stream = json.dumps([[i, {k: v.decode() for k, v in f.items()}] for i, f in redis.stream("tg:audit")])
    statuses = json.dumps([r["form"] for r in gitlab.requests("status")])
    assert "[REDACTED]" in statuses or gitlab.requests("status") == []
    for token in leaked:
        for where, text in (("key names", " ".join(keys)), ("hashes", hashes), ("tg:audit", stream),
                            ("the file sink", (logdir / "audit.jsonl").read_text()), ("the log", tg.logs()),
                            ("commit statuses", statuses)):
            assert token not in text, "%s is in %s" % (token, where)


# ---- queries ----

PROJECTS = [(7, "shop/cart"), (8, "shop/pay"), (9, "ops/infra")]
REFS = ["main", "dev", "feature/login", "release/1.2"]
USERS = ["dora", "eve", "finn"]


def generate(tg, redis, n=150):
    """n deliveries with varied fields (and a few duplicates); decisions without GitLab calls
    beyond artifact 404s (blocked) and feature branches (skipped)."""
    for i in range(n):
        pid, path = PROJECTS[i % 3]
        ev = pipeline_event(pipeline=1000 + i, ref=REFS[(i // 3) % 4], user=USERS[(i // 2) % 3], project_id=pid,
                            path=path, status=["success", "failed", "running"][i % 5 % 3],
                            sha="%040x" % (0xabc000 + i // 2))
        post(tg, ev, idem="gen-%d" % i)
        if i % 17 == 0:
            post(tg, ev, idem="gen-%d" % i)
    wait_until(lambda: idle(redis) and len(of(records(redis), "received")) == n, timeout=60,
               what="every generated delivery recorded")


FILTERS = [
    {},
    {"project": "shop/cart"},
    {"project": "shop/cart", "ref": "dev"},
    {"ref": "main"},
    {"action": "decided", "environment": "staging"},
    {"actor": "gitlab:eve", "action": "received"},
    {"pipeline": "1010"},
    {"sha": "%040x" % (0xabc000 + 7)},
    {"action": "duplicate"},
    {"project": "ops/infra", "actor": "gitlab:finn", "ref": "release/1.2"},
]


def expected(recs, f, window=None):
    out = []
    for r in recs:
        if any(str(r.get(k)) != v for k, v in f.items()):
            continue
        if window and not (window[0] <= r["time"] <= window[1]):
            continue
        out.append(r["seq"])
    return out


def test_filters_and_pagination_are_exact(gateway, gitlab, redis):
    tg = gateway(workers=2)
    generate(tg, redis)
    recs = records(redis)
    assert len(recs) > 250
    times = sorted(r["time"] for r in recs)
    window = (times[len(times) // 3], times[2 * len(times) // 3])
    cases = [(f, None) for f in FILTERS] + [({"since": window[0], "until": window[1]}, window),
                                            ({"project": "shop/pay", "since": window[0], "until": window[1]}, window)]
    api = Api(tg)
    for f, win in cases:
        want = expected(recs, {k: v for k, v in f.items() if k not in ("since", "until")}, win)
        assert want, "filter %r selects nothing: the generator does not cover it" % f
        for limit in (1, 2, 3, 7, 50, 1000):
            if limit == 1 and len(want) > 120:
                continue  # one request per record: the smaller sets cover limit 1
            for order in ("asc", "desc"):
                got, requests = api.pages(limit, order, **f)
                seqs = [r["seq"] for r in got]
                assert seqs == (want if order == "asc" else want[::-1]), (f, limit, order)
                assert requests == max(1, -(-len(want) // limit)), (f, limit, order, requests)
                assert got == [recs[s - 1] for s in seqs]  # the records as stored, hash included


def test_query_api_refuses_and_finds(gateway, gitlab, redis):
    tg = gateway()
    generate(tg, redis, n=30)
    recs = records(redis)
    api = Api(tg)
    status, body = api.get("/api/v1/audit/%d" % recs[4]["seq"])
    assert status == 200 and body == recs[4]
    assert api.get("/api/v1/audit/%d" % (len(recs) + 100))[0] == 404
    assert api.get("/api/v1/audit/verify")[1]["ok"] is True
    status, body = api.get("/api/v1/audit", limit=1, project="shop/cart")
    assert status == 200 and body["records"][0]["project"] == "shop/cart"
    cursor = body["next_cursor"]
    assert api.get("/api/v1/audit", limit=1, project="shop/pay", cursor=cursor)[0] == 400  # other filters
    assert api.get("/api/v1/audit", limit=1, project="shop/cart", order="asc", cursor=cursor)[0] == 400
    for bad in ({"limit": 0}, {"limit": 1001}, {"order": "up"}, {"since": "yesterday"}, {"bogus": "1"},
                {"pipeline": "x"}, {"since": "2026-02-30"}, {"until": "2026-11-26T14:21:02+99:99"},  # F10
                {"since": "2026-04-31T00:00:00Z"}, {"until": "2026-11-26T24:00:00Z"}):
        status, body = api.get("/api/v1/audit", **bad)
        assert status == 400 and body["error"] == "bad_query", bad
    assert Api(tg, token=None).get("/api/v1/audit")[0] == 401
    assert Api(tg, token="wrong").get("/api/v1/audit/verify")[0] == 401
    assert Api(tg, token=APPROVE_ONLY_TOKEN).get("/api/v1/audit")[0] == 403
    rc, out, err = cli(tg, "audit", "export", "--since", recs[10]["time"])
    assert rc == 0, err
    assert [json.loads(l) for l in out.splitlines()] == [r for r in recs if r["time"] >= recs[10]["time"]]


# ---- the chain across processes ----

def test_three_processes_appending_at_once_keep_the_chain(gateway, gitlab, redis, logdir):
    gws = [gateway(workers=2) for _ in range(3)]  # one shared file sink, as on one host
    errors = []

    def send(g, base):
        try:
            for i in range(40):
                ev = pipeline_event(pipeline=base + i, ref="feature/x", user=USERS[i % 3])
                post(g, ev, idem="p-%d" % (base + i))
        except AssertionError as e:
            errors.append(e)
    threads = [threading.Thread(target=send, args=(g, 5000 + 100 * k)) for k, g in enumerate(gws)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    wait_until(lambda: idle(redis) and len(of(records(redis), "decided")) == 120, timeout=60, what="every decision")
    for g in gws:
        g.stop()
    recs = records(redis)
    ids = [i for i, _ in redis.stream("tg:audit")]
    assert ids == ["%d-0" % s for s in range(1, len(recs) + 1)] and len(recs) == 240
    assert len({r["details"]["stream_id"] for r in of(recs, "received")}) == 120
    lines = (logdir / "audit.jsonl").read_text().splitlines()
    assert sorted(json.loads(l)["seq"] for l in lines) == list(range(1, 241))
    rc, out, err = verify(gws[0])
    assert rc == 0, out + err
    assert out.splitlines() == ["ok 240 records, head 240:%s" % recs[-1]["hash"],
                                "sink %s: 240 lines, 0 checked records not in it" % (logdir / "audit.jsonl")]


# ---- tampering ----

def restore(redis, dump):
    redis.cmd("RESTORE", "tg:audit", 0, dump, "REPLACE")


def rebuild(redis, entries):
    redis.cmd("DEL", "tg:audit")
    for i, f in entries:
        redis.cmd("XADD", "tg:audit", i, "record", f["record"], "hash", f["hash"])


def seal(rec, prev):
    rec = dict(rec, prev=prev)
    rec.pop("hash", None)
    canon = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    rec["hash"] = hashlib.sha256((prev + canon).encode()).hexdigest()
    return rec


def test_tampering_is_detected_and_named(gateway, gitlab, redis, logdir):
    tg = gateway()
    generate(tg, redis, n=12)
    tg.stop()
    sink = logdir / "audit.jsonl"
    recs = records(redis)
    n = len(recs)
    head = "%d:%s" % (n, recs[-1]["hash"])
    assert verify(tg)[0] == 0 and verify(tg, "--head", head)[0] == 0
    assert verify(tg, "--from", "5")[1].startswith("ok %d records" % (n - 4))
    dump = redis.cmd("DUMP", "tg:audit")
    entries = redis.stream("tg:audit")

    def broken(*extra):
        rc, out, err = verify(tg, *extra)
        assert rc == 1, out + err
        return out.splitlines()[0]

    # a line of the file sink edited
    original = sink.read_text()
    lines = original.splitlines()
    k = next(i for i, l in enumerate(lines) if json.loads(l)["action"] == "decided")
    seq = json.loads(lines[k])["seq"]
    lines[k] = lines[k].replace('"decision":"', '"decision":"x', 1)
    sink.write_text("\n".join(lines) + "\n")
    assert broken() == "broken at seq %d: sink disagrees: the sink's line differs from the record in Redis" % seq
    sink.write_text(original)

    # a record deleted
    redis.cmd("XDEL", "tg:audit", "4-0")
    assert broken().startswith("broken at seq 4: gap: seq 4 to 4 missing from Redis (the file sink still has it)")
    restore(redis, dump)

    # the newest record deleted: only the head notices
    redis.cmd("XDEL", "tg:audit", "%d-0" % n)
    assert broken().startswith("broken at seq %d: head mismatch" % n)
    restore(redis, dump)

    # a forged record appended with a wrong hash
    forged = dict(recs[-1], seq=n + 1, prev=recs[-1]["hash"], action="approved", hash="f" * 64)
    redis.cmd("XADD", "tg:audit", "%d-0" % (n + 1), "record", json.dumps(forged, sort_keys=True, separators=(",", ":")),
              "hash", "f" * 64)
    assert broken().startswith("broken at seq %d: hash mismatch" % (n + 1))
    restore(redis, dump)

    # a forged record appended with a correct hash: the head in Redis does not name it
    forged = seal(dict(recs[-1], seq=n + 1, action="approved"), recs[-1]["hash"])
    redis.cmd("XADD", "tg:audit", "%d-0" % (n + 1), "record", json.dumps(forged, separators=(",", ":")),
              "hash", forged["hash"])
    assert broken().startswith("broken at seq %d: head mismatch: the stream holds entries after the head" % (n + 1))
    restore(redis, dump)

    # a record edited and its hash recomputed: the sink disagrees; without the sink, the next prev breaks
    edited = seal(dict(recs[5], decision="deploy", reasons=["approved by nobody"]), recs[4]["hash"])
    rebuild(redis, [(i, dict(f, record=json.dumps(edited, sort_keys=True, separators=(",", ":")).encode(),
                             hash=edited["hash"].encode()) if i == "6-0" else f) for i, f in entries])
    assert broken() == "broken at seq 6: sink disagrees: the sink's line differs from the record in Redis"
    sink.rename(logdir / "audit.away")
    assert broken().startswith("broken at seq 7: prev mismatch")
    (logdir / "audit.away").rename(sink)
    restore(redis, dump)

    # a head kept elsewhere catches a rewrite the chain alone would not
    assert broken("--head", "%d:%s" % (n, "e" * 64)).startswith("broken at seq %d: head mismatch: the anchored hash" % n)
    assert broken("--head", "%d:%s" % (n + 5, recs[-1]["hash"])).startswith("broken at seq %d: head mismatch" % (n + 5))

    # the same verdict over HTTP
    redis.cmd("XDEL", "tg:audit", "4-0")
    tg2 = gateway(workers=0)
    status, body = Api(tg2).get("/api/v1/audit/verify")
    assert status == 200 and body["ok"] is False
    assert body["broken"]["seq"] == 4 and body["broken"]["reason"] == "gap"
    restore(redis, dump)
    status, body = Api(tg2).get("/api/v1/audit/verify", head=head)
    assert body["ok"] is True and body["records"] == n and body["head"] == {"seq": n, "hash": recs[-1]["hash"]}


def test_http_verify_is_incremental_from_the_last_checkpoint(gateway, gitlab, redis):
    """F7: verify over HTTP walks from the last verified checkpoint (tg:audit:verified); the
    full walk is the CLI's."""
    tg = gateway()
    generate(tg, redis, n=12)
    recs = records(redis)
    n = len(recs)
    api = Api(tg)
    status, body = api.get("/api/v1/audit/verify")
    assert status == 200 and body["ok"] and body["complete"] and body["from"] == 1 and body["records"] == n
    assert redis.cmd("HGET", "tg:audit:verified", "seq") == str(n).encode()
    for i in range(3):
        post(tg, pipeline_event(pipeline=2000 + i, ref="feature/x"), idem="more-%d" % i)
    wait_until(lambda: idle(redis) and len(of(records(redis), "received")) == 15, what="more records")
    m = len(records(redis))
    status, body = api.get("/api/v1/audit/verify")
    assert body["ok"] and body["from"] == n and body["records"] == m - n + 1 and body["head"]["seq"] == m
    # The record at the checkpoint rewritten with a consistent chain behind it: the anchor breaks.
    tg.stop()
    entries = redis.stream("tg:audit")
    dump = redis.cmd("DUMP", "tg:audit")
    cur = records(redis)
    edited = seal(dict(cur[m - 1], decision="deploy"), cur[m - 2]["hash"])
    rebuild(redis, [(i, dict(f, record=json.dumps(edited, separators=(",", ":")).encode(),
                             hash=edited["hash"].encode()) if i == "%d-0" % m else f) for i, f in entries])
    redis.cmd("HSET", "tg:audit:head", "hash", edited["hash"])
    tg2 = gateway(workers=0)
    status, body = Api(tg2).get("/api/v1/audit/verify")
    assert body["ok"] is False and body["broken"]["reason"] == "head mismatch" and body["broken"]["seq"] == m
    assert redis.cmd("HGET", "tg:audit:verified", "seq") == str(m).encode()  # a break never moves it
    restore(redis, dump)
    assert Api(tg2).get("/api/v1/audit/verify", **{"from": 1})[1]["records"] == m  # ?from walks from there


# ---- fail closed ----

def test_fail_closed_stops_the_trigger_until_the_trail_is_written_again(gateway, gitlab, redis, logdir):
    serve_report(gitlab, 7, 501, CLEAN)
    tg = gateway(sink="/dev/full", fail_closed=True, max_attempts=20)  # every write: ENOSPC
    post(tg, pipeline_event(pipeline=400, ref="dev"), idem="fc-400")
    wait_until(lambda: tg.metric("tollgate_audit_failures_total") >= 1, what="a failed audit write")
    r = harness.curl(tg.url + "/hooks/gitlab", headers=gitlab_headers(idem="fc-401"),
                     body=json.dumps(pipeline_event(pipeline=401, ref="dev")).encode())
    assert r.status == 503 and r.json()["error"] == "audit_unavailable"
    time.sleep(4)  # past queue.claim_idle: the delivery was tried again, and refused again
    assert gitlab.requests("trigger") == []
    assert deploy_state(redis, 400, "staging") == {}
    assert not of(records(redis), "decided")
    assert any(l.get("event") == "failing" and l.get("module") == "audit" for l in tg.log_lines())

    sink = logdir / "audit.jsonl"
    tg.rewrite_config(extra=tg.params["extra"].replace("/dev/full", str(sink)))
    tg.send_signal(signal.SIGHUP)
    wait_state(redis, 400, "staging", "triggered", timeout=30)  # stopped, not lost
    assert len(gitlab.requests("trigger")) == 1
    post(tg, pipeline_event(pipeline=402, ref="feature/y"), idem="fc-402")
    tg.stop()
    lines = [json.loads(l) for l in sink.read_text().splitlines()]
    received = [l for l in lines if l["action"] == "received" and l["pipeline"] == 400]
    assert len(received) == 1  # the record Redis took while the sink failed, written once it worked
    rc, out, err = verify(tg)
    assert rc == 0, out + err


def test_a_token_cut_by_the_error_texts_length_is_still_scrubbed(gateway, gitlab, redis, logdir):
    """GitLab's error text is cut to 255 bytes: scrubbed before the cut, a token the cut splits
    (too short after it to look like a token) does not survive in part."""
    token = "glptt-0123456789abcdef0123"
    message = "x" * 236 + " " + token  # "HTTP 400: " + this: the cut leaves "glptt-01"
    tg = gateway()
    serve_report(gitlab, 7, 501, CLEAN)
    gitlab.script("trigger", *([{"status": 400, "message": message}] * 3), where={"variables[UPSTREAM_PIPELINE]": "312"})
    post(tg, pipeline_event(pipeline=312, ref="dev", user="dora"), idem="cut-312")
    wait_state(redis, 312, "staging", "failed")
    wait_until(lambda: idle(redis), what="everything recorded")
    failed = [r for r in of(records(redis), "trigger_failed") if r["pipeline"] == 312]
    assert failed and "glptt-01" not in json.dumps(failed) + tg.logs()
    assert "glptt-[R" in json.dumps(failed[-1])
