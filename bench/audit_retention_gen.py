#!/usr/bin/env python3
"""bench/audit_retention_gen.py -- appends audit records for bench/audit_retention.sh.

Writes Redis protocol to stdout (for `redis-cli --pipe`): COUNT records from seq FIRST on, in
gateway/audit.c's layout (stream entry "<seq>-0" with record and hash, the head, the time
index and every per-value index, free-text values named by their SHA-256), chained with real
SHA-256 hashes from PREV, so `tollgate audit verify` checks them. Record i's time is
T0 + (seq - 1) * STEP ms. Writes the last hash to the STATE file.
usage: audit_retention_gen.py FIRST COUNT PREV T0_MS STEP_MS STATE
"""
import hashlib
import json
import sys
import time

P = "tg:audit"
ACTIONS = ["received", "decided", "approval_requested", "approved", "triggered"]
PROJECTS = ["team-%d/service-%d" % (i % 17, i) for i in range(200)]
USERS = ["gitlab:user%d" % i for i in range(300)]
REFS = ["main", "dev", "release/1.%d" % 4, "feature/x"]
ENVS = ["production", "staging", None, None, None]


def hashed(kind, value):
    return "%s:idx:%s~h:%s" % (P, kind, hashlib.sha256(value.encode()).hexdigest())


_keys = {}


def key(kind, value):
    k = (kind, value)
    if k not in _keys:
        _keys[k] = hashed(kind, value)
    return _keys[k]


def ts(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def main():
    first, count, prev, t0, step, state = (int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4]),
                                           int(sys.argv[5]), sys.argv[6])
    w = sys.stdout.buffer
    buf = []
    for seq in range(first, first + count):
        n = seq // 5  # five steps per pipeline
        ms = t0 + (seq - 1) * step
        project, ref = PROJECTS[n * 7 % 200], REFS[n % 4]
        env = ENVS[n % 5]
        rec = {"action": ACTIONS[seq % 5], "actor": USERS[n * 13 % 300], "decision": None,
               "details": {"reason": "bench"}, "environment": env, "pipeline": 100000 + n, "prev": prev,
               "project": project, "reasons": None, "ref": ref, "seq": seq, "sha": "%040x" % (0xabc0000 + n),
               "time": ts(ms)}
        canon = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        h = hashlib.sha256((prev + canon).encode()).hexdigest()
        rec["hash"] = h
        full = json.dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        buf.append(resp("XADD", P, "%d-0" % seq, "record", full, "hash", h))
        buf.append(resp("ZADD", P + ":idx:time", ms, seq))
        idx = [P + ":idx:action:" + rec["action"], key("actor", rec["actor"]), key("project", project),
               P + ":idx:pipeline:%d" % rec["pipeline"], P + ":idx:sha:" + rec["sha"], key("ref", ref),
               key("project_ref", project + ":" + ref)]
        if env:
            idx.append(key("environment", env))
        for k in idx:
            buf.append(resp("ZADD", k, seq, seq))
        prev = h
        if len(buf) > 20000:
            w.write(b"".join(buf))
            buf = []
    last = first + count - 1
    buf.append(resp("HSET", P + ":head", "seq", last, "hash", prev, "time", t0 + (last - 1) * step))
    w.write(b"".join(buf))
    w.flush()
    with open(state, "w") as f:
        f.write(prev)


if __name__ == "__main__":
    main()
