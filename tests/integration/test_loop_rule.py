"""The build rule that event-loop code never blocks (scripts/style.sh loop): the real tree
passes, and a loop-side file that includes a blocking helper, directly or through a header,
or calls blocking hiredis fails with file:line and the rule."""
import os
import pathlib
import re
import subprocess

ROOT = pathlib.Path(__file__).resolve().parents[2]


def loop_rule(extra_dir=None):
    env = dict(os.environ)
    env.pop("TG_LOOP_DIRS", None)
    if extra_dir is not None:
        env["TG_LOOP_DIRS"] = str(extra_dir)
    return subprocess.run([str(ROOT / "scripts/style.sh"), "loop"], env=env, capture_output=True,
                          text=True, timeout=60)


def test_the_tree_keeps_blocking_helpers_off_the_loop():
    r = loop_rule()
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_loop_file_with_a_blocking_helper_fails_with_file_line_and_rule(tmp_path):
    (tmp_path / "clean.c").write_text('#include "http/redis_loop.h"\n#include <hiredis.h>\n'
                                      "static int f(redisAsyncContext *ac) { return redisAsyncCommand(ac, 0, 0, \"PING\"); }\n")
    (tmp_path / "direct.c").write_text('#include "base/util.h"\n#include "base/redisconn.h"\n')
    (tmp_path / "curl.c").write_text("#include <curl/curl.h>\n")
    (tmp_path / "wrapper.c").write_text('#include "base/httpclient.h"\n')
    (tmp_path / "mid.h").write_text('#include "base/sentinel.h"\n#include "base/redisconn.h"\n')
    (tmp_path / "indirect.c").write_text('\n#include "mid.h"\n')
    (tmp_path / "calls.c").write_text("void f(void)\n{\n    redisCommand(c, \"PING\");\n}\n")
    r = loop_rule(tmp_path)
    assert r.returncode == 1
    lines = sorted(r.stdout.splitlines())
    assert lines == sorted([
        "%s/calls.c:3: runs on the event loop, must not call blocking redisCommand" % tmp_path,
        "%s/curl.c:1: runs on the event loop, must not include curl/curl.h: libcurl blocks "
        "(pool or worker threads only)" % tmp_path,
        "%s/direct.c:2: runs on the event loop, must not include base/redisconn.h: blocking "
        "Redis helpers (use http/redis_loop.h)" % tmp_path,
        "%s/indirect.c:2: runs on the event loop, must not include base/redisconn.h (via "
        "mid.h): blocking Redis helpers (use http/redis_loop.h)" % tmp_path,
        "%s/mid.h:2: runs on the event loop, must not include base/redisconn.h: blocking "
        "Redis helpers (use http/redis_loop.h)" % tmp_path,
        "%s/wrapper.c:1: runs on the event loop, must not include base/httpclient.h: the "
        "libcurl wrapper blocks (pool or worker threads only)" % tmp_path,
    ]), r.stdout


BLOCKING_CALLS = [
    "sleep(1)", "usleep(10)", "nanosleep(&ts, NULL)", "pthread_cond_wait(&cv, &mu)",
    "pthread_cond_timedwait(&cv, &mu, &ts)", "pthread_join(t, NULL)", "fopen(path, \"r\")",
    "fread(buf, 1, n, f)", "fgets(buf, n, f)", "getline(&line, &n, f)", "read(fd, buf, n)",
    "system(cmd)", "popen(cmd, \"r\")", "tg_read_file(path, &len)", "tg_yaml_open(path)",
    "tg_config_load(path, err, n)", "tg_redis_connect(addr)", "tg_redis_eval(c, s)",
    "tg_httpc_get(h, url)", "tg_queue_read(c, q)", "tg_queue_push(c, p)", "tg_queue_ack(c, id)",
    "tg_audit_append(a, c, r, err, n)", "tg_audit_drain_inbox(a, c)",
    # declared in a gateway header with a redisContext: blocking whatever its name
    "tg_deploy_is_current(c, key, 1)", "tg_approval_lookup(c, p, id, k, n)",
]
LOOP_SAFE_CALLS = [
    "redisAsyncCommand(ac, 0, 0, \"PING\")", "tg_redis_loop_command(l, cb, d, 1, a, n)",
    "tg_queue_enqueue_args(&e, prefix, &p)", "tg_audit_healthy()", "tg_redis_script_sha(s)",
    "x->read(x, buf, n)", "on_sock_read(sock, err)", "puts(\"sleep(1) in a string\")",
]


def test_every_blocking_call_fails_on_the_loop_and_loop_safe_ones_pass(tmp_path):
    body = "".join("    %s; /* fopen(x) in a comment */\n" % c
                   for c in BLOCKING_CALLS + LOOP_SAFE_CALLS)
    (tmp_path / "calls.c").write_text("void f(void)\n{\n" + body + "}\n")
    r = loop_rule(tmp_path)
    assert r.returncode == 1
    want = ["%s/calls.c:%d: runs on the event loop, must not call blocking %s"
            % (tmp_path, i + 3, c.split("(")[0]) for i, c in enumerate(BLOCKING_CALLS)]
    assert r.stdout.splitlines() == want, r.stdout


def test_a_function_marked_off_the_loop_may_block(tmp_path):
    (tmp_path / "stop.c").write_text("/* off the loop */\nvoid stop(void)\n{\n"
                                     "    pthread_join(t, NULL);\n}\n\nvoid tick(void)\n{\n"
                                     "    sleep(1);\n}\n")
    r = loop_rule(tmp_path)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        "%s/stop.c:9: runs on the event loop, must not call blocking sleep" % tmp_path], r.stdout


def test_only_functions_marked_loop_are_checked_in_a_marked_file(tmp_path):
    (tmp_path / "marked").mkdir()
    (tmp_path / "marked" / "gates.c").write_text(
        '#include "base/redisconn.h"\n/* loop */\nvoid gate(void)\n{\n'
        "    tg_queue_push(c, p);\n}\n\n"
        "void handle(void)\n{\n    sleep(1);\n}\n")
    r = loop_rule(tmp_path)
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        "%s/marked/gates.c:5: runs on the event loop, must not call blocking tg_queue_push"
        % tmp_path], r.stdout


WHOLE_LOOP_FILES = {"api/api_route.c", "console/pages.c", "console/console_auth.c",
                    "approvals/button_context.c"}


def test_every_route_gate_is_checked_loop_code():
    """A route's gate runs on the loop: its function lives in a loop file or is marked."""
    gw = ROOT / "gateway"
    sources = {str(p.relative_to(gw)): p.read_text() for p in gw.glob("*/*.c")}
    gates = set()
    for text in sources.values():
        gates.update(re.findall(r"TG_ROUTE_\w+,\s*TG_LANE_\w+,\s*(\w+)", text))
    assert {"gate_deployments", "tg_slack_gate", "tg_mattermost_gate", "gate_open",
            "gate_session", "tg_api_gate_bearer"} <= gates
    for gate in gates:
        where = [(f, t.split("\n")) for f, t in sources.items()
                 if re.search(r"^[a-z].*\b%s\(" % gate, t, re.M)]
        assert len(where) == 1, gate
        f, lines = where[0]
        n = next(i for i, l in enumerate(lines) if re.match(r"^[a-z].*\b%s\(" % gate, l))
        assert (f.startswith("http/") or f in WHOLE_LOOP_FILES
                or lines[n - 1] == "/* loop */"), "%s (%s) is not checked loop code" % (gate, f)


def curl_rule(*files):
    return subprocess.run([str(ROOT / "scripts/style.sh"), "curl", *map(str, files)],
                          capture_output=True, text=True, timeout=60)


def test_only_the_wrapper_includes_libcurl_in_the_tree():
    r = curl_rule()
    assert r.returncode == 0, r.stdout + r.stderr
    assert (ROOT / "gateway/base/httpclient.c").read_text().count("#include <curl/curl.h>") == 1


def test_a_libcurl_include_elsewhere_fails_with_file_line_and_rule(tmp_path):
    (tmp_path / "clean.c").write_text('#include "base/httpclient.h"\n')
    (tmp_path / "direct.c").write_text('#include <stdio.h>\n#include <curl/curl.h>\n')
    (tmp_path / "spaced.h").write_text('\n\n  #  include "curl/easy.h"\n')
    r = curl_rule(tmp_path / "clean.c", tmp_path / "direct.c", tmp_path / "spaced.h")
    assert r.returncode == 1
    assert sorted(r.stdout.splitlines()) == sorted([
        "%s/direct.c:2:#include <curl/curl.h>: only gateway/base/httpclient.c includes libcurl "
        "(use base/httpclient.h)" % tmp_path,
        "%s/spaced.h:3:  #  include \"curl/easy.h\": only gateway/base/httpclient.c includes "
        "libcurl (use base/httpclient.h)" % tmp_path,
    ]), r.stdout
