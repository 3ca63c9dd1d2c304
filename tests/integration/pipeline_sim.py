"""A pipeline-lifecycle simulator: for a scenario, the exact sequence of Pipeline Hooks GitLab
sends, with payloads shaped like tests/fixtures/gitlab/webhooks/pipeline_event.json (GitLab's
documented example, doc/user/project/integrations/webhook_events.md).

What it models, and from where:
- A pipeline's status is the composite of its jobs' statuses, computed as GitLab computes it
  (lib/gitlab/ci/status/composite.rb, gitlab-org/gitlab: a failed or canceled job with
  allow_failure counts as success_with_warnings, a manual one with allow_failure is ignored;
  the first matching rule of the ordered list in `composite` below wins).
- GitLab sends a Pipeline Hook whenever the pipeline's status changes (webhook_events.md:
  "triggered when the status of a pipeline changes"), so a job change that leaves the
  pipeline's status as it was sends nothing.
- builds[] holds the latest run of each job only: a retried job gets a new, higher id and
  replaces the earlier run.
- A commit status posted with pipeline_id is an external job of that pipeline (commits.md,
  "Set the pipeline status of a commit"; docs ci/ci_cd_for_external_repos/external_commit_statuses):
  it takes part in the composite (allow_failure false), so a posted `pending` turns a finished
  pipeline `running` and a posted `failed` turns it `failed`, each with a new hook
  (gitlab-org/gitlab#300720). External statuses are commit statuses, not builds: builds[]
  does not list them.
- A child pipeline carries `source: parent_pipeline` (a multi-project downstream one `source:
  pipeline`) and `source_pipeline` naming its parent and the parent's bridge (trigger) job.
  The bridge is a job of the parent (not in builds[]: the hook lists builds, not bridges) that
  takes part in the parent's composite (ci/pipelines/downstream_pipelines.md): with `strategy:
  depend` its status is the child pipeline's, without it the bridge succeeds as soon as the
  child exists, so the parent can turn `success` while the child runs. `gitlab_lists()` gives
  what GitLab's bridges and jobs API would list for each pipeline (doc/api/jobs.md).
- With job_hooks, every job status change also sends a Job Hook (object_kind build, shaped like
  tests/fixtures/gitlab/webhooks/job_event.json; webhook_events.md, "Job events").
"""
import copy
import json
import pathlib

FIXTURE = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "gitlab" / "webhooks" / "pipeline_event.json"
DOC_PIPELINE = json.loads(FIXTURE.read_text())
DOC_JOB = json.loads((FIXTURE.parent / "job_event.json").read_text())

FINISHED = ("success", "failed", "canceled", "skipped")


def composite(jobs):
    """GitLab's composite status of [(status, allow_failure)], or None when empty."""
    got = set()
    for status, allow_failure in jobs:
        if allow_failure and status in ("failed", "canceled"):
            got.add("success_with_warnings")
        elif allow_failure and status == "manual":
            got.add("ignored")
        else:
            got.add(status)
    if not got:
        return None

    def only(*names):
        return got <= set(names)

    def any_of(*names):
        return bool(got & set(names))
    rules = [
        (only("skipped", "ignored"), "skipped"),
        (only("success", "skipped", "success_with_warnings", "ignored"), "success"),
        (only("created", "success_with_warnings", "ignored"), "created"),
        (only("preparing", "success_with_warnings", "ignored"), "preparing"),
        (only("canceled", "success", "skipped", "success_with_warnings", "ignored"), "canceled"),
        (only("pending", "created", "skipped", "success_with_warnings", "ignored"), "pending"),
        (any_of("running", "pending"), "running"),
        (any_of("waiting_for_resource"), "waiting_for_resource"),
        (any_of("waiting_for_callback"), "waiting_for_callback"),
        (any_of("manual"), "manual"),
        (any_of("scheduled"), "scheduled"),
        (any_of("preparing"), "preparing"),
        (any_of("created"), "running"),
        (any_of("canceling"), "canceling"),
    ]
    return next((status for cond, status in rules if cond), "failed")


class Pipeline:
    def __init__(self, sim, name, id, project_id, path, ref, jobs, source="push", tag=False, user="dora",
                 sha=None, parent=None, bridge=None, depend=False):
        self.sim, self.name, self.id = sim, name, id
        self.project_id, self.path, self.ref, self.source, self.tag, self.user = \
            project_id, path, ref, source, tag, user
        self.sha = sha or ("%040x" % (id * 7919))
        self.parent = parent
        self.children = []  # pipelines created by this one's bridges
        self.bridge = bridge or "trigger-%s" % name  # the parent's bridge job that created this one
        self.bridge_id = sim.job_id() if parent is not None else None
        self.depend = bool(depend)
        self.jobs = {}      # name -> latest run: {id, name, stage, status, allow_failure, when}
        self.external = {}  # commit status name -> state (allow_failure false)
        self.status = None
        for j in jobs:
            spec = {"name": j} if isinstance(j, str) else dict(j)
            manual = spec.get("when") == "manual"
            self.jobs[spec["name"]] = {"id": sim.job_id(), "name": spec["name"], "stage": spec.get("stage", "test"),
                                       "status": "manual" if manual else "created",
                                       "allow_failure": bool(spec.get("allow_failure", False)),
                                       "when": "manual" if manual else "on_success"}
        self.recompute()
        if parent is not None:
            parent.children.append(self)
            parent.recompute()

    def bridge_status(self):
        """The status of the parent's bridge job that created this pipeline."""
        return self.status if self.depend else "success"

    def recompute(self):
        runs = [(j["status"], j["allow_failure"]) for j in self.jobs.values()]
        runs += [(s, False) for s in self.external.values()]
        runs += [(c.bridge_status(), False) for c in self.children]
        status = composite(runs) or "created"
        if status != self.status:
            self.status = status
            self.sim.hooks.append(self.payload())
            if self.parent is not None and self.depend:
                self.parent.recompute()

    def set_job(self, job, status):
        self.jobs[job]["status"] = status
        self.job_hook(job)
        self.recompute()

    def retry(self, job):
        """A new run with a new, higher id replaces the earlier one in builds[]."""
        self.jobs[job] = dict(self.jobs[job], id=self.sim.job_id(), status="pending")
        self.job_hook(job)
        self.recompute()

    def job_hook(self, job):
        if not self.sim.job_hooks:
            return
        j = self.jobs[job]
        ev = copy.deepcopy(DOC_JOB)
        ev.update(ref=self.ref, tag=self.tag, sha=self.sha, build_id=j["id"], build_name=j["name"],
                  build_stage=j["stage"], build_status=j["status"], build_allow_failure=j["allow_failure"],
                  pipeline_id=self.id, project_id=self.project_id, project_name=self.path)
        ev["commit"]["id"] = self.id  # a Job Hook's commit.id is the pipeline id
        ev["commit"]["sha"] = self.sha
        ev["project"].update(id=self.project_id, path_with_namespace=self.path)
        ev["user"]["username"] = self.user
        self.sim.hooks.append(ev)

    def post_status(self, name, state):
        self.external[name] = state
        self.recompute()

    def cancel(self):
        for j in self.jobs.values():
            if j["status"] not in FINISHED:
                j["status"] = "canceled"
                self.job_hook(j["name"])
        for name, s in self.external.items():
            if s not in FINISHED:
                self.external[name] = "canceled"
        self.recompute()

    def payload(self):
        ev = copy.deepcopy(DOC_PIPELINE)
        oa = ev["object_attributes"]
        oa.update(id=self.id, iid=self.id % 1000, ref=self.ref, tag=self.tag, sha=self.sha, source=self.source,
                  status=self.status, url="https://gitlab.example.com/%s/-/pipelines/%d" % (self.path, self.id),
                  stages=sorted({j["stage"] for j in self.jobs.values()}), variables=[])
        oa["finished_at"] = None if self.status not in FINISHED else "2026-11-30 12:00:00 UTC"
        ns, slug = self.path.rsplit("/", 1)
        ev["project"].update(id=self.project_id, name=slug, namespace=ns, path_with_namespace=self.path,
                             web_url="https://gitlab.example.com/" + self.path)
        ev["user"]["username"] = self.user
        ev["merge_request"] = None
        ev["source_pipeline"] = None
        if self.parent is not None:
            ev["source_pipeline"] = {"project": {"id": self.parent.project_id,
                                                 "web_url": "https://gitlab.example.com/" + self.parent.path,
                                                 "path_with_namespace": self.parent.path},
                                     "pipeline_id": self.parent.id, "job_id": self.bridge_id}
        template = DOC_PIPELINE["builds"][0]
        ev["builds"] = []
        for j in sorted(self.jobs.values(), key=lambda j: j["id"]):
            b = copy.deepcopy(template)
            b.update(id=j["id"], name=j["name"], stage=j["stage"], status=j["status"], when=j["when"],
                     manual=j["when"] == "manual", allow_failure=j["allow_failure"])
            ev["builds"].append(b)
        return ev


class Sim:
    """Pipelines of one GitLab instance; hooks collects every Pipeline Hook in sending order."""

    def __init__(self, first_job_id=5000, job_hooks=False):
        self.pipelines = {}
        self.hooks = []
        self.job_hooks = job_hooks
        self.next_job = first_job_id

    def job_id(self):
        self.next_job += 1
        return self.next_job

    def pipeline(self, name, **kw):
        parent = kw.pop("parent", None)
        p = Pipeline(self, name, parent=self.pipelines[parent] if parent else None, **kw)
        self.pipelines[name] = p
        return p

    def gitlab_lists(self):
        """[(project id, pipeline id, bridges, jobs)] as GitLab's API lists them now, for the
        pipelines that have child pipelines and for the children."""
        out = []
        for p in self.pipelines.values():
            if not p.children and p.parent is None:
                continue
            bridges = [{"id": c.bridge_id, "name": c.bridge, "status": c.bridge_status(),
                        "downstream_pipeline": {"id": c.id, "project_id": c.project_id, "status": c.status}}
                       for c in p.children]
            jobs = [{"id": j["id"], "name": j["name"], "status": j["status"]} for j in p.jobs.values()]
            out.append((p.project_id, p.id, bridges, jobs))
        return out

    def by_id(self, pipeline_id):
        return next((p for p in self.pipelines.values() if p.id == int(pipeline_id)), None)

    def job(self, ref):
        """"<pipeline name>/<job name>" -> the latest run's id."""
        pname, job = ref.split("/", 1)
        return self.pipelines[pname].jobs[job]["id"]
