"""Ingest behaviour that needs more than one request at a time: concurrency, atomic dedupe
under load, graceful stop with requests in flight, and the nghttp2 clients."""
import http.client
import json
import signal
import subprocess
import threading

import harness
from harness import gitlab_headers, wait_until

PIPELINE = harness.fixture_bytes("gitlab/webhooks/pipeline_event.json")


def post_many(port, bodies, results):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    for body in bodies:
        conn.request("POST", "/hooks/gitlab", body=body, headers=gitlab_headers())
        r = conn.getresponse()
        results.append((r.status, json.loads(r.read())))
    conn.close()


def test_thousand_deliveries_from_fifty_clients(tollgate, redis):
    tg = tollgate()
    results, threads = [], []
    for c in range(50):
        bodies = [json.dumps({"object_kind": "pipeline", "client": c, "n": n}).encode() for n in range(20)]
        threads.append(threading.Thread(target=post_many, args=(tg.port, bodies, results)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 1000
    assert {s for s, _ in results} == {202}
    ids = {b["id"] for _, b in results}
    assert len(ids) == 1000 and not any(b["duplicate"] for _, b in results)
    assert redis.cmd("XLEN", "tg:events") == 1000
    assert tg.metric('tollgate_deliveries_total{result="accepted"}') == 1000


def test_concurrent_duplicates_queue_once_over_http2(tollgate, redis, logdir):
    """h2load sends one delivery 1,000 times over 50 connections: the dedupe and the XADD
    run in one script, so exactly one entry is queued and every answer names it."""
    tg = tollgate()
    body = logdir / "body.json"
    body.write_bytes(PIPELINE)
    args = ["h2load", "-n", "1000", "-c", "50", "-m", "10", "-d", str(body)]
    for k, v in gitlab_headers(idem="race-0001").items():
        args += ["-H", "%s: %s" % (k.lower(), v)]
    out = subprocess.run(args + [tg.url + "/hooks/gitlab"], capture_output=True, text=True, timeout=60)
    assert "1000 succeeded" in out.stdout, out.stdout
    assert "status codes: 0 2xx" not in out.stdout
    assert redis.cmd("XLEN", "tg:events") == 1
    assert tg.metric('tollgate_deliveries_total{result="accepted"}') == 1
    assert tg.metric('tollgate_deliveries_total{result="duplicate"}') == 999


def test_nghttp_client(tollgate, redis, logdir):
    tg = tollgate()
    body = logdir / "push.json"
    body.write_bytes(harness.fixture_bytes("gitlab/webhooks/push_event.json"))
    args = ["nghttp", "-v", "-d", str(body)]
    for k, v in gitlab_headers(event="Push Hook").items():
        args += ["-H", "%s: %s" % (k.lower(), v)]
    out = subprocess.run(args + [tg.url + "/hooks/gitlab"], capture_output=True, text=True, timeout=30)
    assert ":status: 202" in out.stdout, out.stdout[-2000:]
    entries = redis.stream("tg:events")
    assert len(entries) == 1 and entries[0][1]["body"] == body.read_bytes()


def test_sigterm_answers_in_flight_requests(tollgate, redis):
    """Requests waiting on Redis when SIGTERM arrives get their real answer, then exit 0."""
    tg = tollgate()
    redis.pause()
    results = []
    threads = [threading.Thread(target=post_many, args=(tg.port, [b'{"n": %d}' % i], results)) for i in range(8)]
    for t in threads:
        t.start()
    # /metrics does not need Redis, so it answers while the deliveries wait.
    wait_until(lambda: tg.metric("tollgate_http_requests_in_flight") == 8, what="8 requests in flight")
    tg.send_signal(signal.SIGTERM)
    wait_until(lambda: "stopping" in tg.logs(), what="the stop to begin")
    redis.resume()
    for t in threads:
        t.join()
    assert [s for s, _ in results] == [202] * 8
    assert tg.stop(timeout=15) == 0
    assert redis.cmd("XLEN", "tg:events") == 8
    events = [l.get("event") for l in tg.log_lines()]
    assert "stopping" in events and "stopped" in events


def test_stopped_gateway_refuses_new_connections(tollgate):
    tg = tollgate()
    assert tg.stop() == 0
    r = harness.curl(tg.url + "/hooks/gitlab", headers=gitlab_headers(), body=PIPELINE)
    assert r.status is None
