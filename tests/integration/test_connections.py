"""Connection slots and client addresses through the real binary: the per-peer connection cap
(F6), the idle timeout for connections that never authenticate, and trusted_proxies (the
client address is taken from X-Forwarded-For / Forwarded only when a trusted proxy sends it).

Peers are told apart by source address: Linux loopback answers the whole 127/8 block, so a
socket bound to 127.0.0.2 is another peer than one bound to 127.0.0.1."""
import http.client
import json
import socket

import harness
from harness import gitlab_headers, wait_until

LIMITS = """\
  max_connections_per_peer: {per_peer}
  unauthenticated_idle: {idle}
"""


def start(tollgate, per_peer=4, idle="60s", extra=""):
    tg = tollgate(extra=extra)
    # The base config has a limits: block; append our keys under it.
    text = tg.config.read_text().replace("limits:\n", "limits:\n" + LIMITS.format(per_peer=per_peer, idle=idle), 1)
    tg.stop()
    tg.config.write_text(text)
    return tg.start()


def idle_socket(port, source="127.0.0.2"):
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    s.setblocking(False)
    return s


def closed(s):
    try:
        return s.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def hook(tg, token=harness.WEBHOOK_TOKEN, headers=None):
    h = gitlab_headers(token=token)
    h.update(headers or {})
    return harness.curl(tg.url + "/hooks/gitlab", headers=h, body=b'{"object_kind":"pipeline"}')


def test_one_peer_cannot_take_every_slot(tollgate):
    tg = start(tollgate, per_peer=4)
    socks = [idle_socket(tg.port) for _ in range(12)]
    wait_until(lambda: tg.metric('tollgate_connections_refused_total{reason="per_peer_cap"}') == 8,
               what="8 connections over the cap refused")
    assert sum(closed(s) for s in socks) == 8
    # Another peer (curl from 127.0.0.1) is served while 127.0.0.2 holds its four.
    assert all(hook(tg).status == 202 for _ in range(20))
    for s in socks:
        s.close()
    # (the /metrics request's own connection is the one left)
    wait_until(lambda: tg.metric("tollgate_http_connections") == 1, what="the slots to come back")
    again = [idle_socket(tg.port) for _ in range(4)]
    assert tg.metric('tollgate_connections_refused_total{reason="per_peer_cap"}') == 8
    for s in again:
        s.close()


def test_connections_that_never_authenticate_are_closed(tollgate):
    tg = start(tollgate, idle="300ms")
    stranger = idle_socket(tg.port)
    # A keep-alive connection that delivered a genuine webhook stays open.
    member = socket.create_connection(("127.0.0.1", tg.port), timeout=5, source_address=("127.0.0.3", 0))
    body = b'{"object_kind":"pipeline"}'
    head = "".join("%s: %s\r\n" % kv for kv in gitlab_headers().items())
    request = ("POST /hooks/gitlab HTTP/1.1\r\nHost: x\r\n%sContent-Length: %d\r\n\r\n" % (head, len(body))).encode()
    member.sendall(request + body)
    assert b" 202 " in member.recv(4096).split(b"\r\n")[0] + b" "
    wait_until(lambda: closed(stranger), what="the unauthenticated connection to be closed")
    assert tg.metric("tollgate_connections_idle_closed_total") >= 1
    member.sendall(request + body)  # still open after the stranger was shut out
    assert member.recv(4096).startswith(b"HTTP/1.1 202")
    member.close()
    stranger.close()


def rejected_remotes(redis):
    """The remotes of the per-minute rejected summaries of webhook deliveries in the audit trail."""
    recs = [json.loads(f["record"]) for _, f in redis.stream("tg:audit")]
    return [set(r["details"]["remotes"]) for r in recs if r["action"] == "rejected"]


def test_forwarded_address_only_from_trusted_proxies(tollgate, redis):
    xff = {"X-Forwarded-For": "198.51.100.77, 203.0.113.9"}  # the left entry is the client's own claim
    fwd = {"Forwarded": 'for="[2001:db8::9]:443"'}
    seen = []
    for extra in ("trusted_proxies: [127.0.0.0/30]", ""):
        tg = start(tollgate, extra=extra)
        assert hook(tg, token="wrong", headers=xff).status == 401
        assert hook(tg, token="wrong", headers=fwd).status == 401
        tg.stop()  # flushes the summary
        seen.append(set().union(*rejected_remotes(redis)) - set().union(*seen))
    assert seen == [{"203.0.113.9", "2001:db8::9"}, {"127.0.0.1"}]


def test_trusted_proxies_are_not_capped_per_peer(tollgate):
    tg = start(tollgate, per_peer=2, extra="trusted_proxies: [127.0.0.2]")
    socks = [idle_socket(tg.port) for _ in range(6)]
    # six from the proxy, plus the /metrics request's own
    wait_until(lambda: tg.metric("tollgate_http_connections") == 7, what="six connections from the proxy")
    assert tg.metric('tollgate_connections_refused_total{reason="per_peer_cap"}') == 0
    assert not any(closed(s) for s in socks)
    for s in socks:
        s.close()


API = """\
api:
  tokens:
    - { token: env:TG_TEST_API_READER, identity: rita, scopes: [read] }
"""
READER = "tg-api-reader-0042"


def api_get(tg, path, timeout=15, mode="http1.1"):
    return harness.curl(tg.url + path, method="GET", headers={"Authorization": "Bearer " + READER}, timeout=timeout,
                        mode=mode)


def test_api_queue_is_bounded_and_drops_work_of_gone_clients(tollgate, redis):
    tg = tollgate(extra=API, env={"TG_TEST_API_READER": READER})
    text = tg.config.read_text().replace("redis_timeout: 1s", "redis_timeout: 20s").replace(
        "limits:\n", "limits:\n  api_queue: 1\n", 1)
    tg.stop()
    tg.config.write_text(text)
    tg.start()
    redis.pause()  # every read-lane thread now blocks on Redis
    try:
        import threading
        results = []
        slow = [threading.Thread(target=lambda: results.append(api_get(tg, "/api/v1/audit?limit=1").status))
                for _ in range(2)]
        for i, t in enumerate(slow):  # one at a time, each taken by a thread before the next
            t.start()
            wait_until(lambda: tg.metric("tollgate_http_requests_in_flight") >= i + 1 and
                       tg.metric("tollgate_api_jobs_queued") == 0, what="read thread %d busy" % (i + 1))
        # The third waits in the queue; its HTTP/2 client gives up (the stream is reset, the
        # connection closed). h2o notices that on HTTP/2; on HTTP/1.1 it reads nothing while a
        # request is in hand, so there the job runs and its answer is dropped.
        gone = api_get(tg, "/api/v1/audit?limit=1", timeout=1, mode="h2c")
        assert gone.status is None and tg.metric("tollgate_api_jobs_queued") == 1
        # The queue holds one: the next is refused at once with Retry-After.
        full = api_get(tg, "/api/v1/audit?limit=1")
        assert full.status == 503 and full.headers.get("retry-after") == "1" and full.json()["error"] == "busy"
        assert tg.metric('tollgate_api_jobs_not_run_total{reason="queue_full"}') == 1
    finally:
        redis.resume()
    for t in slow:
        t.join()
    wait_until(lambda: tg.metric('tollgate_api_jobs_not_run_total{reason="client_gone"}') == 1,
               what="the gone client's job to be dropped unrun")
    assert api_get(tg, "/api/v1/audit?limit=1").status == 200


def test_a_connection_that_never_authenticates_gets_a_bounded_number_of_requests(tollgate):
    """Rapid reset and floods from strangers: past 32 requests without an authenticated one the
    connection is cut; a connection that authenticated keeps going."""
    tg = start(tollgate)

    def keepalive(headers, n):
        c = http.client.HTTPConnection("127.0.0.1", tg.port, timeout=10)
        statuses = []
        for _ in range(n):
            try:
                c.request("POST", "/hooks/gitlab", body=b'{"object_kind":"pipeline"}', headers=headers)
                r = c.getresponse()
                r.read()
                statuses.append(r.status)
                if r.status == 429:  # the README's promise: a 429, and the connection closes
                    statuses.append(r.getheader("connection"))
                    break
            except (OSError, http.client.HTTPException):
                statuses.append(None)
                break
        c.close()
        return statuses
    stranger = keepalive(gitlab_headers(token="wrong"), 40)
    assert stranger == [401] * 32 + [429, "close"]
    assert tg.metric("tollgate_connections_cut_total") == 1
    member = keepalive(gitlab_headers(), 40)
    assert member == [202] * 40


def raw_hook(port, header_lines, token="wrong"):
    """One webhook through a raw socket, so that a header can be sent twice."""
    body = b'{"object_kind":"pipeline"}'
    head = "".join("%s: %s\r\n" % kv for kv in gitlab_headers(token=token).items())
    req = ("POST /hooks/gitlab HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%sContent-Length: %d\r\n\r\n" % (
        head, "".join(l + "\r\n" for l in header_lines), len(body))).encode() + body
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(req)
    answer = s.recv(4096)
    s.close()
    return answer


def test_forwarded_client_is_the_right_most_untrusted_hop_over_all_headers(tollgate, redis):
    """Only the first X-Forwarded-For header was read, cut at 512 bytes and 32 hops (dropping the
    proxy's own hop at the right end); with both headers present, the one the client sent could
    win. Every header is joined, walked from the right without a cap; both present and no
    forwarded_header named: neither is believed."""
    many = ", ".join(["1.1.1.1"] * 60)
    cases = [
        ("", ["X-Forwarded-For: 6.6.6.6", "X-Forwarded-For: 203.0.113.9"], "203.0.113.9"),
        ("", ["X-Forwarded-For: %s, 198.51.100.7" % many], "198.51.100.7"),
        ("", ["Forwarded: for=6.6.6.6", "X-Forwarded-For: 198.51.100.8"], "127.0.0.1"),
        ("forwarded_header: x-forwarded-for\n", ["Forwarded: for=6.6.6.6", "X-Forwarded-For: 198.51.100.9"],
         "198.51.100.9"),
    ]
    seen = []
    for extra, lines, want in cases:
        tg = start(tollgate, extra="trusted_proxies: [127.0.0.0/30]\n" + extra)
        assert raw_hook(tg.port, lines).startswith(b"HTTP/1.1 401")
        tg.stop()  # flushes the summary
        seen.append(set().union(*rejected_remotes(redis)) - set().union(*seen))
    assert seen == [{w} for _, _, w in cases[:2]] + [{"127.0.0.1"}, {"198.51.100.9"}]


def test_a_trusted_proxys_shared_connection_is_not_treated_as_one_stranger(tollgate):
    """A proxy's connection carries many clients: the stranger budget (32 requests, then cut)
    and the unauthenticated idle timeout cut it because of one stranger behind it. Connections
    from trusted_proxies get neither; each request is still authenticated on its own."""
    tg = start(tollgate, idle="300ms", extra="trusted_proxies: [127.0.0.2]")
    c = http.client.HTTPConnection("127.0.0.1", tg.port, timeout=10, source_address=("127.0.0.2", 0))
    statuses = []
    for _ in range(40):
        c.request("POST", "/hooks/gitlab", body=b'{"object_kind":"pipeline"}',
                  headers=dict(gitlab_headers(token="wrong"), **{"X-Forwarded-For": "198.51.100.66"}))
        r = c.getresponse()
        r.read()
        statuses.append(r.status)
    assert statuses == [401] * 40
    # A stranger's own idle connection is closed; the proxy's, idle as long, is not.
    stranger = idle_socket(tg.port, source="127.0.0.3")
    wait_until(lambda: closed(stranger), what="the stranger's idle connection to be closed")
    c.request("POST", "/hooks/gitlab", body=b'{"object_kind":"pipeline"}', headers=gitlab_headers())
    r = c.getresponse()
    r.read()
    assert r.status == 202
    assert tg.metric("tollgate_connections_cut_total") == 0
    c.close()
    stranger.close()
