"""Shared pytest fixtures: paths to the binary and fixtures, and the real processes
(redis-server, tollgate, the stand-in GitLab) that integration tests drive.

Everything listens on a free port chosen at run time; logs of each test are kept under
tests/log/<test name>/ so a failure can be read afterwards.
"""
import os
import pathlib
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOLLGATE = ROOT / "build" / "tollgate"
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = ROOT.parent / "shared"
LOGS = ROOT / "tests" / "log"


@pytest.fixture(scope="session")
def tollgate_bin():
    assert TOLLGATE.exists(), "build/tollgate is missing: run make first"
    return str(TOLLGATE)


@pytest.fixture
def logdir(request):
    d = LOGS / request.node.name.replace("/", "_")[:120]
    d.mkdir(parents=True, exist_ok=True)
    return d
