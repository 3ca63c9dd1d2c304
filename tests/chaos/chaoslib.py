"""Shared pieces of the fault-and-abuse suite (`make chaos`, its short form in `make test`).

A chaos script is run as `python3 chaos_X.py [--short] --rows FILE`. It measures, then writes
one JSON line per figure to FILE: {"figure", "measured", "target", "met"}; tests/chaos/run.py
gathers every script's rows into one table. A script may also print markdown rows
(`| figure | measured | target | met |`) on stdout; the runner takes those too. The short form
(`--short`) reports counts and bounds only: no latency figures, no timing margins.

Everything runs against the real binary, a real redis-server and real sockets on loopback.
"""
import argparse
import json
import os
import pathlib
import socket
import struct
import sys
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "tests" / "standins"))

import harness  # noqa: E402


def args(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--short", action="store_true", help="counts and bounds only (make test)")
    ap.add_argument("--rows", help="append the figures here as JSON lines")
    ap.add_argument("--logdir", default=str(ROOT / "tests" / "log" / "chaos"))
    return ap.parse_args()


class Rows:
    def __init__(self, path):
        self.path = path
        self.rows = []

    def add(self, figure, measured, target, met):
        row = {"figure": figure, "measured": measured, "target": target, "met": bool(met)}
        self.rows.append(row)
        print("| %s | %s | %s | %s |" % (figure, measured, target, "yes" if met else "**no**"), flush=True)
        if self.path:
            with open(self.path, "a") as f:
                f.write(json.dumps(row) + "\n")

    def all_met(self):
        return all(r["met"] for r in self.rows)


def rss_kb(pid, field="VmRSS"):
    """VmRSS (now) or VmHWM (peak) of a process, in KiB."""
    for line in pathlib.Path("/proc/%d/status" % pid).read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


# ---- a minimal HTTP/2 client that resets its streams (CVE-2023-44487, "rapid reset") ----

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def hpack_literal(name_index, value):
    """Literal header field without indexing, indexed name (RFC 7541 6.2.2), 4-bit prefix."""
    v = value.encode()
    assert len(v) < 127
    head = bytes([name_index]) if name_index < 15 else bytes([15, name_index - 15])
    return head + bytes([len(v)]) + v


def hpack_new(name, value):
    n, v = name.encode(), value.encode()
    return b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v


def request_headers(authority, path, content_type="application/json", extra=()):
    block = b"\x83\x86"  # :method POST, :scheme http (static table 3, 6)
    block += hpack_literal(4, path) + hpack_literal(1, authority) + hpack_literal(31, content_type)
    for name, value in extra:
        block += hpack_new(name, value)
    return block


class RapidReset(threading.Thread):
    """Opens HTTP/2 connections from source and, until stop is set, sends on each stream
    HEADERS + DATA (END_STREAM) and at once RST_STREAM(CANCEL), in batches. Counts streams sent
    and connections the server closed."""

    def __init__(self, port, paths, stop, source="127.0.0.2", body=b'{"user_id":"x"}', batch=50):
        super().__init__(daemon=True)
        self.port, self.paths, self.stop, self.source, self.body, self.batch = port, paths, stop, source, body, batch
        self.streams = 0
        self.reconnects = 0
        self.bytes = 0

    def _drain(self, sock):
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass

    def _connect(self):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5, source_address=(self.source, 0))
        s.sendall(PREFACE + frame(4, 0, 0))
        threading.Thread(target=self._drain, args=(s,), daemon=True).start()
        return s

    def run(self):
        authority = "127.0.0.1:%d" % self.port
        blocks = [request_headers(authority, p, extra=(("x-gitlab-token", "not-the-token"),
                                                       ("x-gitlab-event", "Pipeline Hook")))
                  for p in self.paths]
        sock, sid, k = None, 1, 0
        while not self.stop.is_set():
            try:
                if sock is None or sid > 2 ** 31 - 2 * self.batch:
                    sock, sid = self._connect(), 1
                    self.reconnects += 1
                out = []
                for _ in range(self.batch):
                    out.append(frame(1, 0x4, sid, blocks[k % len(blocks)]))
                    out.append(frame(0, 0x1, sid, self.body))
                    out.append(frame(3, 0, sid, struct.pack(">I", 8)))
                    sid += 2
                    k += 1
                data = b"".join(out)
                sock.sendall(data)
                self.streams += self.batch
                self.bytes += len(data)
            except OSError:
                try:
                    sock.close()
                except (OSError, AttributeError):
                    pass
                sock = None
        if sock:
            sock.close()


def timed(fn):
    t = time.monotonic()
    r = fn()
    return r, time.monotonic() - t


def env_flag(name):
    return os.environ.get(name, "") not in ("", "0")
