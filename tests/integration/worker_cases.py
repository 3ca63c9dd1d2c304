"""The worker side of the data-driven cases (tests/cases/FORMAT.md, "Worker scenarios"):
pipelines played by the lifecycle simulator, their hooks delivered to one or more real
gateway processes with workers, Tollgate's commit statuses fed back into the simulator (the
echoes GitLab sends), and the triggers, commit statuses and audit actions checked."""
import hashlib
import json
import re
import shutil
import subprocess
import sys
import threading
import time

import harness
import pipelines
from case_match import check, check_list
from harness import wait_until
from pipeline_sim import Sim

sys.path.insert(0, str(harness.ROOT / "tests" / "standins"))
from chat import Chat, MattermostClient, SlackClient  # noqa: E402
from gitlab import GitLab  # noqa: E402

MAX_ECHO_ROUNDS = 6


class Worker:
    def __init__(self, spec, logdir, redis, saved=None):
        self.spec = spec or {}
        self.logdir, self.redis = logdir, redis
        self.saved = {} if saved is None else saved
        self.sim = Sim(job_hooks=bool(self.spec.get("job_hooks")))
        self.sent = 0          # hooks of sim.hooks already delivered
        self.fed = 0           # commit statuses already fed back into the simulator
        self.deliveries = 0
        self.gitlab = GitLab(pipelines.API_TOKEN, pipelines.TRIGGER_TOKEN).start()
        self.chat = Chat().start() if self.spec.get("chat") else None
        self.gateways = []

    def chat_spec(self):
        return self.spec["chat"] if isinstance(self.spec.get("chat"), dict) else {}

    def slack_secret(self):
        return self.chat_spec().get("slack_secret", "8f742231b10e8888abcd99yyyzzz85a5")  # Slack's documented example

    def mattermost_token(self):
        return self.chat_spec().get("mattermost_token", "mm-slash-token-7d1f")

    def start(self):
        sets = pipelines.write_sets(self.logdir, policy=self.spec.get("policy", pipelines.POLICY),
                                    template=self.spec.get("template", pipelines.TEMPLATE))
        if self.chat:  # the shipped chat message templates
            for name in ("chat-slack.yaml", "chat-mattermost.yaml"):
                shutil.copy(harness.ROOT / "templates" / name, sets["templates"] / name)
        extra = pipelines.config_extra(self.gitlab.url, self.spec.get("extra", ""), self.spec.get("settle", "1s"))
        for i in range(int(self.spec.get("processes", 1))):
            env = dict(pipelines.env(), **(self.spec.get("env") or {}))
            if self.chat:
                env.update(TG_CHAT_SLACK_WEBHOOK=self.chat.slack_webhook_url, TOLLGATE_SLACK_API_URL=self.chat.slack_api_url,
                           TG_CHAT_MM_WEBHOOK=self.chat.mattermost_webhook_url, TG_CHAT_SLACK_SECRET=self.slack_secret(),
                           TG_CHAT_MM_TOKEN=self.mattermost_token())
            t = harness.Tollgate(self.logdir / ("tollgate%d" % i), self.redis.url, extra=extra, env=env,
                                 workers=int(self.spec.get("workers", 2)), **sets)
            self.gateways.append(t.start())

    def close(self):
        for t in self.gateways:
            t.stop()
        self.gitlab.stop()
        if self.chat:
            self.chat.stop()

    # ---- steps ----

    def step_pipeline(self, spec):
        spec = dict(spec)
        self.sim.pipeline(spec.pop("name"), id=spec.pop("id"), project_id=spec.pop("project_id"),
                          path=spec.pop("path"), ref=spec.pop("ref"), jobs=spec.pop("jobs"), **spec)

    def step_jobs(self, spec):
        """{pipeline: jobs: {name: status, ...}} in order; `retry: [names]` first, `cancel: true`."""
        p = self.sim.pipelines[spec["pipeline"]]
        for job in spec.get("retry", []):
            p.retry(job)
        for job, status in (spec.get("set") or {}).items():
            p.set_job(job, status)
        if spec.get("cancel"):
            p.cancel()

    def step_resend(self, spec):
        """GitLab sends the pipeline's current hook once more (a second delivery, same builds)."""
        self.sim.hooks.append(self.sim.pipelines[spec["pipeline"]].payload())

    def step_approve(self, spec):
        """An approval through the REST API: {deployment: "<project>:<pipeline>:<env>", token}."""
        key = "tg:deploy:" + spec["deployment"]
        did = hashlib.sha256(key.encode()).hexdigest()[:12]
        wait_until(lambda: self.redis.cmd("HGET", key, "approval_id") == did.encode(), what="the approval id")
        r = harness.curl(self.gateways[0].url + "/api/v1/deployments/%s/approve" % did,
                         headers={"Authorization": "Bearer " + spec["token"], "Content-Type": "application/json"},
                         body=b"{}")
        want = int(spec.get("status", 200))
        assert r.status == want, (r.status, r.body)
        if want == 200:
            assert r.json()["outcome"] == spec.get("outcome", "quorum"), r.body
        for text in spec.get("body_contains", []):
            assert text in r.body.decode(), r.body

    def step_slack(self, spec, where):
        """What Slack sends: {user, text} a slash command, or {user, click: action, value} a
        button; signed with the chat's slack_secret unless `secret` says another."""
        spec = self.expand(spec)
        client = SlackClient(self.gateways[0].url, spec.get("secret", self.slack_secret()), self.chat)
        if "click" in spec:
            status, body = client.click(spec["user"], spec["click"], spec["value"])
        else:
            status, body = client.slash(spec["user"], spec["text"])
        self.check_answer(status, body, spec, "%s: slack %s" % (where, spec.get("text", spec.get("click"))))

    def step_mattermost(self, spec, where):
        """What Mattermost sends: {user_id, user_name, text, token} a slash command."""
        spec = self.expand(spec)
        status, body = MattermostClient(self.gateways[0].url, self.mattermost_token()).slash(
            spec["user_id"], spec.get("user_name", "someone"), spec["text"], token=spec.get("token"))
        self.check_answer(status, body, spec, "%s: mattermost %s" % (where, spec["text"]))

    def step_cli(self, spec, where):
        """A tollgate subcommand against process 0's config and environment: {args, rc,
        stdout_contains, stderr_contains}; `$name` arguments are saved values."""
        args = [str(self.saved[a[1:]]) if isinstance(a, str) and a.startswith("$") and a[1:] in self.saved
                else str(a) for a in self.expand(spec["args"])]
        tg = self.gateways[0]
        p = subprocess.run([str(harness.TOLLGATE), args[0], "-c", str(tg.config)] + args[1:], capture_output=True,
                           text=True, env=tg.env, timeout=60)
        where = "%s: tollgate %s" % (where, " ".join(args))
        assert p.returncode == spec.get("rc", 0), "%s: exit %d: %s%s" % (where, p.returncode, p.stdout, p.stderr)
        for t in self.expand(spec.get("stdout_contains", [])):
            assert (self.saved.get(t[1:], t) if t.startswith("$") else t) in p.stdout, "%s: stdout %r" % (where, p.stdout)
        for t in spec.get("stderr_contains", []):
            assert t in p.stderr, "%s: stderr %r" % (where, p.stderr)

    def step_gitlab_pipeline(self, spec):
        """What GitLab's bridges and jobs lists say for a pipeline: {project, pipeline, bridges, jobs}."""
        self.gitlab.add_pipeline(spec["project"], spec["pipeline"], bridges=spec.get("bridges", []),
                                 jobs=spec.get("jobs", []))

    def check_answer(self, status, body, spec, where):
        assert status == spec.get("status", 200), "%s: status %s, want %s: %r" % (where, status, spec.get("status", 200), body)
        if "json" in spec:
            check(body, spec["json"], where, self.saved)

    def step_status(self, spec):
        """Another tool's commit status with pipeline_id: {pipeline, name, state}."""
        self.sim.pipelines[spec["pipeline"]].post_status(spec["name"], spec["state"])

    def step_artifact(self, spec):
        data = harness.fixture_bytes(spec["fixture"])
        job = spec["job"] if isinstance(spec["job"], int) else self.sim.job(spec["job"])
        self.gitlab.add_artifact(spec["project"], job, spec.get("path", "trivy-report.json"), data)

    def step_script(self, spec):
        self.gitlab.script(spec["match"], *spec["responses"], where=spec.get("where"))

    def post(self, i, hook, event=None):
        tg = self.gateways[i % len(self.gateways)]
        self.deliveries += 1
        event = event or ("Job Hook" if hook.get("object_kind") == "build" else "Pipeline Hook")
        r = harness.curl(tg.url + "/hooks/gitlab", body=json.dumps(hook).encode(),
                         headers=harness.gitlab_headers(event=event, idem="hook-%d" % self.deliveries))
        assert r.status == 202, r.body

    def step_hook(self, spec):
        """One hook written out (not simulated): pipelines.pipeline_event's arguments, or a
        fixture; `set` overrides dotted fields; sent `repeat` times to process `to` (or all)."""
        spec = dict(spec)
        fixture, event, sets = spec.pop("fixture", None), spec.pop("event", None), spec.pop("set", {})
        repeat, to, save = int(spec.pop("repeat", 1)), spec.pop("to", 0), spec.pop("save_body", None)
        if fixture:
            hook = json.loads(harness.fixture_bytes(fixture))
        else:
            if "builds" in spec:
                spec["builds"] = tuple(tuple(b) for b in spec["builds"])
            hook = pipelines.pipeline_event(**spec)
        for path, value in sets.items():
            *parents, last = path.split(".")
            node = hook
            for k in parents:
                node = node[k]
            node[last] = value
        if save:
            self.saved[save] = json.dumps(hook).encode()
        for _ in range(repeat):
            for i in (range(len(self.gateways)) if to == "all" else [int(to)]):
                self.post(i, hook, event)

    def deployment_id(self, key):
        return hashlib.sha256(("tg:deploy:" + key).encode()).hexdigest()[:12]

    def expand(self, v):
        """{id:<project>:<pipeline>:<env>} is that deployment's id; %API_TOKEN, %TRIGGER_TOKEN."""
        if isinstance(v, dict):
            return {k: self.expand(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.expand(x) for x in v]
        if not isinstance(v, str):
            return v
        v = re.sub(r"\{id:([^}]+)\}", lambda m: self.deployment_id(m.group(1)), v)
        return v.replace("%API_TOKEN", pipelines.API_TOKEN).replace("%TRIGGER_TOKEN", pipelines.TRIGGER_TOKEN)

    def step_api(self, spec, where):
        """A REST call: {method, path, token, body, status, json, body_contains, body_never_contains}."""
        spec = self.expand(spec)
        headers = {"Content-Type": "application/json"}
        if spec.get("token"):
            headers["Authorization"] = "Bearer " + spec["token"]
        body = json.dumps(spec["body"]).encode() if "body" in spec else None
        r = harness.curl(self.gateways[int(spec.get("process", 0))].url + spec["path"],
                         method=spec.get("method", "GET"), headers=headers, body=body)
        where = "%s: %s %s" % (where, spec.get("method", "GET"), spec["path"])
        if "status" in spec:
            assert r.status == spec["status"], "%s: status %s, want %s: %r" % (where, r.status, spec["status"], r.body)
        if "json" in spec:
            check(r.json(), spec["json"], where, self.saved)
        for t in spec.get("body_contains", []):
            assert t in r.body.decode(), "%s: %r does not contain %r" % (where, r.body, t)
        for t in spec.get("body_never_contains", []):
            assert t not in r.body.decode(), "%s: %r contains %r" % (where, r.body, t)

    def deliver_new(self, concurrent, order="sent"):
        for project, pipeline, bridges, jobs in self.sim.gitlab_lists():  # what GitLab's API lists now
            self.gitlab.add_pipeline(project, pipeline, bridges=bridges, jobs=jobs)
        hooks = self.sim.hooks[self.sent:]
        self.sent = len(self.sim.hooks)
        if order == "reverse":
            hooks.reverse()
        if not concurrent:
            for i, h in enumerate(hooks):
                self.post(i, h)
            return len(hooks)
        barrier = threading.Barrier(len(hooks)) if hooks else None

        def send(i, h):
            barrier.wait()
            self.post(i, h)
        threads = [threading.Thread(target=send, args=(i, h)) for i, h in enumerate(hooks)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return len(hooks)

    def drained(self):
        """Every hook posted is received, and every queue entry (also a parent re-queued by its
        child's end) has been read and acknowledged."""
        received = sum(1 for _, f in self.redis.stream("tg:audit") if json.loads(f["record"])["action"] == "received"
                       and not json.loads(f["record"])["details"]["idempotency_key"].startswith("reopen:"))
        if received != self.deliveries or self.redis.cmd("XPENDING", "tg:events", "tg:workers")[0] != 0:
            return False
        last = self.redis.cmd("XREVRANGE", "tg:events", "+", "-", "COUNT", "1")
        group = self.redis.cmd("XINFO", "GROUPS", "tg:events")[0]
        delivered = group[group.index(b"last-delivered-id") + 1]
        return not last or last[0][0] == delivered

    def feed_statuses(self):
        """GitLab's side of a commit status with pipeline_id: an external job of that pipeline."""
        posted = self.gitlab.requests("status")[self.fed:]
        self.fed += len(posted)
        for s in posted:
            p = self.sim.by_id(s["form"].get("pipeline_id", 0))
            if p is not None:
                p.post_status(s["form"]["name"], s["form"]["state"])
        return len(posted)

    def step_deliver(self, spec, where):
        """Sends the hooks not sent yet, waits until every one is handled; with echoes (the
        default) feeds Tollgate's commit statuses back and sends the hooks they cause."""
        spec = spec if isinstance(spec, dict) else {}
        for _ in range(MAX_ECHO_ROUNDS):
            n = self.deliver_new(spec.get("concurrent", False), spec.get("order", "sent"))
            wait_until(self.drained, timeout=20, what="%s: every hook handled" % where)
            if not spec.get("echoes", True) or (self.feed_statuses() == 0 and n == 0):
                return
            if len(self.sim.hooks) == self.sent:
                return
        raise AssertionError("%s: echoes did not settle in %d rounds" % (where, MAX_ECHO_ROUNDS))

    def step_expect(self, spec, where):
        """Polls (bounded) until every expectation holds, then stops; else the last failure."""
        deadline = time.monotonic() + float(spec.get("within", 10))
        spec = self.expand(spec)
        while True:
            try:
                return self.expect_once(spec, where)
            except AssertionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    EXPECTATIONS = {"within", "triggers", "statuses", "requests", "audit", "audit_all", "audit_tail", "audit_count", "records",
                    "rejected", "audit_never_contains", "deployments", "deployment_never_contains", "chat",
                    "pipelines", "outbox", "acknowledged", "pending", "job_hooks", "hooks"}

    def expect_once(self, spec, where):
        unknown = set(spec) - self.EXPECTATIONS
        assert not unknown, "%s: unknown expectations %s" % (where, sorted(unknown))
        if "triggers" in spec:
            got = sorted(json.dumps(self.trigger_view(t), sort_keys=True) for t in self.gitlab.requests("trigger"))
            want = sorted(json.dumps(w, sort_keys=True) for w in spec["triggers"])
            assert got == want, "%s: triggers %s, want %s" % (where, got, want)
        if "statuses" in spec:
            got = [{"pipeline_id": int(s["form"].get("pipeline_id", 0)), "name": s["form"]["name"],
                    "state": s["form"]["state"]} for s in self.gitlab.requests("status")]
            assert got == spec["statuses"], "%s: commit statuses %s, want %s" % (where, got, spec["statuses"])
        for kind, want in (spec.get("requests") or {}).items():
            kinds = kind.split("+")  # "bridges+jobs": the requests of either kind, in order
            got = [r for r in self.gitlab.requests() if kind == "all" or r["kind"] in kinds]
            check_list(got, want, "%s: %s requests" % (where, kind), self.saved)
        records = [json.loads(f["record"]) for _, f in self.redis.stream("tg:audit")]
        self.expect_audit(spec, records, where)
        for key, fields in (spec.get("deployments") or {}).items():
            rec = self.redis.cmd("HGETALL", "tg:deploy:" + key) or []
            rec = {rec[i].decode(): rec[i + 1].decode() for i in range(0, len(rec), 2)}
            if fields is None:
                assert rec == {}, "%s: deployment %s is %r, want none" % (where, key, rec)
            for k, v in (fields or {}).items():
                check(rec.get(k), v, "%s: deployment %s %s" % (where, key, k), self.saved)
        for kind, want in (spec.get("chat") or {}).items():
            check_list(self.chat.posts(kind), want, "%s: %s posts" % (where, kind), self.saved)
        if "pipelines" in spec:  # the pipelines the stand-in GitLab created (triggers)
            check_list(self.gitlab.pipelines(), spec["pipelines"], "%s: pipelines created" % where, self.saved)
        if "outbox" in spec:
            n = self.redis.cmd("ZCARD", "tg:outbox")
            assert n == spec["outbox"], "%s: %d effects in tg:outbox, want %d" % (where, n, spec["outbox"])
        if "acknowledged" in spec:
            n = self.redis.cmd("XPENDING", "tg:events", "tg:workers")[0]
            assert (n == 0) == spec["acknowledged"], "%s: %d queue entries not acknowledged" % (where, n)
        for key, texts in (spec.get("deployment_never_contains") or {}).items():
            rec = self.redis.cmd("HGETALL", "tg:deploy:" + key) or []
            stored = json.dumps({rec[i].decode(): rec[i + 1].decode() for i in range(0, len(rec), 2)})
            for t in texts:
                assert t not in stored, "%s: deployment %s holds %r" % (where, key, t)
        for key, want in (spec.get("pending") or {}).items():
            score = self.redis.cmd("ZSCORE", "tg:pending", "tg:deploy:" + key)
            assert (score is not None) == want, "%s: %s in tg:pending: %s" % (where, key, score is not None)
        if "job_hooks" in spec:
            got = [[h["build_name"], h["build_id"], h["build_status"]] for h in self.sim.hooks
                   if h.get("object_kind") == "build"]
            assert got == spec["job_hooks"], "%s: job hooks %s, want %s" % (where, got, spec["job_hooks"])
        if "hooks" in spec:
            got = [[h["object_attributes"]["id"], h["object_attributes"]["status"]] for h in self.sim.hooks
                   if h.get("object_kind") == "pipeline"]
            assert got == spec["hooks"], "%s: hooks %s, want %s" % (where, got, spec["hooks"])

    def expect_audit(self, spec, records, where):
        if "audit" in spec:
            got = [r["action"] for r in records if r["action"] != "received"]
            assert got == spec["audit"], "%s: audit %s, want %s" % (where, got, spec["audit"])
        if "audit_tail" in spec:
            got = [r["action"] for r in records][-len(spec["audit_tail"]):]
            assert got == spec["audit_tail"], "%s: audit ends %s, want %s" % (where, got, spec["audit_tail"])
        if "audit_all" in spec:
            got = [r["action"] for r in records]
            assert got == spec["audit_all"], "%s: audit %s, want %s" % (where, got, spec["audit_all"])
        for action, n in (spec.get("audit_count") or {}).items():
            low, high = n if isinstance(n, list) else (n, n)
            got = sum(1 for r in records if r["action"] == action)
            assert low <= got <= high, "%s: %d %s records, want %s" % (where, got, action, n)
        for action, want in (spec.get("records") or {}).items():
            check_list([r for r in records if r["action"] == action], want, "%s: %s records" % (where, action),
                       self.saved)
        for webhook, want in (spec.get("rejected") or {}).items():
            counts = {}  # the per-minute summaries: a run may straddle minutes
            for r in records:
                if r["action"] == "rejected" and r["details"]["webhook"] == webhook:
                    counts[r["details"]["reason"]] = counts.get(r["details"]["reason"], 0) + r["details"]["count"]
            assert counts == want, "%s: %s refusals %s, want %s" % (where, webhook, counts, want)
        for t in spec.get("audit_never_contains", []):
            hit = [r for r in records if t in json.dumps(r)]
            assert not hit, "%s: an audit record contains %r: %r" % (where, t, hit[:1])

    @staticmethod
    def trigger_view(t):
        v = {"project": t["project"], "ref": t["form"]["ref"]}
        v.update({k[len("variables["):-1]: val for k, val in t["form"].items() if k.startswith("variables[")
                  and k[len("variables["):-1] in ("SERVICE", "ENVIRONMENT", "UPSTREAM_PIPELINE")})
        return v

    def run_step(self, step, where):
        """True when step was a worker step."""
        for name in ("pipeline", "jobs", "artifact", "script", "resend", "approve", "status", "hook"):
            if name in step:
                getattr(self, "step_" + name)(step[name])
                return True
        if "gitlab_pipeline" in step:
            self.step_gitlab_pipeline(step["gitlab_pipeline"])
            return True
        for name in ("api", "slack", "mattermost", "cli"):
            if name in step:
                getattr(self, "step_" + name)(step[name], where)
                return True
        if "stop" in step:  # every gateway process, SIGTERM: what they write at shutdown is written
            for t in self.gateways:
                t.stop()
            return True
        if "wait_audit" in step:
            for action, n in step["wait_audit"].items():
                wait_until(lambda: sum(1 for _, f in self.redis.stream("tg:audit")
                                       if json.loads(f["record"])["action"] == action) >= n,
                           timeout=20, what="%s: %d %s records" % (where, n, action))
            return True
        if "deliver" in step:
            self.step_deliver(step["deliver"], where)
            return True
        if "wait_deployment" in step:
            w = step["wait_deployment"]
            wait_until(lambda: self.redis.cmd("HGET", "tg:deploy:" + w["key"], "state") == w["state"].encode(),
                       timeout=20, what="%s: deployment %s to be %s" % (where, w["key"], w["state"]))
            return True
        if "expect_worker" in step:
            self.step_expect(step["expect_worker"], where)
            return True
        return False
