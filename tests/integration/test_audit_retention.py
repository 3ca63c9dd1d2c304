"""Audit retention through the real binary and a real Redis: records older than
audit.retention leave Redis for sealed zstd segments; verify walks archive + Redis as one
chain and names a deleted segment, an edited line and a gap; the query API says from which
seq it answers; export --from-archive gives the whole chain; concurrent archivers never
archive the same range; a crash between the segment and the trim loses and repeats nothing."""
import json
import os
import pathlib
import subprocess
import threading
import time

import pytest

import harness
from harness import wait_until
from pipelines import pipeline_event
from test_audit import PROJECTS, REFS, USERS, Api, audit_extra, audit_env, cli, idle, of, post, records
from test_deliver import gitlab  # noqa: F401 (the stand-in's fixture)

RETENTION_S = 2


def extra_with(gitlab_url, sink, archive=None, retention="%ds" % RETENTION_S):
    audit = "  retention: %s\n" % retention if retention else ""
    if archive:
        audit += "  archive: '%s'\n" % archive
    return audit_extra(gitlab_url, sink).replace("  fail_closed:", audit + "  fail_closed:", 1)


@pytest.fixture
def setup(tollgate, gitlab, logdir):
    """A gateway with the retention but no archive (it never archives), and an archiver's
    config (the same plus audit.archive) for `tollgate audit archive`."""
    archive = logdir / "archive"
    archive.mkdir()
    tg = tollgate(workers=2, env=audit_env(), extra=extra_with(gitlab.url, logdir / "audit.jsonl"))
    archiver = logdir / "archiver.yaml"
    archiver.write_text(tg.config.read_text().replace(
        "  retention: %ds\n" % RETENTION_S, "  retention: %ds\n  archive: '%s'\n" % (RETENTION_S, archive)))
    return tg, archiver, archive


def deliver(tg, redis, tag, n):
    before = len(of(records(redis), "received"))
    for i in range(n):
        pid, path = PROJECTS[i % 3]
        ev = pipeline_event(pipeline=5000 + hash(tag) % 1000 * 10 + i, ref=REFS[i % 4], user=USERS[i % 3],
                            project_id=pid, path=path, status="failed", sha="%040x" % (0xdef000 + i))
        post(tg, ev, idem="%s-%d" % (tag, i))
    wait_until(lambda: idle(redis) and len(of(records(redis), "received")) == before + n, timeout=60,
               what="the deliveries recorded")


def ms(rec):
    return harness_time(rec["time"])


def harness_time(text):
    from datetime import datetime
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def cli_env():
    return dict(os.environ, **audit_env(), TG_TEST_WEBHOOK_TOKEN=harness.WEBHOOK_TOKEN,
                TRIGGER_TOKEN="glptt-shipped-template-token")


def run(config, *args):
    p = subprocess.run([str(harness.TOLLGATE), "audit", *args, "-c", str(config)], capture_output=True,
                       timeout=120, env=cli_env())
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def segments(archive):
    return sorted(p for p in pathlib.Path(archive).iterdir() if p.name.startswith("audit-"))


def segment_lines(path):
    out = subprocess.run(["zstd", "-dcq", str(path)], capture_output=True, check=True).stdout.decode()
    return out.splitlines()


def start_of(redis):
    v = redis.cmd("HGET", "tg:audit:start", "seq")
    return int(v) if v else 1


def index_members(redis):
    """{key: [seq...]} of every audit index."""
    out, cursor = {}, b"0"
    while True:
        cursor, keys = redis.cmd("SCAN", cursor, "MATCH", "tg:audit:idx:*", "COUNT", 1000)
        for k in keys:
            out[k.decode()] = [int(m) for m in redis.cmd("ZRANGE", k, 0, -1)]
        if cursor in (b"0", 0, "0"):
            return out


def archive_old(tg, redis, archiver, n_old=12, n_new=3, batch=None):
    """n_old records made older than the retention, n_new fresh ones, one archive run.
    Returns (records before, the run's time window)."""
    deliver(tg, redis, "old", n_old)
    newest_old = max(ms(r) for r in records(redis))
    wait_until(lambda: time.time() * 1000 > newest_old + RETENTION_S * 1000, timeout=30,
               what="the old records to pass the retention")
    deliver(tg, redis, "new", n_new)
    before = records(redis)
    t0 = int(time.time() * 1000)
    args = ["archive"] + (["--batch", str(batch)] if batch else [])
    rc, out, err = run(archiver, *args)
    t1 = int(time.time() * 1000)
    assert rc == 0, out + err
    return before, newest_old, (t0, t1)


def test_old_records_move_to_sealed_segments_and_the_chain_holds(setup, redis):
    tg, archiver, archive = setup
    before, newest_old, (t0, t1) = archive_old(tg, redis, archiver)
    start = start_of(redis)
    kept = records(redis)
    archived = [json.loads(l) for p in segments(archive) for l in segment_lines(p)]
    # every record older than the retention before the run moved; none younger at its end did
    assert [r["seq"] for r in archived] == list(range(1, start))
    assert all(ms(r) <= newest_old for r in before if r["seq"] < start) and archived
    assert all(ms(r) <= t1 - RETENTION_S * 1000 for r in archived)
    assert all(ms(r) > t0 - RETENTION_S * 1000 for r in kept[:-1])
    assert all(r["seq"] >= start for r in before if ms(r) > newest_old)
    assert archived + kept == before and kept[0]["seq"] == start
    assert redis.cmd("HGET", "tg:audit:start", "prev").decode() == archived[-1]["hash"]
    # the segment's name carries its range and last hash
    name = segments(archive)[0].name
    assert name == "audit-%020d-%020d-%s.jsonl.zst" % (1, start - 1, archived[-1]["hash"])
    # the index entries of moved records are gone, the others stay
    idx = index_members(redis)
    assert idx and all(s >= start for members in idx.values() for s in members)
    assert any(start in members for members in idx.values())
    # verify walks archive + Redis as one chain
    rc, out, err = run(archiver, "verify")
    assert rc == 0, out + err
    assert out.startswith("ok %d records, head %d:%s" % (len(before), before[-1]["seq"], before[-1]["hash"]))
    assert "archive %s: 1 segments, %d records" % (archive, start - 1) in out
    # without the archive, verify checks Redis from its start
    rc, out, _ = run(tg.config, "verify")
    assert rc == 0 and out.startswith("ok %d records" % len(kept)), out
    # the query API answers from Redis and says from where
    status, body = Api(tg).get("/api/v1/audit", limit=1000, order="asc")
    assert status == 200 and body["from_seq"] == start
    assert [r["seq"] for r in body["records"]] == [r["seq"] for r in kept]
    status, body = Api(tg).get("/api/v1/audit", action="received", limit=1000)
    assert status == 200 and body["from_seq"] == start and all(r["seq"] >= start for r in body["records"])
    assert Api(tg).get("/api/v1/audit/1")[0] == 404
    # export --from-archive is the whole chain, byte for byte; plain export is Redis's part
    rc, out, err = run(archiver, "export", "--from-archive")
    assert rc == 0, err
    canon = [json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False) for r in before]
    assert out.splitlines() == canon
    rc, out, _ = run(archiver, "export")
    assert rc == 0 and out.splitlines() == canon[start - 1:]
    # HTTP verify starts at Redis's start when nothing was verified yet
    status, body = Api(tg).get("/api/v1/audit/verify")
    assert status == 200 and body["ok"] and body["from"] == start, body


def test_verify_names_a_deleted_segment_an_edited_line_and_a_gap(setup, redis):
    tg, archiver, archive = setup
    before, _, _ = archive_old(tg, redis, archiver, n_old=10, batch=4)
    segs = segments(archive)
    assert len(segs) >= 3, [p.name for p in segs]
    assert run(archiver, "verify")[0] == 0

    def broken():
        rc, out, err = run(archiver, "verify")
        assert rc == 1, out + err
        return out.splitlines()[0]

    def hide(p):
        hidden = p.with_name("hidden-" + p.name)
        p.rename(hidden)
        return lambda: hidden.rename(p)

    first, middle, last = segs[0], segs[1], segs[-1]
    lo = lambda p: int(p.name.split("-")[1])  # noqa: E731
    hi = lambda p: int(p.name.split("-")[2])  # noqa: E731
    back = hide(middle)
    assert broken() == ("broken at seq %d: gap: seq %d to %d missing from the archive %s: no segment holds them"
                        % (lo(middle), lo(middle), hi(middle), archive))
    back()
    back = hide(first)
    assert broken().startswith("broken at seq 1: gap: seq 1 to %d missing from the archive" % hi(first))
    back()
    # the last segment gone: a gap between the archive and Redis
    back = hide(last)
    assert broken() == ("broken at seq %d: gap: seq %d to %d are in neither the archive nor Redis "
                        "(Redis starts at seq %d)" % (lo(last), lo(last), hi(last), hi(last) + 1))
    # export --from-archive refuses too (issue 15 attack 1): it exited 0 without those records
    rc, out, err = run(archiver, "export", "--from-archive")
    assert rc == 2 and ("seq %d to %d are in neither the archive nor Redis (Redis starts at seq %d"
                        % (lo(last), hi(last), hi(last) + 1)) in err, err
    back()
    # an empty archive directory (an unmounted share): verify and export name seq 1 to start - 1
    backs = [hide(p) for p in segs]
    assert broken() == ("broken at seq 1: gap: seq 1 to %d are in neither the archive nor Redis "
                        "(Redis starts at seq %d)" % (hi(last), hi(last) + 1))
    rc, out, err = run(archiver, "export", "--from-archive")
    assert rc == 2 and "seq 1 to %d are in neither the archive nor Redis" % hi(last) in err, err
    for b in backs:
        b()
    rc, out, err = run(archiver, "export", "--from-archive")
    assert rc == 0 and [json.loads(l) for l in out.splitlines()] == before, err
    # an edited line inside a segment (recompressed, so only the chain can tell)
    original = middle.read_bytes()
    lines = segment_lines(middle)
    rec = json.loads(lines[1])
    lines[1] = lines[1].replace('"action":"%s"' % rec["action"], '"action":"approved"', 1)
    assert lines[1] != segment_lines(middle)[1]
    subprocess.run(["zstd", "-qf", "-o", str(middle)], input=("\n".join(lines) + "\n").encode(), check=True)
    assert broken().startswith("broken at seq %d: hash mismatch:" % rec["seq"])
    assert broken().endswith("(segment %s)" % middle.name)
    # a segment whose bytes are damaged is named too
    middle.write_bytes(original[:-7])
    assert broken().startswith("broken at seq %d: unreadable: segment %s:" % (lo(middle), middle.name))
    middle.write_bytes(original)
    # a gap between the archive and Redis: Redis's first records removed
    assert run(archiver, "verify")[0] == 0
    start = start_of(redis)
    redis.cmd("XDEL", "tg:audit", "%d-0" % start)
    redis.cmd("HSET", "tg:audit:start", "seq", start + 1, "prev", before[start - 1]["hash"])
    assert broken() == ("broken at seq %d: gap: seq %d to %d are in neither the archive nor Redis "
                        "(Redis starts at seq %d)" % (start, start, start, start + 1))


def test_a_crash_between_segment_and_trim_loses_and_repeats_nothing(setup, redis):
    tg, archiver, archive = setup
    deliver(tg, redis, "old", 8)
    newest = max(ms(r) for r in records(redis))
    wait_until(lambda: time.time() * 1000 > newest + RETENTION_S * 1000, timeout=30, what="the retention")
    keys = [k.decode() for k in redis.cmd("KEYS", "tg:audit*")]
    dumps = {k: redis.cmd("DUMP", k) for k in keys}
    before = records(redis)
    assert run(archiver, "archive")[0] == 0
    written = segments(archive)
    assert len(written) == 1
    # Redis as it was before the trim: the segment exists, the records are still in Redis
    redis.cmd("DEL", "tg:audit:start", *[k for k in redis.cmd("KEYS", "tg:audit:idx:*")])
    for k, d in dumps.items():
        redis.cmd("RESTORE", k, 0, d, "REPLACE")
    assert records(redis) == before and start_of(redis) == 1
    rc, out, _ = run(archiver, "verify")
    assert rc == 0, out  # the archive and an untrimmed Redis overlap: still one chain
    rc, out, err = run(archiver, "archive")
    assert rc == 0 and out.startswith("archived %d records" % (len(before) - 1)), out + err
    assert segments(archive) == written  # recognised, not written again
    rc, out, _ = run(archiver, "export", "--from-archive")
    assert [json.loads(l) for l in out.splitlines()] == before
    assert run(archiver, "verify")[0] == 0


def test_concurrent_archivers_never_archive_the_same_range(setup, redis):
    tg, archiver, archive = setup
    deliver(tg, redis, "old", 20)
    newest = max(ms(r) for r in records(redis))
    wait_until(lambda: time.time() * 1000 > newest + RETENTION_S * 1000, timeout=30, what="the retention")
    before = records(redis)
    # a lease held by another process: this one archives nothing
    redis.cmd("SET", "tg:audit:archive:lease", "someone-else", "PX", 60000)
    rc, out, _ = run(archiver, "archive", "--batch", "2")
    assert rc == 0 and out.startswith("archived 0 records"), out
    assert segments(archive) == [] and start_of(redis) == 1
    redis.cmd("DEL", "tg:audit:archive:lease")
    # four archivers at once, in small batches
    procs = [subprocess.Popen([str(harness.TOLLGATE), "audit", "archive", "--batch", "2", "-c", str(archiver)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli_env()) for _ in range(4)]
    results = [(p.wait(timeout=120), p.stdout.read().decode(), p.stderr.read().decode()) for p in procs]
    assert all(rc == 0 for rc, _, _ in results), results
    total = sum(int(out.split()[1]) for _, out, _ in results)
    while start_of(redis) < len(before):  # an archiver that met the lease stopped early
        assert run(archiver, "archive", "--batch", "2")[0] == 0
    archived_by_runs = total
    ranges = [(int(p.name.split("-")[1]), int(p.name.split("-")[2])) for p in segments(archive)]
    assert ranges[0][0] == 1 and all(b[0] == a[1] + 1 for a, b in zip(ranges, ranges[1:])), ranges
    assert ranges[-1][1] == len(before) - 1 and archived_by_runs <= len(before) - 1
    seqs = [json.loads(l)["seq"] for p in segments(archive) for l in segment_lines(p)]
    assert seqs == list(range(1, len(before)))
    assert run(archiver, "verify")[0] == 0


def test_gateways_archive_in_their_housekeeping_and_a_process_without_the_path_never_does(
        tollgate, gitlab, redis, logdir):
    archive = logdir / "archive"
    archive.mkdir()
    plain = tollgate(workers=1, env=audit_env(), extra=extra_with(gitlab.url, logdir / "a.jsonl"))
    deliver(plain, redis, "old", 6)
    newest = max(ms(r) for r in records(redis))
    wait_until(lambda: time.time() * 1000 > newest + RETENTION_S * 1000, timeout=30, what="the retention")
    two = [tollgate(workers=1, env=audit_env(), extra=extra_with(gitlab.url, logdir / ("b%d.jsonl" % i), archive))
           for i in range(2)]
    n_old = len(records(redis))
    wait_until(lambda: start_of(redis) >= n_old, timeout=60, what="a gateway's housekeeping to archive")
    for g in two:
        g.stop()
    assert "archived" not in plain.logs()
    assert any('"archived"' in g.logs() for g in two)
    ranges = [(int(p.name.split("-")[1]), int(p.name.split("-")[2])) for p in segments(archive)]
    assert ranges[0][0] == 1 and all(b[0] == a[1] + 1 for a, b in zip(ranges, ranges[1:])), ranges
    rc, out, err = run(two[0].config, "verify")
    assert rc == 0, out + err


def test_archiving_needs_the_path_and_check_warns_without_it(setup, redis, logdir):
    tg, archiver, archive = setup
    rc, out, err = run(tg.config, "archive")
    assert rc == 2 and "audit.archive is not set: this process does not archive" in err
    p = subprocess.run([str(harness.TOLLGATE), "check", "-c", str(tg.config)], capture_output=True, env=cli_env())
    text = p.stdout.decode() + p.stderr.decode()
    assert p.returncode == 0 and "audit.retention is set but audit.archive is not" in text, text
    p = subprocess.run([str(harness.TOLLGATE), "check", "-c", str(archiver)], capture_output=True, env=cli_env())
    assert p.returncode == 0 and "audit.retention" not in p.stdout.decode() + p.stderr.decode()
    rc, out, err = run(tg.config, "export", "--from-archive")
    assert rc == 2 and "--from-archive needs audit.archive" in err


@pytest.mark.parametrize("hold", ["TOLLGATE_ARCHIVE_HOLD", "TOLLGATE_ARCHIVE_HOLD_SEALED"])
def test_a_pass_that_outlives_its_lease_leaves_no_overlap(setup, redis, logdir, hold):
    """Issue 15 attack 2: a pass held (a hung NFS write) past its lease while another archiver
    archives an overlapping range. Held before naming its segment, it never names it; held
    after, its re-read says what happened and it removes its own segment. verify stays ok."""
    tg, archiver, archive = setup
    deliver(tg, redis, "old", 9)
    newest = max(ms(r) for r in records(redis))
    wait_until(lambda: time.time() * 1000 > newest + RETENTION_S * 1000, timeout=30, what="the retention")
    before = records(redis)
    go = logdir / "go"
    stale = subprocess.Popen([str(harness.TOLLGATE), "audit", "archive", "-c", str(archiver)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=dict(cli_env(), **{hold: str(go)}))
    sealed = hold.endswith("SEALED")
    try:
        wait_until(lambda: any(p.name.startswith("audit-" if sealed else ".tmp-") for p in archive.iterdir()),
                   timeout=60, what="the held pass to write its segment")
        mine = segments(archive)
        redis.cmd("DEL", "tg:audit:archive:lease")  # its lease expired
        # held after naming: its name landed only after the other pass sealed its own (the
        # race between the check and the link); hidden meanwhile, else the other adopts it
        hidden = [p.rename(p.with_name("hidden-" + p.name)) for p in mine]
        rc, out, err = run(archiver, "archive", "--batch", "4")
        assert rc == 0 and out.startswith("archived %d records" % (len(before) - 1)), out + err
        theirs = segments(archive)
        for p, h in zip(mine, hidden):
            h.rename(p)
        go.touch()
        rc = stale.wait(timeout=120)
        out, err = stale.stdout.read().decode(), stale.stderr.read().decode()
    finally:
        go.touch()
        stale.wait(timeout=120)
    if sealed:
        assert rc == 2, out + err
        assert ("another pass archived seq 1 to %d meanwhile (Redis now starts at seq %d): removed this pass's "
                "segment %s" % (len(before) - 1, len(before), mine[0].name)) in err, err
    else:
        assert rc == 0 and out.startswith("archived 0 records"), out + err
    assert segments(archive) == theirs and not [p for p in archive.iterdir() if p.name.startswith(".tmp-")]
    rc, out, err = run(archiver, "verify")
    assert rc == 0, out + err
    rc, out, err = run(archiver, "export", "--from-archive")
    assert rc == 0 and [json.loads(l) for l in out.splitlines()] == before, err


def test_an_archiver_refuses_a_directory_that_does_not_end_at_redis_start(setup, redis, gitlab, tollgate, logdir):
    """Issue 15 attack 3: a gateway whose audit.archive is another (empty) directory than the
    one holding the chain refuses to archive there, logs archive_failed naming the seq the
    directory must end at, and counts it; the CLI archiver exits 2 the same way."""
    tg, archiver, archive = setup
    archive_old(tg, redis, archiver, n_old=6, n_new=2)
    start = start_of(redis)
    assert start > 1
    other = logdir / "other-archive"
    other.mkdir()
    deliver(tg, redis, "more", 3)
    newest = max(ms(r) for r in records(redis))
    wait_until(lambda: time.time() * 1000 > newest + RETENTION_S * 1000, timeout=30, what="the retention")
    split = tollgate(workers=1, env=audit_env(), extra=extra_with(gitlab.url, logdir / "s.jsonl", other))
    wait_until(lambda: split.metric("tollgate_audit_archive_failures_total") >= 1, timeout=60,
               what="the refused archive pass counted")
    want = "it must end at seq %d" % (start - 1)
    assert "archive_failed" in split.logs() and want in split.logs()
    assert list(other.iterdir()) == [] and start_of(redis) == start
    bad = logdir / "bad.yaml"
    bad.write_text(archiver.read_text().replace(str(archive), str(other)))
    rc, out, err = run(bad, "archive")
    assert rc == 2 and ("the archive %s ends at seq 0, but Redis starts at seq %d: %s" % (other, start, want)) in err, err
    assert list(other.iterdir()) == [] and start_of(redis) == start
    # the right directory still archives
    rc, out, err = run(archiver, "archive")
    assert rc == 0 and start_of(redis) > start, out + err
    assert run(archiver, "verify")[0] == 0


def test_an_archived_anchor_is_compared_at_the_start_or_refused(setup, redis):
    """Issue 15 attack 4: verify --head SEQ:HASH (CLI without the archive, and HTTP) with SEQ
    archived compared nothing and said ok. SEQ = start - 1 is compared with the start's prev;
    an older SEQ cannot be checked from Redis and is refused with the reason."""
    tg, archiver, archive = setup
    before, _, _ = archive_old(tg, redis, archiver, n_old=8, n_new=2)
    start = start_of(redis)
    assert start > 2
    at = {r["seq"]: r["hash"] for r in before}
    wrong = "0" * 64
    # seq start - 1: compared with the hash Redis's start chains on
    rc, out, err = cli(tg, "audit", "verify", "--head", "%d:%s" % (start - 1, at[start - 1]))
    assert rc == 0 and out.startswith("ok "), out + err
    rc, out, err = cli(tg, "audit", "verify", "--head", "%d:%s" % (start - 1, wrong))
    assert rc == 1 and out.startswith("broken at seq %d: head mismatch: the anchored hash 0000000000000000..." % (start - 1)), out
    status, body = Api(tg).get("/api/v1/audit/verify", head="%d:%s" % (start - 1, wrong))
    assert status == 200 and body["ok"] is False and body["broken"]["reason"] == "head mismatch", body
    status, body = Api(tg).get("/api/v1/audit/verify", head="%d:%s" % (start - 1, at[start - 1]))
    assert status == 200 and body["ok"] is True and "anchor" not in body, body
    # an older seq: no verdict from Redis
    reason = "seq 1 is archived (Redis starts at seq %d): the anchor cannot be checked from Redis" % start
    rc, out, err = cli(tg, "audit", "verify", "--head", "1:%s" % wrong)
    assert rc == 2 and reason in err, out + err
    status, body = Api(tg).get("/api/v1/audit/verify", head="1:%s" % wrong)
    assert status == 409 and reason in json.dumps(body), body
    # with the archive the anchor is compared in the segments
    rc, out, _ = run(archiver, "verify", "--head", "1:%s" % wrong)
    assert rc == 1 and "head mismatch" in out, out
    # the incremental checkpoint fallen behind the start: compared at start - 1, else reported
    redis.cmd("HSET", "tg:audit:verified", "seq", start - 1, "hash", wrong)
    status, body = Api(tg).get("/api/v1/audit/verify")
    assert status == 200 and body["ok"] is False and body["broken"]["reason"] == "head mismatch", body
    redis.cmd("HSET", "tg:audit:verified", "seq", 1, "hash", wrong)
    status, body = Api(tg).get("/api/v1/audit/verify")
    assert status == 200 and body["anchor"] == {"checked": False, "reason": reason + "; verify with audit.archive"}, body


def test_check_batch_from_and_crashed_tmp_files(setup, redis, logdir):
    """Issue 15 attack 6: check warns of an archive path that is not a directory; --batch out
    of range names the range; verify --from says it started in Redis; a crashed pass's tmp
    file older than the lease is removed by the next pass, a younger one is not."""
    tg, archiver, archive = setup

    def check(config):
        p = subprocess.run([str(harness.TOLLGATE), "check", "-c", str(config)], capture_output=True, env=cli_env())
        return p.returncode, p.stdout.decode() + p.stderr.decode()

    gone = logdir / "gone.yaml"
    gone.write_text(archiver.read_text().replace(str(archive), str(logdir / "not-mounted")))
    rc, text = check(gone)
    assert rc == 0 and "audit.archive %s cannot be read: nothing can be archived" % (logdir / "not-mounted") in text, text
    (logdir / "a-file").write_text("x")
    gone.write_text(archiver.read_text().replace(str(archive), str(logdir / "a-file")))
    rc, text = check(gone)
    assert "audit.archive %s is not a directory" % (logdir / "a-file") in text, text
    rc, text = check(archiver)
    assert rc == 0 and "audit.archive" not in text, text
    for bad in ("0", "100001", "x"):
        rc, out, err = run(archiver, "archive", "--batch", bad)
        assert rc == 2 and "--batch must be a number from 1 to 100000" in err, err
    crashed, live = archive / ".tmp-host.1.1", archive / ".tmp-host.2.2"
    crashed.write_text("half a segment")
    live.write_text("a live pass's segment")
    os.utime(crashed, (time.time() - 3600, time.time() - 3600))
    archive_old(tg, redis, archiver, n_old=4, n_new=2)
    assert not crashed.exists() and live.exists()
    start = start_of(redis)
    rc, out, err = run(archiver, "verify", "--from", "2")
    assert rc == 0 and "checked Redis from seq %d (--from skips the archive %s)" % (start, archive) in out, out + err
