"""Shared pytest fixtures: paths to the binary and fixtures, and the real processes
(redis-server, tollgate, the stand-in GitLab) that integration tests drive.

Everything listens on a free port chosen at run time; logs of each test are kept under
tests/log/<test name>/ so a failure can be read afterwards.
"""
import os
import shutil
import pathlib
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOLLGATE = pathlib.Path(os.environ.get("TG_BINARY") or ROOT / "build" / "tollgate")
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = ROOT.parent / "shared"  # a sibling checkout with optional test oracles; not needed
LOGS = ROOT / "tests" / "log"


@pytest.fixture(scope="session")
def tollgate_bin():
    assert TOLLGATE.exists(), "build/tollgate is missing: run make first"
    return str(TOLLGATE)


@pytest.fixture
def logdir(request):
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in request.node.name)
    d = LOGS / name[:120]
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True, exist_ok=True)
    return d

from harness import Redis, Tollgate  # noqa: E402


@pytest.fixture
def redis(logdir):
    r = Redis(logdir / "redis").start()
    yield r
    r.stop()


@pytest.fixture
def tollgate(logdir, redis):
    """A factory: tollgate(extra=..., env=..., tls=...) starts one; all are stopped at the end."""
    started = []

    def make(wait_ready=True, **kw):
        kw.setdefault("redis_url", redis.url)
        t = Tollgate(logdir / ("tollgate%d" % len(started)), **kw)
        started.append(t)
        return t.start(wait_ready=wait_ready)

    yield make
    for t in started:
        t.stop()
