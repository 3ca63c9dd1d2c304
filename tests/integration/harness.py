"""Real processes for integration tests: redis-server, tollgate, curl.

Nothing here is a mock: Redis is a real redis-server on a private port with its own data
directory, tollgate is the real binary, and requests go out through curl (HTTP/1.1, h2c
with prior knowledge or Upgrade, TLS with ALPN) or Python's http.client. Every process
logs into the test's own directory under tests/log/.
"""
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
# TG_BINARY selects another build, e.g. build/asan/tollgate (make test runs a part of the
# suite against the ASan+UBSan binary too).
TOLLGATE = pathlib.Path(os.environ.get("TG_BINARY") or ROOT / "build" / "tollgate")
FIXTURES = ROOT / "tests" / "fixtures"

WEBHOOK_TOKEN = "test-webhook-token-5f1c"
# Standard Webhooks test key (standard-webhooks/standard-webhooks test vectors).
SIGNING_TOKEN = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(fn, timeout=30.0, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # keep polling: the process may still be starting
            last = e
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


class RedisError(Exception):
    pass


class Resp:
    """A minimal RESP2 client: enough for assertions (XRANGE, XLEN, GET, ...)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("redis closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RedisError("bad reply %r" % line)

    def __call__(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._reply()


class Redis:
    """A private redis-server with AOF (appendfsync everysec), like production."""

    def __init__(self, workdir, port=None):
        self.dir = pathlib.Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.proc = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d/0" % self.port

    def start(self):
        log = open(self.dir / "redis.log", "ab")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "everysec", "--dir", str(self.dir),
             "--daemonize", "no", "--protected-mode", "no"],
            stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._ping, what="redis-server to answer PING")
        return self

    def _ping(self):
        c = Resp(self.port)
        try:
            return c("PING") == "PONG"
        finally:
            c.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def client(self):
        return Resp(self.port)

    def cmd(self, *args):
        c = Resp(self.port)
        try:
            return c(*args)
        finally:
            c.close()

    def stream(self, key):
        """[(id, {field: value})] of a stream, values as bytes."""
        out = []
        for entry_id, fields in self.cmd("XRANGE", key, "-", "+") or []:
            out.append((entry_id.decode(), {fields[i].decode(): fields[i + 1]
                                            for i in range(0, len(fields), 2)}))
        return out


BASE_CONFIG = """\
listen:
  - address: 127.0.0.1:%(port)d
%(tls)s
redis:
  url: %(redis_url)s
  events_maxlen: 100000
webhooks:
  - name: default
    token: env:TG_TEST_WEBHOOK_TOKEN
%(extra_webhook)s
limits:
  max_body: 64KiB
  redis_timeout: 1s
threads: 2
workers: %(workers)d
policies: '%(policies)s'
templates: '%(templates)s'
%(extra)s
"""


class Tollgate:
    """tollgate serve with a generated config, on free ports, logging into logdir."""

    def __init__(self, logdir, redis_url, extra="", env=None, tls=False, workers=0,
                 extra_webhook="", config_text=None, policies=None, templates=None):
        self.logdir = pathlib.Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        tls_text = ""
        if tls:
            self.cert, self.key = make_cert(self.logdir)
            tls_text = "  - address: 127.0.0.1:%d\n    tls: { cert: '%s', key: '%s' }" % (
                self.tls_port, self.cert, self.key)
        self.params = dict(port=self.port, tls=tls_text, redis_url=redis_url, extra=extra, workers=workers,
                           extra_webhook=extra_webhook, policies=policies or ROOT / "policies",
                           templates=templates or ROOT / "templates")
        self.config = self.logdir / "tollgate.yaml"
        self.config.write_text(config_text or BASE_CONFIG % self.params)
        self.env = dict(os.environ)
        self.env["TG_TEST_WEBHOOK_TOKEN"] = WEBHOOK_TOKEN
        self.env["TRIGGER_TOKEN"] = "glptt-shipped-template-token"  # the shipped template's
        self.env.update(env or {})
        self.proc = None
        self.log_path = self.logdir / "tollgate.log"

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, wait_ready=True):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([str(TOLLGATE), "serve", "-c", str(self.config)],
                                     stdout=self.log, stderr=self.log, env=self.env)
        wait_until(lambda: self.status("/healthz") == 200 or self.proc.poll() is not None,
                   what="tollgate to listen")
        assert self.proc.poll() is None, "tollgate exited: %s" % self.log_path.read_text()[-2000:]
        if wait_ready:
            wait_until(lambda: self.status("/readyz") == 200, what="tollgate /readyz")
        return self

    def status(self, path):
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    def get(self, path):
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def rewrite_config(self, **changes):
        """Writes the config again with some template parameters changed (for reload tests)."""
        self.params.update(changes)
        self.config.write_text(BASE_CONFIG % self.params)

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        self.log.close()
        return rc

    def logs(self):
        return self.log_path.read_text(errors="replace")

    def log_lines(self):
        out = []
        for line in self.logs().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out

    def metric(self, name):
        """Sum of the samples whose name and labels start with name (e.g. 'x{result="a"}')."""
        _, body = self.get("/metrics")
        total = 0.0
        for line in body.decode().splitlines():
            if line.startswith(name) and not line.startswith("#"):
                total += float(line.rsplit(" ", 1)[1])
        return total


def make_cert(d):
    cert, key = pathlib.Path(d) / "cert.pem", pathlib.Path(d) / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


class Response:
    def __init__(self, status, headers, body, http_version, verbose=""):
        self.status = status
        self.headers = headers
        self.body = body
        self.http_version = http_version
        self.verbose = verbose

    def json(self):
        return json.loads(self.body)


def curl(url, method="POST", headers=None, body=None, mode="http1.1", cacert=None, timeout=15):
    """One request through the real curl binary. mode: http1.1, h2c (prior knowledge),
    upgrade (HTTP/1.1 Upgrade: h2c), tls (ALPN, h2 preferred), tls-http1.1."""
    args = ["curl", "-sS", "-v", "-X", method, "--max-time", str(timeout), "-o", "-",
            "-D", "/dev/stderr"]
    args += {"http1.1": ["--http1.1"], "h2c": ["--http2-prior-knowledge"], "upgrade": ["--http2"],
             "tls": ["--http2"], "tls-http1.1": ["--http1.1"]}[mode]
    if cacert:
        args += ["--cacert", str(cacert)]
    for k, v in (headers or {}).items():
        args += ["-H", "%s: %s" % (k, v)]
    if body is not None:
        args += ["--data-binary", "@-"]
    args.append(url)
    p = subprocess.run(args, input=body if body is not None else None, capture_output=True)
    err = p.stderr.decode(errors="replace")
    status, version, hdrs = None, None, {}
    for line in err.splitlines():
        if line.startswith("HTTP/"):
            parts = line.split()
            version, status, hdrs = parts[0], int(parts[1]), {}
        elif status is not None and ":" in line and not line.startswith(("*", "<", ">", "{", "}")):
            k, v = line.split(":", 1)
            hdrs[k.strip().lower()] = v.strip()
    if p.returncode != 0 and status is None:
        return Response(None, {}, p.stdout, None, err)
    return Response(status, hdrs, p.stdout, version, err)


def gitlab_headers(event="Pipeline Hook", token=WEBHOOK_TOKEN, idem=None, extra=None):
    h = {"Content-Type": "application/json", "X-Gitlab-Event": event,
         "User-Agent": "GitLab/17.1.0", "X-Gitlab-Instance": "https://gitlab.example.com",
         "X-Gitlab-Webhook-UUID": "3f1a8a0e-1111-4e5f-9c1e-7d2b4c5a6e01",
         "X-Gitlab-Event-UUID": "0c9e7d4b-2222-4bb4-a0a1-8f3e2d1c0b9a"}
    if token is not None:
        h["X-Gitlab-Token"] = token
    if idem is not None:
        h["Idempotency-Key"] = idem
    h.update(extra or {})
    return h


def fixture_bytes(rel):
    return (FIXTURES / rel).read_bytes()
