"""Runs every tests/cases/NNNN-*/case.yaml: data plus a check (format in tests/cases/FORMAT.md)."""
import base64
import hashlib
import hmac
import json
import pathlib
import signal
import time

import pytest
import yaml

import harness
from case_match import check
from harness import Redis, Tollgate, curl, gitlab_headers, wait_until
from worker_cases import Worker

CASES = sorted((harness.ROOT / "tests" / "cases").glob("[0-9][0-9][0-9][0-9]-*/case.yaml"))


def expand(s):
    if not isinstance(s, str):
        return s
    return s.replace("%TOKEN", harness.WEBHOOK_TOKEN).replace("%SIGNING_TOKEN", harness.SIGNING_TOKEN)


def body_of(send):
    if "body_fixture" in send:
        return harness.fixture_bytes(send["body_fixture"])
    if "body_size" in send:
        n = int(send["body_size"])
        return b'{"x":"' + b"a" * (n - 8) + b'"}'
    if "body_hex" in send:
        return bytes.fromhex(send["body_hex"])
    if "body" in send:
        b = send["body"]
        return b if isinstance(b, bytes) else str(b).encode()
    return harness.fixture_bytes("gitlab/webhooks/pipeline_event.json")


def sign_headers(spec, body):
    now = int(time.time())
    ts = str(spec.get("timestamp", "now"))
    if ts.startswith("now"):
        ts = str(now + int(ts[3:] or 0))
    msg_id = spec.get("id", "msg_%d" % now)
    secret = expand(spec.get("secret", "%SIGNING_TOKEN"))
    key = base64.b64decode(secret[6:] if secret.startswith("whsec_") else secret)
    signed = body + b"tampered" if spec.get("tamper") else body
    mac = hmac.new(key, b"%s.%s.%s" % (msg_id.encode(), ts.encode(), signed), hashlib.sha256).digest()
    header = spec.get("header", "v1," + base64.b64encode(mac).decode())
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": expand(header)}


def check_json_subset(got, want, saved, where):
    for k, v in want.items():
        if isinstance(v, str) and v.startswith("$"):
            v = saved[v[1:]]
        assert got.get(k) == v, "%s: %s is %r, want %r (body %r)" % (where, k, got.get(k), v, got)


class Case:
    def __init__(self, path, logdir):
        self.spec = yaml.safe_load(path.read_text())
        self.name = path.parent.name
        self.logdir = logdir
        self.saved = {}
        self.redis = Redis(logdir / "redis").start()
        self.tollgate = None
        self.worker = Worker(self.spec["worker"], logdir, self.redis, self.saved) if "worker" in self.spec else None

    def start_tollgate(self):
        if self.worker:
            self.worker.start()
            self.tollgate = self.worker.gateways[0]
            return
        tg = self.spec.get("tollgate") or {}
        env = {k: expand(v) for k, v in (tg.get("env") or {}).items()}
        self.tollgate = Tollgate(self.logdir / "tollgate", self.redis.url, extra=tg.get("extra", ""),
                                 env=env, tls=tg.get("tls", False), extra_webhook=tg.get("extra_webhook", ""))
        self.tollgate.start()

    def close(self):
        if self.worker:
            self.worker.close()
        elif self.tollgate:
            self.tollgate.stop()
        self.redis.stop()

    def url(self, mode, path):
        if mode.startswith("tls"):
            return "https://localhost:%d%s" % (self.tollgate.tls_port, path)
        return self.tollgate.url + path

    def step_send(self, send, expect, where):
        send = send or {}
        body = body_of(send)
        event = send.get("event", "Pipeline Hook")
        headers = gitlab_headers(event=event, token=expand(send.get("token", "%TOKEN")),
                                 idem=send.get("idempotency_key"))
        if event is None:
            headers.pop("X-Gitlab-Event")
        if "sign" in send:
            headers.update(sign_headers(send["sign"], body))
        headers.update({k: expand(v) for k, v in (send.get("headers") or {}).items()})
        mode = send.get("mode", "http1.1")
        for _ in range(int(send.get("repeat", 1))):
            r = curl(self.url(mode, send.get("path", "/hooks/gitlab")), method=send.get("method", "POST"),
                     headers=headers, body=body, mode=mode, cacert=getattr(self.tollgate, "cert", None))
            self.check_response(r, expect or {}, where)

    def check_response(self, r, expect, where):
        assert r.status is not None, "%s: no answer: %s" % (where, r.verbose[-1500:])
        if "status" in expect:
            assert r.status == expect["status"], "%s: status %s, want %s: %r" % (where, r.status, expect["status"], r.body)
        if "http_version" in expect:
            assert r.http_version == expect["http_version"], "%s: %s" % (where, r.http_version)
        if "body_contains" in expect:
            assert expect["body_contains"].encode() in r.body, "%s: body %r" % (where, r.body)
        for k, v in (expect.get("header") or {}).items():
            assert r.headers.get(k) == v, "%s: header %s=%r" % (where, k, r.headers.get(k))
        if "json" in expect or "save" in expect:
            got = r.json()
            check_json_subset(got, expect.get("json") or {}, self.saved, where)
            for name, key in (expect.get("save") or {}).items():
                self.saved[name] = got[key]

    def step_stream(self, spec, where):
        """Polls (bounded, `within` seconds, default 10) until the stream is as expected."""
        deadline = time.monotonic() + float(spec.get("within", 10))
        while True:
            try:
                return self.check_stream(spec, where)
            except (AssertionError, IndexError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def check_stream(self, spec, where):
        key = "tg:" + spec.get("key", "events")
        entries = self.redis.stream(key)
        for name, pick in (("first_id", 0), ("last_id", -1)):
            if name in spec:
                check(entries[pick][0], spec[name], "%s: %s %s" % (where, key, name), self.saved)
        for name, pick in (("save_first_id", 0), ("save_last_id", -1)):
            if name in spec:
                self.saved[spec[name]] = entries[pick][0]
        if "length" in spec:
            assert len(entries) == spec["length"], "%s: %s has %d entries" % (where, key, len(entries))
        for which, pick in (("first", 0), ("last", -1)):
            fields = entries[pick][1] if which in spec else {}
            for k, v in (spec.get(which) or {}).items():
                if k == "body_fixture":
                    assert fields["body"] == harness.fixture_bytes(v), "%s: stored body differs" % where
                else:
                    check(fields.get(k), v, "%s: %s %s" % (where, which, k), self.saved)

    def step_log(self, spec, where):
        def matches():
            return [l for l in self.tollgate.log_lines() if l.get("event") == spec["event"]
                    and all(l.get(k) == v for k, v in (spec.get("fields") or {}).items())]
        if "count" in spec:
            wait_until(lambda: len(matches()) >= spec["count"], timeout=5, what=where)
            assert len(matches()) == spec["count"], "%s: %d lines" % (where, len(matches()))
        else:
            wait_until(matches, timeout=5, what="%s: a log line %r" % (where, spec))

    def step_reload(self, spec):
        self.tollgate.rewrite_config(**spec)
        self.tollgate.send_signal(signal.SIGHUP)

    def step_http(self, spec, where):
        r = curl(self.tollgate.url + spec["path"], method=spec.get("method", "GET"), mode="http1.1")
        self.check_response(r, spec, where)

    def run(self):
        self.start_tollgate()
        for i, step in enumerate(self.spec["steps"]):
            where = "%s step %d" % (self.name, i + 1)
            if self.worker and self.worker.run_step(step, where):
                continue
            if "send" in step:
                self.step_send(step["send"], step.get("expect"), where)
            elif "redis" in step:
                {"stop": self.redis.stop, "start": self.redis.start, "pause": self.redis.pause,
                 "resume": self.redis.resume}[step["redis"]]()
            elif "wait_ready" in step:
                wait_until(lambda: self.tollgate.status("/readyz") == 200, timeout=15, what=where)
            elif "sleep" in step:
                time.sleep(float(step["sleep"]))
            elif "stream" in step:
                self.step_stream(step["stream"], where)
            elif "metric" in step:
                m = step["metric"]
                wait_until(lambda: self.tollgate.metric(m["name"]) == m["value"], timeout=3,
                           what="%s: %s == %s (is %s)" % (where, m["name"], m["value"], self.tollgate.metric(m["name"])))
            elif "log" in step:
                self.step_log(step["log"], where)
            elif "log_never_contains" in step:
                text = self.tollgate.logs()
                for s in step["log_never_contains"]:
                    assert expand(s) not in text, "%s: the log contains %r" % (where, s)
            elif "reload" in step:
                self.step_reload(step["reload"])
            elif "http" in step:
                self.step_http(step["http"], where)
            else:
                raise AssertionError("%s: unknown step %r" % (where, step))


@pytest.mark.parametrize("path", CASES, ids=[p.parent.name for p in CASES])
def test_case(path, logdir):
    case = Case(path, logdir)
    try:
        case.run()
    finally:
        case.close()
