"""contrib/: the Helm chart rendered and its configuration checked by `tollgate check`, the
systemd unit verified by systemd-analyze, and the container image run against a real Redis.

Each part needs a tool that a machine may lack (Helm from npm, systemd-analyze, a podman that
can run containers); without it the test is skipped with the reason, never passed unseen.
"""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import threading
import uuid

import pytest
import yaml

import harness
from harness import gitlab_headers, wait_until

ROOT = harness.ROOT
CHART = ROOT / "contrib" / "helm" / "tollgate"
HELM = ROOT / "build" / "tools" / "helm"
DOCKERFILE = ROOT / "contrib" / "docker" / "Dockerfile"
UNIT = ROOT / "contrib" / "systemd" / "tollgate.service"
IMAGE = os.environ.get("TG_IMAGE", "tollgate:dev")
# What the Secret named by existingSecret holds (values.yaml lists the same names).
SECRET_ENV = {"GITLAB_WEBHOOK_TOKEN": "whk-test", "GITLAB_API_TOKEN": "glpat-test",
              "TRIGGER_TOKEN": "glptt-test", "TOLLGATE_ADMIN_TOKEN": "admin-test"}


# ---- Helm: lint, render, lay the mounts out as the pod sees them, tollgate check ----

@pytest.fixture(scope="module")
def helm():
    if not HELM.exists():
        why = ROOT / "build" / "tools" / "helm.missing"
        pytest.skip("helm is not in build/tools: %s" % (
            why.read_text().strip() if why.exists() else "run make deps (scripts/tools.sh fetches it)"))
    return str(HELM)


def policy_text(version="1"):
    return (ROOT / "policies" / "default.yaml").read_text().replace("version: 1 ", "version: %s " % version, 1)


# Every option the README's Kubernetes section documents, alone and together.
VALUES = {
    "defaults": {},
    "redis": {"redisUrl": "redis://redis-master.redis:6379/0"},
    "sentinel": {"redisUrl": "redis-sentinel://redis-sentinel:26379/mymaster/0"},
    "ingress": {"ingress": {"enabled": True, "className": "nginx", "host": "tollgate.example.org",
                            "tls": [{"secretName": "tollgate-tls", "hosts": ["tollgate.example.org"]}]}},
    "secret": {"existingSecret": "platform-tollgate-tokens"},
    "archive": {"audit": {"failClosed": False, "retention": "400d", "archive": "/var/lib/tollgate/audit-archive",
                          "archiveClaim": "tollgate-audit-archive"}},
    "custom": {"policies": {"production.yaml": policy_text()},
               "templates": {"helm-chart.yaml": (ROOT / "templates" / "helm-chart.yaml").read_text(),
                             "chat-slack.yaml": (ROOT / "templates" / "chat-slack.yaml").read_text()}},
}
VALUES["everything"] = {k: v for case in VALUES.values() for k, v in case.items()}


def render(helm, tmp_path, values, release="gate"):
    """helm lint --strict and helm template with a values file; [(source, object)]."""
    vf = tmp_path / "values.yaml"
    vf.write_text(yaml.safe_dump(values))
    lint = subprocess.run([helm, "lint", "--strict", str(CHART), "-f", str(vf)], capture_output=True, text=True)
    assert lint.returncode == 0 and "0 chart(s) failed" in lint.stdout, lint.stdout + lint.stderr
    out = subprocess.run([helm, "template", release, str(CHART), "-f", str(vf)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    objects = []
    for chunk in out.stdout.split("\n---\n"):
        m = re.search(r"^# Source: (\S+)$", chunk, re.M)
        obj = yaml.safe_load(chunk)
        if obj:
            objects.append((m.group(1) if m else None, obj))
    return objects


def one(objects, kind):
    found = [o for _, o in objects if o["kind"] == kind]
    assert len(found) == 1, "%d %s objects" % (len(found), kind)
    return found[0]


def lay_out_pod(objects, root):
    """Writes the files the container sees under root: the image's own (the Dockerfile's
    COPY lines) and each ConfigMap at its volumeMount. Returns the config path in root and
    the container."""
    for line in DOCKERFILE.read_text().splitlines():
        m = re.match(r"COPY (?!--)(\S+) (/\S+)$", line)
        if m and (ROOT / m.group(1)).is_dir():
            shutil.copytree(ROOT / m.group(1), root / m.group(2).lstrip("/"))
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    maps = {o["metadata"]["name"]: o.get("data") or {} for _, o in objects if o["kind"] == "ConfigMap"}
    volumes = {v["name"]: v["configMap"]["name"] for v in pod["volumes"] if "configMap" in v}
    for mount in container["volumeMounts"]:
        d = root / mount["mountPath"].lstrip("/")
        d.mkdir(parents=True, exist_ok=True)  # a claim's mount: the empty directory it starts as
        for name, text in maps.get(volumes.get(mount["name"]), {}).items():
            (d / name).write_text(text)
    args = container["args"]
    assert args[:2] == ["serve", "-c"], args
    return root / args[2].lstrip("/"), container


def check_rendered(objects, tmp_path):
    """tollgate check on the rendered configuration, its paths moved under a temporary root,
    with only the Secret's variables in the environment."""
    root = tmp_path / "pod"
    config, container = lay_out_pod(objects, root)
    text = config.read_text()
    assert "/etc/tollgate/" in text
    text = text.replace("/etc/tollgate/", str(root) + "/etc/tollgate/")
    config.write_text(text.replace("/var/lib/tollgate/", str(root) + "/var/lib/tollgate/"))
    p = subprocess.run([str(harness.TOLLGATE), "check", "-c", str(config)], capture_output=True,
                       text=True, env=SECRET_ENV)
    return p, config, container


@pytest.mark.parametrize("case", sorted(VALUES))
def test_chart_renders_a_config_tollgate_accepts(helm, tmp_path, case):
    values = VALUES[case]
    objects = render(helm, tmp_path, values)
    p, config, container = check_rendered(objects, tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().endswith("tollgate.yaml: ok (0 warnings)"), p.stdout + p.stderr
    rendered = yaml.safe_load(config.read_text())
    assert rendered["redis"]["url"] == values.get("redisUrl", yaml.safe_load((CHART / "values.yaml").read_text())["redisUrl"])
    assert container["envFrom"] == [{"secretRef": {"name": values.get("existingSecret", "tollgate-secrets")}}]
    kinds = sorted(o["kind"] for _, o in objects)
    want = ["ConfigMap", "Deployment", "PodDisruptionBudget", "Service"]
    want += ["ConfigMap"] * (("policies" in values) + ("templates" in values))
    want += ["Ingress"] if values.get("ingress", {}).get("enabled") else []
    assert kinds == sorted(want)
    if "archive" in values.get("audit", {}):
        assert rendered["audit"]["retention"] == "400d"
        assert rendered["audit"]["archive"].endswith("/var/lib/tollgate/audit-archive")
        pod = one(objects, "Deployment")["spec"]["template"]["spec"]
        assert {"name": "audit-archive", "mountPath": "/var/lib/tollgate/audit-archive"} in container["volumeMounts"]
        assert {"name": "audit-archive", "persistentVolumeClaim": {"claimName": "tollgate-audit-archive"}} in pod["volumes"]
    else:
        assert "retention" not in rendered["audit"] and "archive" not in rendered["audit"]
    if "policies" in values:
        assert rendered["policies"].endswith("/etc/tollgate/policies.d")
        assert (config.parent.parent / "policies.d" / "production.yaml").exists()


def test_each_object_has_its_own_template_file(helm, tmp_path):
    objects = render(helm, tmp_path, VALUES["everything"])
    sources = [s for s, _ in objects]
    assert None not in sources and len(sources) == len(set(sources)), sources
    ingress = one(objects, "Ingress")
    assert ingress["spec"]["tls"][0]["secretName"] == "tollgate-tls"
    assert ingress["spec"]["rules"][0]["host"] == "tollgate.example.org"


def test_a_policy_change_rolls_the_pods(helm, tmp_path):
    """The pod template carries a digest of each ConfigMap, so an edited policy restarts."""
    def annotations(values, sub):
        (tmp_path / sub).mkdir()
        dep = one(render(helm, tmp_path / sub, values), "Deployment")
        return dep["spec"]["template"]["metadata"]["annotations"]
    a = annotations(VALUES["custom"], "a")
    b = annotations(dict(VALUES["custom"], policies={"production.yaml": policy_text() + "\n# edited\n"}), "b")
    assert a["checksum/policies"] != b["checksum/policies"]
    assert a["checksum/config"] == b["checksum/config"]


def test_a_refused_policy_fails_the_check(helm, tmp_path):
    """The check on the rendered files is the gate: a policy Tollgate refuses is named."""
    objects = render(helm, tmp_path, {"policies": {"production.yaml": policy_text(version="7")}})
    p, _, _ = check_rendered(objects, tmp_path)
    assert p.returncode == 2, p.stderr
    assert "policies.d/production.yaml:" in p.stderr and "error" in p.stderr, p.stderr


def test_a_missing_secret_name_is_refused_at_render(helm, tmp_path):
    vf = tmp_path / "values.yaml"
    vf.write_text("existingSecret: ''\n")
    out = subprocess.run([helm, "template", "gate", str(CHART), "-f", str(vf)], capture_output=True, text=True)
    assert out.returncode != 0 and "existingSecret: name the Secret" in out.stderr, out.stderr


def test_an_archive_without_its_claim_is_refused_at_render(helm, tmp_path):
    """The root filesystem is read-only and every replica must share the directory: an
    archive path without the ReadWriteMany claim mounted there is refused, named."""
    vf = tmp_path / "values.yaml"
    vf.write_text("audit: {retention: 400d, archive: /var/lib/tollgate/audit-archive}\n")
    out = subprocess.run([helm, "template", "gate", str(CHART), "-f", str(vf)], capture_output=True, text=True)
    assert out.returncode != 0 and "audit.archive needs audit.archiveClaim" in out.stderr, out.stderr


# ---- systemd: the unit as systemd itself reads it ----

def test_systemd_unit_verifies(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        pytest.skip("systemd-analyze is not installed (the systemd package; make deps installs it)")
    # The unit names /usr/local/bin/tollgate; verify checks that the command exists, so the
    # copy points at the binary under test instead.
    unit = tmp_path / "tollgate.service"
    text = UNIT.read_text()
    assert text.count("/usr/local/bin/tollgate") == 3
    unit.write_text(text.replace("/usr/local/bin/tollgate", str(harness.TOLLGATE)))
    p = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                       env=dict(os.environ, SYSTEMD_LOG_LEVEL="notice"))
    about_unit = [l for l in (p.stdout + p.stderr).splitlines() if "tollgate" in l]
    assert p.returncode == 0 and not about_unit, p.stdout + p.stderr
    # systemd's own rating of the sandbox (0 = locked down, 10 = exposed; the unit without
    # its hardening rates 8.5).
    p = subprocess.run([analyze, "security", "--offline=yes", str(unit)], capture_output=True, text=True)
    m = re.search(r"Overall exposure level for tollgate.service: ([0-9.]+)", p.stdout + p.stderr)
    assert m and float(m.group(1)) <= 4.0, p.stdout[-500:] + p.stderr


def test_systemd_unit_keeps_its_hardening():
    service = {}
    section = None
    for line in UNIT.read_text().splitlines():
        if line.startswith("["):
            section = line.strip("[]")
        elif "=" in line and not line.startswith("#") and section == "Service":
            k, v = line.split("=", 1)
            service.setdefault(k, []).append(v)
    for key, value in (("NoNewPrivileges", "true"), ("ProtectSystem", "strict"), ("ProtectHome", "true"),
                       ("PrivateTmp", "true"), ("PrivateDevices", "true"), ("ProtectKernelTunables", "true"),
                       ("ProtectKernelModules", "true"), ("ProtectControlGroups", "true"),
                       ("RestrictNamespaces", "true"), ("LockPersonality", "true"),
                       ("RestrictSUIDSGID", "true"), ("User", "tollgate")):
        assert service.get(key) == [value], key
    assert service["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]


# ---- the container image, run against a real Redis on the host network ----

@pytest.fixture(scope="module")
def podman_opts():
    probe = subprocess.run([str(ROOT / "scripts" / "image.sh"), "probe"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("container image test: %s" % probe.stdout.strip())
    log = harness.ROOT / "tests" / "log" / "image-build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as f:
        # Builds only when the image is absent or was built from other sources.
        built = subprocess.run([str(ROOT / "scripts" / "image.sh"), "ensure"], stdout=f, stderr=subprocess.STDOUT,
                               timeout=1800)
    assert built.returncode == 0, "make image failed: %s" % log.read_text()[-3000:]
    return probe.stdout.split()


class Container:
    def __init__(self, opts, logdir, redis_url):
        self.port = harness.free_port()
        self.name = "tollgate-test-%s" % uuid.uuid4().hex[:8]
        self.url = "http://127.0.0.1:%d" % self.port
        config = logdir / "tollgate.yaml"
        config.write_text(harness.BASE_CONFIG % dict(
            port=self.port, tls="", redis_url=redis_url, extra="", workers=0, extra_webhook="",
            policies="/etc/tollgate/policies", templates="/etc/tollgate/templates"))
        config.chmod(0o644)
        self.args = ["run", "-d", "--name", self.name, "--network", "host"] + opts + [
            "-v", "%s:/etc/tollgate/tollgate.yaml:ro" % config,
            "-e", "TG_TEST_WEBHOOK_TOKEN=" + harness.WEBHOOK_TOKEN, "-e", "TRIGGER_TOKEN=glptt-image-test", IMAGE]

    def start(self):
        p = self.podman(*self.args)
        assert p.returncode == 0, p.stderr
        return self

    def podman(self, *args):
        return subprocess.run(["podman"] + list(args), capture_output=True, text=True, timeout=60)

    def logs(self):
        p = self.podman("logs", self.name)
        return p.stdout + p.stderr

    def status(self, path):
        return harness.curl(self.url + path, method="GET").status

    def metric(self, name):
        body = harness.curl(self.url + "/metrics", method="GET").body.decode()
        return sum(float(l.rsplit(" ", 1)[1]) for l in body.splitlines() if l.startswith(name + " "))

    def remove(self):
        self.podman("rm", "-f", "-t", "0", self.name)


@pytest.fixture
def container(podman_opts, logdir, redis):
    made = []

    def make():
        made.append(Container(podman_opts, logdir, redis.url))
        return made[-1].start()
    yield make
    for c in made:
        (logdir / ("%s.log" % c.name)).write_text(c.logs())
        c.remove()


def post(url, body, results):
    r = harness.curl(url + "/hooks/gitlab", headers=gitlab_headers(), body=body)
    results.append(r.status)


def test_image_serves_as_unprivileged_user_and_drains_on_sigterm(container, redis):
    c = container()
    wait_until(lambda: c.status("/readyz") == 200 or "Exited" in c.podman("ps", "-a", "--filter",
               "name=" + c.name, "--format", "{{.Status}}").stdout, timeout=30, what="the container's /readyz")
    assert c.status("/readyz") == 200, c.logs()
    body = harness.fixture_bytes("gitlab/webhooks/pipeline_event.json")
    r = harness.curl(c.url + "/hooks/gitlab", headers=gitlab_headers(), body=body)
    assert r.status == 202, r.body
    entries = redis.stream("tg:events")
    assert len(entries) == 1 and entries[0][1]["body"] == body

    pid = c.podman("inspect", "-f", "{{.State.Pid}}", c.name).stdout.strip()
    status = pathlib.Path("/proc/%s/status" % pid).read_text()
    uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
    assert "tollgate" in pathlib.Path("/proc/%s/cmdline" % pid).read_text()
    assert uids == ["10001"] * 4, status

    # SIGTERM with deliveries waiting on Redis: each gets its real answer, then exit 0.
    redis.pause()
    try:
        results = []
        threads = [threading.Thread(target=post, args=(c.url, b'{"n": %d}' % i, results)) for i in range(4)]
        for t in threads:
            t.start()
        wait_until(lambda: c.metric("tollgate_http_requests_in_flight") == 4, what="4 requests in flight")
        assert c.podman("kill", "-s", "TERM", c.name).returncode == 0
        wait_until(lambda: '"stopping"' in c.logs(), what="the stop to begin")
    finally:
        redis.resume()
    for t in threads:
        t.join()
    assert results == [202] * 4
    waited = c.podman("wait", c.name)
    assert waited.stdout.strip() == "0", c.logs()
    assert redis.cmd("XLEN", "tg:events") == 5
    assert '"stopped"' in c.logs()
