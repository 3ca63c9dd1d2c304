#!/usr/bin/env python3
"""Closed to strangers, bounded under abuse (issue 11: F2, F6, F7), against the real binary:

  rapid reset    HTTP/2 streams opened and reset at once, on every route, by a stranger
                 (no credentials): RSS stays under 64 MB, nothing is queued or recorded one
                 by one, and an approve probe (full form: its latency) is answered during and
                 after the attack
  idle slots     one peer holds 4,500 idle connections (and keeps reopening them): another
                 peer's webhooks are still accepted
  held bodies    100 strangers each send all but the last byte of a ~1 MB POST (the default
                 limits.max_body) and hold it: RSS stays under 64 MB, a webhook is accepted
  verify         two clients verify the audit trail over HTTP without pause over 1,000,000
                 records (short form: 20,000) while an approve probe is answered

The approve probe is POST /api/v1/deployments/<id>/approve with a valid approve token for an
id that does not exist: it takes the approval path (gate on the loop, the act lane, Redis)
and answers 404, without needing a pipeline to approve.
"""
import hashlib
import http.client
import json
import shutil
import socket
import sys
import threading
import time

import chaoslib
import harness

APPROVER = "chaos-approver-token-0001"
EXTRA = """\
api:
  tokens:
    - { token: env:CH_APPROVER, identity: alice, scopes: [read, approve] }
chatops:
  slack: { signing_secret: env:CH_SLACK }
  mattermost: { token: env:CH_MM }
"""
ENV = {"CH_APPROVER": APPROVER, "CH_SLACK": "chaos-slack-signing-secret", "CH_MM": "chaos-mattermost-token"}
ROUTES = ["/hooks/gitlab", "/chatops/mattermost", "/chatops/slack", "/api/v1/deployments/abcabcabcabc/approve",
          "/api/v1/deployments", "/api/v1/audit", "/api/v1/audit/verify", "/healthz", "/readyz", "/metrics"]
RSS_LIMIT_KB = 64 * 1024


def probe(port, timeout=20):
    """One approve through a fresh connection from 127.0.0.1: (status, seconds)."""
    t = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        c.request("POST", "/api/v1/deployments/000000000000/approve", body=b"{}",
                  headers={"Authorization": "Bearer " + APPROVER, "Content-Type": "application/json"})
        status = c.getresponse().status
        c.close()
    except OSError:
        status = None
    return status, time.monotonic() - t


def start(logdir, name):
    """A fresh redis-server (its data directory from an earlier run removed)."""
    shutil.rmtree(logdir / (name + "-redis"), ignore_errors=True)
    shutil.rmtree(logdir / name, ignore_errors=True)
    return harness.Redis(logdir / (name + "-redis")).start()


def gateway(logdir, name, redis):
    return harness.Tollgate(logdir / name, redis.url, extra=EXTRA, env=ENV).start()


def probes_while(port, stop, out, every=0.25):
    while not stop.is_set():
        out.append(probe(port))
        stop.wait(every)


# ---- rapid reset ----

def rapid_reset(rows, logdir, short):
    seconds = 3 if short else 10
    redis = start(logdir, "reset")
    tg = gateway(logdir, "reset", redis)
    try:
        before_audit = redis.cmd("XLEN", "tg:audit")
        before_mem = int(dict(l.split(":", 1) for l in redis.cmd("INFO", "memory").decode().split("\r\n")
                              if ":" in l)["used_memory"])
        stop, probe_stop = threading.Event(), threading.Event()
        attackers = [chaoslib.RapidReset(tg.port, ROUTES, stop) for _ in range(4)]
        during, peak = [], [0]

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], chaoslib.rss_kb(tg.proc.pid))
                stop.wait(0.1)
        threads = attackers + [threading.Thread(target=sample, daemon=True),
                               threading.Thread(target=probes_while, args=(tg.port, probe_stop, during), daemon=True)]
        for t in threads:
            t.start()
        time.sleep(seconds)  # the attack's length is the figure, not a wait for a result
        probe_stop.set()
        stop.set()
        for t in threads:
            t.join(timeout=30)
        after = [probe(tg.port) for _ in range(5)]
        hwm = chaoslib.rss_kb(tg.proc.pid, "VmHWM")
        streams = sum(a.streams for a in attackers)
        sent_mb = sum(a.bytes for a in attackers) / 1e6
        mem = int(dict(l.split(":", 1) for l in redis.cmd("INFO", "memory").decode().split("\r\n")
                       if ":" in l)["used_memory"])
        tg.stop()  # flushes the per-minute summaries
        added = [json.loads(f["record"]) for _, f in redis.stream("tg:audit")][before_audit:]
        one_by_one = [r for r in added if r["action"] not in ("rejected", "ignored")
                      and r.get("actor") != "alice"]
        refused = sum(r["details"]["count"] for r in added if r["action"] == "rejected")
        rows.add("rapid reset on every route, %d s: streams sent and reset (MB sent)" % seconds,
                 "%d (%.0f MB) on %d routes, %d answered 401 and counted" % (streams, sent_mb, len(ROUTES), refused),
                 "-", streams > 0 and refused > 0)
        rows.add("rapid reset: peak RSS", "%.1f MB (%.1f MB sampled)" % (hwm / 1024, peak[0] / 1024), "< 64 MB",
                 hwm < RSS_LIMIT_KB)
        rows.add("rapid reset: audit records written one by one", "%d (%d per-minute summaries)" % (
            len(one_by_one), len(added) - len(one_by_one)), "0", not one_by_one)
        rows.add("rapid reset: Redis growth", "%.2f MB" % ((mem - before_mem) / 1e6), "< 1 MB",
                 mem - before_mem < 1e6)
        answered = [s for s, _ in during + after if s == 404]
        rows.add("rapid reset: approve probes answered (during + after)", "%d of %d" % (
            len(answered), len(during) + len(after)), "all", len(answered) == len(during) + len(after) and during)
        if not short:
            worst_during = max(t for _, t in during)
            worst_after = max(t for _, t in after)
            rows.add("rapid reset: approve probe, slowest during / after", "%.3f s / %.3f s" % (
                worst_during, worst_after), "< 1 s", worst_during < 1 and worst_after < 1)
    finally:
        tg.stop()
        redis.stop()


# ---- idle connections ----

def hook(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
        c.request("POST", "/hooks/gitlab", body=b'{"object_kind":"pipeline"}', headers=harness.gitlab_headers())
        status = c.getresponse().status
        c.close()
        return status
    except OSError:
        return None


def idle_slots(rows, logdir, short):
    n, hooks = 4500, 150
    redis = start(logdir, "idle")
    tg = gateway(logdir, "idle", redis)
    socks, stop = [], threading.Event()
    try:
        def hold():
            """The stranger: opens n idle connections and reopens each one the server closes."""
            while not stop.is_set():
                for i in range(n):
                    if stop.is_set():
                        return
                    s = socks[i] if i < len(socks) else None
                    if s is not None:
                        try:
                            s.setblocking(False)
                            if s.recv(1) != b"":
                                continue
                        except BlockingIOError:
                            continue
                        except OSError:
                            pass
                        s.close()
                    try:
                        s = socket.create_connection(("127.0.0.1", tg.port), timeout=5,
                                                     source_address=("127.0.0.4", 0))
                    except OSError:
                        s = None
                    if i < len(socks):
                        socks[i] = s
                    else:
                        socks.append(s)
                stop.wait(0.05)
        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        harness.wait_until(lambda: len(socks) >= n, timeout=120, what="4,500 idle connections opened")
        accepted = sum(hook(tg.port) == 202 for _ in range(hooks))
        refused = tg.metric('tollgate_connections_refused_total{reason="per_peer_cap"}')
        rows.add("%d idle connections from one peer: another peer's webhooks accepted" % n,
                 "%d of %d (%.1f %%); %d of the stranger's connections refused at accept" % (
                     accepted, hooks, 100.0 * accepted / hooks, refused), ">= 99 %", accepted >= 0.99 * hooks)
    finally:
        stop.set()
        for s in socks:
            if s is not None:
                s.close()
        tg.stop()
        redis.stop()


# ---- held bodies ----

def held_bodies(rows, logdir, short):
    n, size = 100, 1048576
    redis = start(logdir, "bodies")
    tg = harness.Tollgate(logdir / "bodies", redis.url, extra=EXTRA, env=ENV)
    tg.stop()
    tg.config.write_text(tg.config.read_text().replace("max_body: 64KiB", "max_body: 1MiB"))
    tg.start()
    socks = []
    try:
        hdr = (b"POST /chatops/mattermost HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % size)

        def feed(i):
            try:
                s = socket.create_connection(("127.0.0.1", tg.port), timeout=10,
                                             source_address=("127.0.0.%d" % (2 + i // 20), 0))
                socks.append(s)
                s.sendall(hdr + b"A" * (size - 1))
            except OSError:
                pass  # cut while sending: what the budget is for
        feeders = [threading.Thread(target=feed, args=(i,), daemon=True) for i in range(n)]
        for t in feeders:
            t.start()
        for t in feeders:
            t.join(timeout=30)
        hwm = chaoslib.rss_kb(tg.proc.pid, "VmHWM")
        accepted = hook(tg.port) == 202
        cut = tg.metric("tollgate_connections_cut_total")
        rows.add("%d strangers each holding an unfinished %d KiB body: peak RSS" % (n, size // 1024),
                 "%.1f MB (%d connections cut over the 16 MiB budget)" % (hwm / 1024, cut), "< 64 MB",
                 hwm < RSS_LIMIT_KB)
        rows.add("held bodies: a webhook from another peer", "202" if accepted else "refused", "202", accepted)
    finally:
        for s in socks:
            s.close()
        tg.stop()
        redis.stop()


# ---- verify ----

GENESIS = "0" * 64


def fill_audit(redis, n):
    """n chained records straight into Redis, as Tollgate writes them (canonical JSON with
    sorted keys, hash = SHA-256(prev || canonical))."""
    c = redis.client()
    prev, ts, batch = GENESIS, "2026-11-30T12:00:00.000Z", []

    def flush():
        c.sock.sendall(b"".join(batch))
        for _ in range(len(batch)):
            c._reply()
        batch.clear()
    for seq in range(1, n + 1):
        rec = {"action": "chaos", "actor": "system", "decision": None, "details": None, "environment": None,
               "pipeline": seq, "prev": prev, "project": "chaos/p", "reasons": None, "ref": "main", "seq": seq,
               "sha": None, "time": ts}
        canon = json.dumps(rec, sort_keys=True, separators=(",", ":"))
        h = hashlib.sha256((prev + canon).encode()).hexdigest()
        rec["hash"] = h
        record = json.dumps(rec, sort_keys=True, separators=(",", ":")).encode()
        sid = b"%d-0" % seq
        batch.append(b"*7\r\n$4\r\nXADD\r\n$8\r\ntg:audit\r\n$%d\r\n%s\r\n$6\r\nrecord\r\n$%d\r\n%s\r\n"
                     b"$4\r\nhash\r\n$64\r\n%s\r\n" % (len(sid), sid, len(record), record, h.encode()))
        prev = h
        if len(batch) == 5000:
            flush()
    if batch:
        flush()
    c("HSET", "tg:audit:head", "seq", n, "hash", prev, "time", 1795000000000)
    c.close()
    return prev


def verify_loop(port, stop, done):
    """Verifies the whole trail over HTTP again and again: from=1, then on from the head each
    call reached (anchored on it) until a call is complete. done gets records walked per pass
    (-1 for a break)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    while not stop.is_set():
        query, walked = "from=1", 0
        while True:
            c.request("GET", "/api/v1/audit/verify?" + query, headers={"Authorization": "Bearer " + APPROVER})
            r = c.getresponse()
            body = json.loads(r.read())
            if r.status != 200 or not body.get("ok"):
                walked = -1
                break
            walked += body["records"] - (0 if query == "from=1" else 1)
            if body["complete"]:
                break
            head = body["head"]
            query = "from=%d&head=%d:%s" % (head["seq"], head["seq"], head["hash"])
        done.append(walked)
    c.close()


def verifies(rows, logdir, short):
    n = 20000 if short else 1000000
    redis = start(logdir, "verify")
    t = time.monotonic()
    fill_audit(redis, n)
    filled = time.monotonic() - t
    tg = gateway(logdir, "verify", redis)
    stop, done, probes = threading.Event(), [[], []], []
    try:
        loops = [threading.Thread(target=verify_loop, args=(tg.port, stop, done[i]), daemon=True) for i in range(2)]
        for lp in loops:
            lp.start()
        harness.wait_until(lambda: tg.metric("tollgate_http_requests_in_flight") >= 2, what="both verifies running")
        for _ in range(10 if short else 40):
            probes.append(probe(tg.port))
            time.sleep(0.1)  # spacing of the probes, not a wait for a result
        harness.wait_until(lambda: all(len(d) >= 1 for d in done), timeout=900, what="each verify to finish once")
        stop.set()
        for lp in loops:
            lp.join(timeout=600)
        broken = sum(x < 0 for d in done for x in d)
        whole = sum(x >= n for d in done for x in d)  # the probes may add records behind the fill
        rows.add("two clients verifying all %d records over HTTP (100,000 a call), without pause" % n,
                 "%d whole passes, %d broken (trail filled in %.0f s)" % (whole, broken, filled),
                 "no break", broken == 0 and whole >= 2)
        answered = [s for s, _ in probes if s == 404]
        rows.add("verifies running: approve probes answered", "%d of %d" % (len(answered), len(probes)), "all",
                 len(answered) == len(probes))
        if not short:
            worst = max(t for _, t in probes)
            rows.add("verifies running: approve probe, slowest", "%.3f s" % worst, "< 1 s", worst < 1)
    finally:
        stop.set()
        tg.stop()
        redis.stop()


def main():
    a = chaoslib.args(__doc__.split("\n")[0])
    rows = chaoslib.Rows(a.rows)
    logdir = chaoslib.pathlib.Path(a.logdir) / "abuse"
    logdir.mkdir(parents=True, exist_ok=True)
    only = chaoslib.os.environ.get("CHAOS_ONLY")  # one scenario while developing
    for scenario in (rapid_reset, idle_slots, held_bodies, verifies):
        if only and scenario.__name__ != only:
            continue
        try:
            scenario(rows, logdir, a.short)
        except Exception as e:  # a scenario that cannot run is a figure not met, not a crash of the suite
            rows.add(scenario.__name__, "could not run: %s" % e, "-", False)
    return 0 if rows.all_met() else 1


if __name__ == "__main__":
    sys.exit(main())
