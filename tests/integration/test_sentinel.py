"""Scaling out against a Redis primary watched by Sentinel: Tollgate finds the primary by
asking a real redis-server in sentinel mode, and after a failover it follows the new one."""
import json
import signal
import socket
import subprocess
import time

import harness
from harness import Redis, Resp, gitlab_headers, wait_until

PIPELINE = harness.fixture_bytes("gitlab/webhooks/pipeline_event.json")


class Sentinel:
    def __init__(self, workdir, primary_port, port=None):
        self.port = port or harness.free_port()
        self.conf = workdir / "sentinel.conf"
        workdir.mkdir(parents=True, exist_ok=True)
        self.conf.write_text("port %d\nbind 127.0.0.1\nprotected-mode no\n"
                             "sentinel monitor tgmaster 127.0.0.1 %d 1\n"
                             "sentinel down-after-milliseconds tgmaster 1000\n"
                             "sentinel failover-timeout tgmaster 5000\n" % (self.port, primary_port))
        self.log = open(workdir / "sentinel.log", "ab")
        self.proc = subprocess.Popen(["redis-server", str(self.conf), "--sentinel"], stdout=self.log, stderr=self.log)
        wait_until(lambda: self.primary() is not None, what="sentinel to know the primary")

    def primary(self):
        c = Resp(self.port)
        try:
            r = c("SENTINEL", "get-master-addr-by-name", "tgmaster")
            return int(r[1]) if r else None
        finally:
            c.close()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()


def post(tg, idem):
    r = harness.curl(tg.url + "/hooks/gitlab", headers=gitlab_headers(idem=idem), body=PIPELINE)
    return r.status, (r.json() if r.status == 202 else None)


def test_sentinel_finds_the_primary_and_follows_a_failover(tollgate, logdir):
    primary = Redis(logdir / "primary").start()
    replica = Redis(logdir / "replica").start()
    replica.cmd("REPLICAOF", "127.0.0.1", primary.port)
    wait_until(lambda: b"master_link_status:up" in replica.cmd("INFO", "replication"), what="replication")
    sentinel = Sentinel(logdir / "sentinel", primary.port)
    try:
        tg = tollgate(redis_url="redis-sentinel://127.0.0.1:%d/tgmaster/0" % sentinel.port)
        assert post(tg, "before-failover")[0] == 202
        assert primary.cmd("XLEN", "tg:events") == 1
        primary.stop()  # the sentinel promotes the replica
        wait_until(lambda: sentinel.primary() == replica.port, timeout=30, what="the failover")
        status = wait_until(lambda: post(tg, "after-failover")[0] == 202, timeout=30,
                            what="deliveries to be accepted by the new primary")
        assert status
        entries = replica.stream("tg:events")
        assert [e[1]["idempotency_key"] for e in entries] == [b"before-failover", b"after-failover"]
        # every event loop has its own connection: wait until all have followed the failover
        wait_until(lambda: tg.status("/readyz") == 200, timeout=30, what="every loop on the new primary")
        for _ in range(4):  # whichever loop answers, the dedupe key replicated with the entry
            status, body = post(tg, "before-failover")
            assert status == 202 and body["duplicate"] is True
    finally:
        sentinel.stop()
        replica.stop()
        primary.stop()


class SilentSentinel:
    """A port that takes connections (the kernel's backlog) and never answers: a sentinel that
    is unreachable in the costliest way, since the asker waits its whole timeout for it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]

    def close(self):
        self.sock.close()


def test_unreachable_sentinels_leave_the_gateway_answering(tollgate, redis, logdir):
    """Three sentinels that never answer: the event loops keep serving (health, refusals
    with 503) while the primary is unknown, and webhooks are accepted once a sentinel
    answers. The benchmark bench/sentinel.sh measures the latency side of this."""
    silent = [SilentSentinel() for _ in range(3)]
    url = "redis-sentinel://%s/tgmaster/0" % ",".join("127.0.0.1:%d" % s.port for s in silent)
    sentinel = None
    try:
        tg = tollgate(redis_url=url, wait_ready=False)
        wait_until(lambda: any(l.get("event") == "sentinel_failed" for l in tg.log_lines()),
                   what="a Sentinel question to fail")
        for n in range(3):  # while the loops ask again and again, they keep answering
            assert tg.status("/healthz") == 200
            assert tg.status("/readyz") == 503
            assert post(tg, "while-unknown-%d" % n)[0] == 503
        assert redis.cmd("EXISTS", "tg:events") == 0
        silent[2].close()  # the third sentinel comes up, on the same port, and knows the primary
        sentinel = Sentinel(logdir / "sentinel", redis.port, port=silent[2].port)
        wait_until(lambda: post(tg, "after-a-sentinel-answers")[0] == 202, timeout=30,
                   what="a webhook to be accepted once a sentinel answers")
        wait_until(lambda: tg.status("/readyz") == 200, timeout=30, what="every loop ready")
        assert [e[1]["idempotency_key"] for e in redis.stream("tg:events")] == [
            b"after-a-sentinel-answers"]
    finally:
        if sentinel:
            sentinel.stop()
        for s in silent:
            s.close()
