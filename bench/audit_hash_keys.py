#!/usr/bin/env python3
"""audit_hash_keys.py -- gives generated audit index keys the names audit.c gives them.

bench/audit_gen.lua runs inside Redis, whose Lua has no SHA-256, so it writes every index
under <prefix>audit:idx:<kind>:<value>. audit.c names free-text kinds (actor, project,
environment, ref, project_ref) <prefix>audit:idx:<kind>~h:<sha256 hex of value>
(tg_audit_index_key): without this pass, queries by those filters would look at empty sets and
the benchmark would time nothing.

usage: redis-cli --scan --pattern 'tg:audit:idx:*' | audit_hash_keys.py [PREFIX] | redis-cli --pipe
Reads key names, one a line; writes RENAME commands in the Redis protocol.
"""
import hashlib
import sys

HASHED = ("actor", "project", "environment", "ref", "project_ref")


def command(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def main():
    prefix = (sys.argv[1] if len(sys.argv) > 1 else "tg:").encode() + b"audit:idx:"
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        key = line.rstrip(b"\n")
        if not key.startswith(prefix):
            continue
        kind, sep, value = key[len(prefix):].partition(b":")
        if sep and kind.decode() in HASHED:
            out.write(command(b"RENAME", key, prefix + kind + b"~h:" +
                              hashlib.sha256(value).hexdigest().encode()))


if __name__ == "__main__":
    main()
