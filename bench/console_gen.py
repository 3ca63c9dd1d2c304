#!/usr/bin/env python3
"""console_gen.py -- pending deployments and a console session for bench/console.sh, written
straight into Redis in the layout the gateway keeps (the Redis protocol on stdout, for
`redis-cli --pipe`).

usage: console_gen.py COUNT SESSION_ID CSRF_TOKEN | redis-cli -p PORT --pipe

  tg:deploy:<project id>:<pipeline>:production   hash: the fields deliver.c and approval.c write
                                                 for a request waiting for approval (copied from a
                                                 real one, tests/integration/test_approvals.py)
  tg:pending                                     zset: key by expiry (ms)
  tg:approval:id:<id>                            the id (sha256 of the key, 12 hex) -> key
  tg:deployments:latest, tg:deployments:live     the environment indexes (deploy.h): "<project id>
                                                 production" -> "<pipeline> <key>" (live points at
                                                 the same records: the read costs the same)
  tg:console:session:<sha256 of SESSION_ID>      JSON session of user "bench" (gateway/console/session.h)

Projects and users vary like bench/audit_gen.lua's (group<N%20>/service<N>, user<N>).
"""
import hashlib
import json
import sys
import time

FINDINGS = [{"file": "node-app/package-lock.json", "fixed": ">=4.17.11", "id": "CVE-2018-16487", "line": None,
             "package": "lodash", "report": "trivy-scan/trivy-report.json", "severity": "high",
             "title": "lodash: Prototype pollution in utilities function", "version": "4.17.4"}] * 5


def command(*args):
    args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def deployment(i, now):
    k = 1 + i % 200
    project, pid, pipeline = "group%d/service%d" % (k % 20, k), 1000 + k, 900000 + i
    sha = "%040x" % (0xbe9c0000 + i)
    decision = {
        "approvals": {"approvers": ["alice", "bob", "carol", "dora"], "expire_ms": 86400000,
                      "prevent_self_approval": True, "required": 2},
        "counts": {"critical": 0, "high": 6, "info": 0, "low": 3, "medium": 4, "unknown": 1},
        "environment": "production", "exceptions": {"applied": ["EXC-1"], "expired": []},
        "findings": FINDINGS, "pipeline": pipeline, "policy_hash": "0" * 64, "project": project,
        "reasons": ["high 6 > 0 in trivy-scan/trivy-report.json: CVE-2018-16487",
                    "needs 2 approvals from alice, bob, carol, dora",
                    "counts: critical 0, high 6, medium 4, low 3, info 0, unknown 1 (2 excepted)"],
        "ref": "main", "reports": [{"artifact": "trivy-report.json", "counts": {
            "critical": 0, "high": 6, "info": 0, "low": 3, "medium": 4, "unknown": 1}, "excepted": 2,
            "format": "trivy", "job": "trivy-scan", "status": "ok"}],
        "rule": "severity.approve", "sha": sha, "source": "push", "verdict": "needs_approval"}
    key = "tg:deploy:%d:%d:production" % (pid, pipeline)
    did = hashlib.sha256(key.encode()).hexdigest()[:12]
    expires = now + 3600000 + i * 1000
    fields = {
        "version": 1, "project_id": pid, "state": "pending_approval", "project": project, "rank": pipeline,
        "approval_id": did, "chart_project": "shop/charts", "policy_hash": "0" * 64, "user": "user%d" % (i % 300),
        "expires_at": expires, "verdict": "needs_approval", "reason": decision["reasons"][0], "votes": 1,
        "vote:carol": "%d api" % (now - 60000), "rule": "severity.approve", "pipeline": pipeline,
        "environment": "production", "approval_hash": "0" * 64, "updated_at": now, "template": "chart",
        "variables": json.dumps({"ENVIRONMENT": "production", "IMAGE_TAG": sha}), "sha": sha,
        "last_action": "decided", "status": "success", "ref": "main", "decision": json.dumps(decision),
        "attempts": 0, "approval_round": 1, "chart_ref": "main", "created_at": now - 120000}
    out = [command("HSET", key, *[x for kv in fields.items() for x in kv]),
           command("ZADD", "tg:pending", expires, key),
           command("SET", "tg:approval:id:" + did, key)]
    for index in ("tg:deployments:latest", "tg:deployments:live"):
        out.append(command("HSET", index, "%d production" % pid, "%d %s" % (pipeline, key)))
    return b"".join(out)


def main():
    count, session_id, csrf = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    now = int(time.time() * 1000)
    out = sys.stdout.buffer
    for i in range(count):
        out.write(deployment(i, now))
    session = {"username": "bench", "name": "Bench Reader", "groups": ["platform"], "csrf_token": csrf,
               "created": now, "expires": now + 12 * 3600000}
    out.write(command("SET", "tg:console:session:" + hashlib.sha256(session_id.encode()).hexdigest(),
                      json.dumps(session), "PX", 12 * 3600000))


if __name__ == "__main__":
    main()
