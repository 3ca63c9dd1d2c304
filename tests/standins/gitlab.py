#!/usr/bin/env python3
"""A stand-in GitLab: the API endpoints Tollgate calls, following GitLab's documented
contract (doc/api/job_artifacts.md, pipeline_triggers.md, commits.md; response shapes from
tests/fixtures/gitlab/api/), recording every request, and able to misbehave on cue.

    GET  /api/v4/projects/:id/jobs/:job_id/artifacts/*path   PRIVATE-TOKEN; 200 file / 404
    POST /api/v4/projects/:id/trigger/pipeline               form token, ref, variables[K]; 201 pipeline
    POST /api/v4/projects/:id/statuses/:sha                  PRIVATE-TOKEN; form state, name, ...; 201 status
    POST /api/v4/projects/:id/pipelines/:pipeline_id/cancel  PRIVATE-TOKEN; 200 pipeline, status canceled
    GET  /api/v4/projects/:id/pipelines/:pipeline_id/bridges PRIVATE-TOKEN; bridge jobs with downstream_pipeline
    GET  /api/v4/projects/:id/pipelines/:pipeline_id/jobs    PRIVATE-TOKEN; jobs, newest first, retried left out
         (both: doc/api/jobs.md "List pipeline bridges" / "List pipeline jobs"; paginated with
         per_page (default 20, at most 100) and page, X-Page/X-Per-Page/X-Next-Page/X-Total
         headers as doc/api/rest/index.md "Pagination"; an unknown pipeline is 404)
    GET  /api/v4/projects/:id/pipelines                      PRIVATE-TOKEN (doc/api/pipelines.md "List project
                                                             pipelines"): source, ref, updated_after (ISO 8601),
                                                             order_by=id, sort, per_page (max 100), page; newest
                                                             first; X-Page, X-Next-Page, X-Per-Page headers
    GET  /api/v4/projects/:id/pipelines/:pipeline_id/variables
                                                             PRIVATE-TOKEN of a Maintainer ("Get variables of a
                                                             pipeline"): [{"variable_type","key","value"}]; 403
                                                             when the token's user lacks the right

    GitLab as OAuth 2.0 / OpenID Connect provider (doc/api/oauth2.md "Authorization code with PKCE",
    doc/integration/openid_connect_provider.md "Shared information"):
    GET  /oauth/authorize     response_type=code, client_id, redirect_uri (the registered one), scope
                              (openid), state, code_challenge, code_challenge_method=S256; consents at
                              once for the configured user: 302 redirect_uri?code=..&state=..
    POST /oauth/token         form grant_type=authorization_code, client_id, client_secret, code (once),
                              redirect_uri, code_verifier (BASE64URL(SHA256(verifier)) must equal the
                              challenge; the code was issued to this client_id): 200 {access_token,
                              token_type, expires_in, refresh_token, scope, created_at, and for the
                              openid scope id_token (a JWT: iss, sub, aud, exp, iat, nonce; signed
                              HS256 with the client secret here, RS256 at GitLab; Tollgate reads
                              userinfo, not this)}; 401 invalid_client; 400 invalid_grant
    GET  /oauth/userinfo      Authorization: Bearer: {sub, name, nickname, preferred_username, email,
                              profile, picture, groups}; 401 without a valid token
    GET  /api/v4/users?username=                             PRIVATE-TOKEN (doc/api/users.md "List users"):
                                                             [] or [{id, username, name, state, ...}];
                                                             state "active", "blocked", "deactivated"
    GET  /api/v4/groups/:id/members/all/:user_id             PRIVATE-TOKEN (doc/api/members.md "Get a member
                                                             of a group, including inherited and invited
                                                             members"): {id, username, state, access_level,
                                                             membership_state ("active", "awaiting"),
                                                             ...} or 404; :id is the id or URL-encoded
                                                             full path

Control (for tests and `make demo`), JSON over HTTP:
    POST /_control/artifacts  {"project": 1, "job": 2, "path": "x.json", "file": "/abs/path" | "content": "..."}
    POST /_control/pipeline   {"project": 1, "pipeline": 5001, "bridges": [{"id": 7, "name": "scans",
                               "status": "success", "downstream_pipeline": {"id": 5002, "project_id": 1,
                               "status": "success"} | null}], "jobs": [{"id": 900, "name": "trivy-scan",
                               "status": "success"}]}  (a pipeline the list endpoints know; fields
                               left out get documented example values)
    POST /_control/script     {"match": "trigger", "where": {"variables[UPSTREAM_PIPELINE]": "100"},
                               "responses": [{"status": 500}, {"status": 429, "retry_after": 1},
                               {"status": 401}, {"hang": 5}, {"close": true}]}
                              the next requests of that kind (artifact|trigger|status|list|variables)
                              whose form (or, for artifacts, path) matches "where" get these
                              answers in order; then normal service resumes. A trigger answer may
                              first create the pipeline: {"create": true, "hang": 5} creates it and
                              then never answers (the connection closes after 5 s); {"create":
                              true, "status": 500} creates it and answers 500; {"create_after": 2,
                              "hang": 1} creates it 2 s after the request arrived, whatever the
                              client did meanwhile. Without "create", a hang is followed by
                              normal service (a slow GitLab).
    POST /_control/rights     {"maintainer": false}: the api_token's user is no Maintainer of any
                              project (pipeline variables answer 403); {"maintainer": false,
                              "owner": true}: it owns the trigger token, so it reads the variables
                              of its own token's pipelines only (another token's answer 403)
    POST /_control/foreign    {"project": "shop/charts", "ref": "main"}: a trigger pipeline created
                              with another trigger token
    POST /_control/paging     {"max_per_page": 10}: the pipelines listing serves at most that many
                              a page whatever per_page asks (X-Next-Page still tells the rest)
    POST /_control/oauth      {"client_id": .., "client_secret": .., "redirect_uri": ..}: the registered
                              application
    POST /_control/user       {"username": "alice", "name": "Alice", "groups": ["platform"], "id": 11}:
                              a user; with "current": true (the default) the one who consents next
    POST /_control/member     {"group": "platform/sre", "username": "alice", "access_level": 30,
                               "membership_state": "active"}
    GET  /_control/requests   every request seen: kind, method, path, headers, form, at (time)
    GET  /_control/pipelines  every pipeline created: id, project, ref, variables, created_at
    POST /_control/reset

Run standalone: python3 gitlab.py --port 0 --token API_TOKEN --trigger-token TRIGGER_TOKEN
(prints "listening on PORT"), or use GitLab(...) in-process from pytest.
"""
import argparse
import base64
import copy
import hashlib
import hmac
import secrets
import json
import pathlib
import re
import socketserver
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer

ARTIFACT = re.compile(r"^/api/v4/projects/([^/]+)/jobs/(\d+)/artifacts/(.+)$")
TRIGGER = re.compile(r"^/api/v4/projects/([^/]+)/trigger/pipeline$")
STATUS = re.compile(r"^/api/v4/projects/([^/]+)/statuses/([0-9a-f]{7,64})$")
PIPELINE_LIST = re.compile(r"^/api/v4/projects/([^/]+)/pipelines/(\d+)/(bridges|jobs)$")
PIPELINES = re.compile(r"^/api/v4/projects/([^/]+)/pipelines$")
USERS = re.compile(r"^/api/v4/users$")
MEMBER = re.compile(r"^/api/v4/groups/([^/]+)/members/all/(\d+)$")
VARIABLES = re.compile(r"^/api/v4/projects/([^/]+)/pipelines/(\d+)/variables$")
CANCEL = re.compile(r"^/api/v4/projects/([^/]+)/pipelines/(\d+)/cancel$")


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def parse_iso(s):
    """GitLab's ISO 8601 times: 2026-11-30T14:00:00Z, with optional fraction or +00:00."""
    m = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$", s or "")
    if not m:
        return None
    import calendar
    t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + float(m.group(2) or 0)
    if m.group(3) != "Z":
        sign = 1 if m.group(3)[0] == "+" else -1
        t -= sign * (int(m.group(3)[1:3]) * 3600 + int(m.group(3)[4:6]) * 60)
    return t


class State:
    def __init__(self, api_token, trigger_token):
        self.api_token = api_token
        self.trigger_token = trigger_token
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = []
            self.artifacts = {}
            self.lists = {}  # (project, pipeline id) -> {"bridges": [...], "jobs": [...]}
            self.scripts = []  # [kind, where, [responses]]
            self.before = {}  # kind -> [callables] run (once each) before answering a list request
            self.next_pipeline = 1000
            self.pipelines = []  # {"id", "project", "ref", "variables": {K: v}, "created": epoch}
            self.maintainer = True
            self.owner = False  # owns the trigger token: reads its own token's pipelines' variables
            self.max_per_page = 100
            self.oauth_app = None  # {"client_id", "client_secret", "redirect_uri"}
            self.users = {}  # username -> {"id", "username", "name", "groups"}
            self.current_user = None  # who consents at /oauth/authorize
            self.codes = {}  # code -> {"client_id", "redirect_uri", "challenge", "user"}
            self.access_tokens = {}  # token -> username
            self.members = {}  # (group full path, user id) -> access_level

    def record(self, entry):
        with self.lock:
            self.requests.append(entry)

    def add_script(self, kind, where, responses):
        with self.lock:
            self.scripts.append([kind, where or {}, list(responses)])

    def scripted(self, kind, fields):
        """The next scripted answer for a request of kind with these fields, or None."""
        with self.lock:
            for entry in self.scripts:
                k, where, responses = entry
                if k == kind and responses and all(fields.get(f) == v for f, v in where.items()):
                    return responses.pop(0)
        return None

    def add_pipeline(self, project, pipeline, bridges, jobs):
        with self.lock:
            self.lists[(str(project), int(pipeline))] = {"bridges": list(bridges), "jobs": list(jobs)}

    def new_pipeline_id(self):
        with self.lock:
            self.next_pipeline += 1
            return self.next_pipeline

    def create_pipeline(self, project, form, foreign=False):
        """Creates and keeps a trigger pipeline; returns its entity."""
        pid = self.new_pipeline_id()
        variables = {k[len("variables["):-1]: v for k, v in form.items()
                     if k.startswith("variables[") and k.endswith("]")}
        entity = pipeline_entity(pid, project, form.get("ref"))
        with self.lock:
            self.pipelines.append({"id": pid, "project": project, "ref": form.get("ref"), "variables": variables,
                                   "created": time.time(), "entity": entity, "foreign": foreign})
        return entity


def pipeline_entity(pid, project, ref):
    """Shaped like doc/api/pipeline_triggers.md's example (tests/fixtures/gitlab/api)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return {"id": pid, "iid": pid - 1000, "project_id": project, "sha": "a91957a858320c0e17f3a0eca7cfacbff50ea29a",
            "ref": ref, "status": "created", "source": "trigger", "created_at": now, "updated_at": now,
            "web_url": "https://gitlab.example.com/%s/-/pipelines/%d" % (project, pid), "before_sha": "0" * 40,
            "tag": False, "yaml_errors": None, "user": {"id": 1, "username": "tollgate-bot"},
            "started_at": None, "finished_at": None, "committed_at": None, "duration": None,
            "queued_duration": None, "coverage": None, "detailed_status": {"text": "created"}}


def status_entity(sha, form):
    """Shaped like doc/api/commits.md's "Set the pipeline status of a commit" example."""
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    return {"id": 93, "sha": sha, "ref": form.get("ref"), "status": form.get("state"), "name": form.get("name"),
            "target_url": form.get("target_url"), "description": form.get("description"), "created_at": now,
            "started_at": None, "finished_at": None, "allow_failure": False, "coverage": None,
            "author": {"id": 1, "username": "tollgate-bot"}}


API_FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "gitlab" / "api"
DOC_BRIDGE = json.loads((API_FIXTURES / "list_pipeline_bridges_response.json").read_text())[0]
DOC_JOB = json.loads((API_FIXTURES / "list_pipeline_jobs_response.json").read_text())[1]


def job_entity(job, project, pipeline, bridge=False):
    """A job (or bridge job) from doc/api/jobs.md's example (tests/fixtures/gitlab/api), with the
    spec's id, name, status and pipeline; a bridge gets the spec's downstream_pipeline."""
    e = copy.deepcopy(DOC_BRIDGE if bridge else DOC_JOB)
    e.update(id=job["id"], name=job["name"], status=job["status"], stage=job.get("stage", "test"),
             web_url="https://gitlab.example.com/-/jobs/%d" % job["id"])
    e["pipeline"].update(id=pipeline, project_id=int(project) if str(project).isdigit() else project,
                         status=job.get("pipeline_status", "success"))
    if not bridge:
        e["failure_reason"] = "script_failure" if job["status"] == "failed" else None
        return e
    dp = job.get("downstream_pipeline")
    if dp is None:
        e["downstream_pipeline"] = None
    else:
        e["downstream_pipeline"].update(dp)
        e["downstream_pipeline"]["web_url"] = "https://gitlab.example.com/-/pipelines/%d" % dp["id"]
    return e


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stand-in-gitlab"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stalls

    def log_message(self, fmt, *args):
        pass

    @property
    def state(self):
        return self.server.state

    def reply(self, status, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def misbehave(self, kind, fields, project=None):
        """Applies the next scripted answer for kind, if any. True when it answered."""
        s = self.state.scripted(kind, fields)
        if s is None:
            return False
        created = s.get("create") or "create_after" in s
        if s.get("create"):
            self.state.create_pipeline(project, fields)
        if "create_after" in s:
            t = threading.Timer(float(s["create_after"]), self.state.create_pipeline, (project, dict(fields)))
            t.daemon = True
            t.start()
        if s.get("hang"):
            time.sleep(float(s["hang"]))
        if s.get("close") or (created and "status" not in s):
            self.close_connection = True
            self.connection.shutdown(2)
            return True
        if "status" in s:
            headers = {"Retry-After": str(s["retry_after"])} if "retry_after" in s else {}
            self.reply(int(s["status"]), {"message": s.get("message", "%d scripted" % s["status"])}, headers)
            return True
        return False

    def do_GET(self):
        split = urllib.parse.urlsplit(self.path)
        path = split.path
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        if path == "/oauth/authorize":
            return self.serve_authorize(query)
        if path == "/oauth/userinfo":
            return self.serve_userinfo()
        if path == "/_control/requests":
            with self.state.lock:
                return self.reply(200, list(self.state.requests))
        lm = PIPELINE_LIST.match(path)
        if lm:
            with self.state.lock:
                pending = self.state.before.get(lm.group(3), [])
                run = pending.pop(0) if pending else None
            if run:
                run()  # in-process tests only: something happens elsewhere while GitLab answers
            return self.serve_children_list(lm)
        if path == "/_control/pipelines":
            with self.state.lock:
                return self.reply(200, [{k: v for k, v in p.items() if k != "entity"} for p in self.state.pipelines])
        for kind, rx in (("list", PIPELINES), ("variables", VARIABLES), ("users", USERS), ("members", MEMBER)):
            m = rx.match(path)
            if m:
                query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
                self.state.record({"kind": kind, "method": "GET", "path": path, "query": query,
                                   "headers": dict(self.headers), "at": time.time()})
                if self.misbehave(kind, query):
                    return
                if self.headers.get("PRIVATE-TOKEN") != self.state.api_token:
                    return self.reply(401, {"message": "401 Unauthorized"})
                return getattr(self, "serve_" + kind)(m, query)
        m = ARTIFACT.match(path)
        if not m:
            return self.reply(404, {"message": "404 Not Found"})
        self.state.record({"kind": "artifact", "method": "GET", "path": path, "headers": dict(self.headers),
                           "at": time.time()})
        if self.misbehave("artifact", {"path": path}):
            return
        if self.headers.get("PRIVATE-TOKEN") != self.state.api_token:
            return self.reply(401, {"message": "401 Unauthorized"})
        key = (urllib.parse.unquote(m.group(1)), int(m.group(2)), urllib.parse.unquote(m.group(3)))
        data = self.state.artifacts.get(key)
        if data is None:
            return self.reply(404, {"message": "404 Not Found"})
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # ---- OAuth 2.0 / OIDC provider ----

    def serve_authorize(self, q):
        app, st = self.state.oauth_app, self.state
        if not app or q.get("client_id") != app["client_id"] or q.get("redirect_uri") != app["redirect_uri"]:
            return self.reply(400, {"error": "invalid_client"})  # GitLab shows an error page, no redirect
        sep = "&" if "?" in app["redirect_uri"] else "?"
        if q.get("response_type") != "code" or "openid" not in q.get("scope", "").split() or \
                q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            err = urllib.parse.urlencode({"error": "invalid_request", "state": q.get("state", "")})
            return self.redirect(app["redirect_uri"] + sep + err)
        code = secrets.token_hex(32)
        with st.lock:
            st.codes[code] = {"client_id": q["client_id"], "redirect_uri": q["redirect_uri"],
                              "challenge": q["code_challenge"], "user": st.current_user,
                              "scope": q.get("scope", ""), "nonce": q.get("nonce")}
        self.redirect(app["redirect_uri"] + sep + urllib.parse.urlencode({"code": code, "state": q.get("state", "")}))

    def redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def serve_token(self, form):
        st = self.state
        app = st.oauth_app or {}
        self.state.record({"kind": "oauth_token", "method": "POST", "path": "/oauth/token",
                           "form": form, "headers": dict(self.headers), "at": time.time()})
        if form.get("client_id") != app.get("client_id") or form.get("client_secret") != app.get("client_secret"):
            return self.reply(401, {"error": "invalid_client", "error_description": "Client authentication failed"})
        with st.lock:
            grant = st.codes.pop(form.get("code", ""), None)  # a code is used once, right or wrong
        verifier = form.get("code_verifier", "")
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if form.get("grant_type") != "authorization_code" or grant is None or \
                grant["client_id"] != form.get("client_id") or \
                grant["redirect_uri"] != form.get("redirect_uri") or grant["challenge"] != challenge:
            return self.reply(400, {"error": "invalid_grant", "error_description": "The provided authorization "
                                    "grant is invalid, expired, revoked, does not match the redirection URI used "
                                    "in the authorization request, or was issued to another client."})
        token = secrets.token_hex(32)
        with st.lock:
            st.access_tokens[token] = grant["user"]
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": 7200,
                  "refresh_token": secrets.token_hex(32), "scope": grant["scope"],
                  "created_at": int(time.time())}
        if "openid" in grant["scope"].split():
            answer["id_token"] = self.id_token(grant, app)
        self.reply(200, answer)

    def id_token(self, grant, app):
        """An OIDC ID token (JWT) for the grant's user, as GitLab issues one with openid."""
        def b64(data):
            return base64.urlsafe_b64encode(data).rstrip(b"=")
        with self.state.lock:
            user = self.state.users.get(grant["user"]) or {"id": 0}
        now = int(time.time())
        claims = {"iss": "https://gitlab.example.com", "sub": str(user["id"]), "aud": app["client_id"],
                  "exp": now + 120, "iat": now, "auth_time": now, "sub_legacy": secrets.token_hex(32)}
        if grant.get("nonce"):
            claims["nonce"] = grant["nonce"]
        head = b64(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
        body = b64(json.dumps(claims).encode())
        sig = hmac.new(app["client_secret"].encode(), head + b"." + body, hashlib.sha256).digest()
        return (head + b"." + body + b"." + b64(sig)).decode()

    def serve_userinfo(self):
        auth = self.headers.get("Authorization", "")
        with self.state.lock:
            username = self.state.access_tokens.get(auth[7:]) if auth.startswith("Bearer ") else None
            user = self.state.users.get(username)
        if user is None:
            return self.reply(401, {"error": "invalid_token"})
        self.reply(200, {"sub": str(user["id"]), "name": user["name"], "nickname": user["username"],
                         "preferred_username": user["username"], "email": user["username"] + "@example.com",
                         "email_verified": True, "website": "", "profile": "https://gitlab.example.com/" +
                         user["username"], "picture": "", "groups": list(user["groups"])})

    def serve_users(self, m, query):
        with self.state.lock:
            u = self.state.users.get(query.get("username"))
        if u is None:
            return self.reply(200, [])
        self.reply(200, [{"id": u["id"], "username": u["username"], "name": u["name"], "state": u["state"],
                          "locked": False, "avatar_url": "", "web_url": "https://gitlab.example.com/" + u["username"]}])

    def serve_members(self, m, query):
        group, uid = urllib.parse.unquote(m.group(1)), int(m.group(2))
        with self.state.lock:
            level, membership_state = self.state.members.get((group, uid), (None, None))
            user = next((u for u in self.state.users.values() if u["id"] == uid), None)
        if level is None or user is None:
            return self.reply(404, {"message": "404 Not found"})
        self.reply(200, {"id": uid, "username": user["username"], "name": user["name"], "state": user["state"],
                         "avatar_url": "", "web_url": "https://gitlab.example.com/" + user["username"],
                         "access_level": level, "membership_state": membership_state, "created_at": "2026-01-01T00:00:00.000Z", "expires_at": None})

    def serve_children_list(self, m):
        kind = m.group(3)
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        self.state.record({"kind": kind, "method": "GET", "path": m.group(0), "query": query,
                           "headers": dict(self.headers), "at": time.time()})
        if self.misbehave(kind, {"path": m.group(0)}):
            return
        if self.headers.get("PRIVATE-TOKEN") != self.state.api_token:
            return self.reply(401, {"message": "401 Unauthorized"})
        project, pipeline = urllib.parse.unquote(m.group(1)), int(m.group(2))
        with self.state.lock:
            known = self.state.lists.get((project, pipeline))
        if known is None:
            return self.reply(404, {"message": "404 Not found"})
        items = sorted(known.get(kind, []), key=lambda j: -j["id"])  # newest first
        if kind == "jobs":  # retried runs are left out unless include_retried (latest run per name)
            seen, latest = set(), []
            for j in items:
                if query.get("include_retried") == "true" or j["name"] not in seen:
                    latest.append(j)
                seen.add(j["name"])
            items = latest
        per_page = max(1, min(100, int(query.get("per_page", 20))))
        page = max(1, int(query.get("page", 1)))
        total_pages = max(1, (len(items) + per_page - 1) // per_page)
        chunk = items[(page - 1) * per_page:page * per_page]
        headers = {"X-Page": str(page), "X-Per-Page": str(per_page), "X-Total": str(len(items)),
                   "X-Total-Pages": str(total_pages), "X-Next-Page": str(page + 1) if page < total_pages else "",
                   "X-Prev-Page": str(page - 1) if page > 1 else ""}
        self.reply(200, [job_entity(j, project, pipeline, kind == "bridges") for j in chunk], headers)

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        raw = self.body()
        if path.startswith("/_control/"):
            return self.control(path, json.loads(raw or b"{}"))
        form = dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
        if path == "/oauth/token":
            return self.serve_token(form)
        for kind, rx in (("trigger", TRIGGER), ("status", STATUS), ("cancel", CANCEL)):
            m = rx.match(path)
            if m:
                self.state.record({"kind": kind, "method": "POST", "path": path, "headers": dict(self.headers),
                                   "form": form, "project": urllib.parse.unquote(m.group(1)), "at": time.time()})
                if self.misbehave(kind, form, urllib.parse.unquote(m.group(1))):
                    return
                return getattr(self, "serve_" + kind)(m, form)
        self.reply(404, {"message": "404 Not Found"})

    def serve_trigger(self, m, form):
        if self.headers.get("X-Gitlab-Event") == "Pipeline Hook":
            return self.reply(403, {"message": "403 Forbidden"})  # GitLab's loop guard
        if form.get("token") != self.state.trigger_token:
            return self.reply(404, {"message": "404 Not Found"})  # invalid token: not_found!
        if not form.get("ref"):
            return self.reply(400, {"message": "ref is missing"})
        self.reply(201, self.state.create_pipeline(urllib.parse.unquote(m.group(1)), form))

    def serve_list(self, m, query):
        project = urllib.parse.unquote(m.group(1))
        if query.get("updated_after") is not None and parse_iso(query["updated_after"]) is None:
            return self.reply(400, {"error": "updated_after is invalid"})
        try:
            per_page = min(max(int(query.get("per_page", 20)), 1), self.state.max_per_page)
            page = max(int(query.get("page", 1)), 1)
        except ValueError:
            return self.reply(400, {"error": "per_page is invalid"})
        after = parse_iso(query.get("updated_after")) if query.get("updated_after") else None
        with self.state.lock:
            rows = [p for p in self.state.pipelines if p["project"] == project
                    and query.get("source", "trigger") == "trigger"
                    and ("ref" not in query or p["ref"] == query["ref"])
                    and (after is None or p["created"] > after)]
        rows.sort(key=lambda p: p["id"], reverse=query.get("sort", "desc") != "asc")
        chunk = rows[(page - 1) * per_page:page * per_page]
        out = []
        for p in chunk:
            e = dict(p["entity"])
            e["created_at"] = e["updated_at"] = iso(p["created"])
            out.append({k: e[k] for k in ("id", "iid", "project_id", "sha", "ref", "status", "source",
                                          "created_at", "updated_at", "web_url")})
        more = page * per_page < len(rows)
        self.reply(200, out, {"X-Page": str(page), "X-Per-Page": str(per_page),
                              "X-Next-Page": str(page + 1) if more else ""})

    def serve_variables(self, m, query):
        project, pid = urllib.parse.unquote(m.group(1)), int(m.group(2))
        with self.state.lock:
            found = [p for p in self.state.pipelines if p["project"] == project and p["id"] == pid]
        own = found and self.state.owner and not found[0]["foreign"]
        if not self.state.maintainer and not own:
            return self.reply(403, {"message": "403 Forbidden"})  # Maintainer, or the trigger token's owner
        if not found:
            return self.reply(404, {"message": "404 Not found"})
        self.reply(200, [{"variable_type": "env_var", "key": k, "value": v} for k, v in found[0]["variables"].items()])

    def serve_cancel(self, m, form):
        """POST /projects/:id/pipelines/:pipeline_id/cancel (doc/api/pipelines.md "Cancel a
        pipeline's jobs"): a Developer's PRIVATE-TOKEN; 200 with the pipeline, status canceled."""
        if self.headers.get("PRIVATE-TOKEN") != self.state.api_token:
            return self.reply(401, {"message": "401 Unauthorized"})
        project, pid = urllib.parse.unquote(m.group(1)), int(m.group(2))
        with self.state.lock:
            found = [p for p in self.state.pipelines if p["project"] == project and p["id"] == pid]
            if found:
                found[0]["entity"]["status"] = "canceled"
                found[0]["canceled"] = True
        if not found:
            return self.reply(404, {"message": "404 Not found"})
        self.reply(200, found[0]["entity"])

    def serve_status(self, m, form):
        if self.headers.get("PRIVATE-TOKEN") != self.state.api_token:
            return self.reply(401, {"message": "401 Unauthorized"})
        if form.get("state") not in ("pending", "running", "success", "failed", "canceled", "skipped"):
            return self.reply(400, {"message": "state does not have a valid value"})
        if len(form.get("description", "")) > 255:
            return self.reply(400, {"message": "description is too long"})
        self.reply(201, status_entity(m.group(2), form))

    def control(self, path, body):
        st = self.state
        if path == "/_control/reset":
            st.reset()
        elif path == "/_control/artifacts":
            data = open(body["file"], "rb").read() if "file" in body else body["content"].encode()
            with st.lock:
                st.artifacts[(str(body["project"]), int(body["job"]), body["path"])] = data
        elif path == "/_control/pipeline":
            st.add_pipeline(body["project"], body["pipeline"], body.get("bridges", []), body.get("jobs", []))
        elif path == "/_control/rights":
            with st.lock:
                st.maintainer = bool(body.get("maintainer", True))
                st.owner = bool(body.get("owner", False))
        elif path == "/_control/foreign":
            st.create_pipeline(body["project"], {"ref": body.get("ref", "main")}, foreign=True)
        elif path == "/_control/paging":
            with st.lock:
                st.max_per_page = int(body["max_per_page"])
        elif path == "/_control/oauth":
            with st.lock:
                st.oauth_app = {k: body[k] for k in ("client_id", "client_secret", "redirect_uri")}
        elif path == "/_control/user":
            with st.lock:
                st.users[body["username"]] = {"id": int(body.get("id", 100 + len(st.users))),
                                              "username": body["username"], "name": body.get("name", body["username"]),
                                              "groups": list(body.get("groups", [])),
                                              "state": body.get("state", "active")}
                if body.get("current", True):
                    st.current_user = body["username"]
        elif path == "/_control/member":
            with st.lock:
                uid = st.users[body["username"]]["id"]
                st.members[(body["group"], uid)] = (int(body["access_level"]),
                                                    body.get("membership_state", "active"))
        elif path == "/_control/script":
            st.add_script(body["match"], body.get("where"), body["responses"])
        else:
            return self.reply(404, {"message": "no such control"})
        self.reply(200, {"ok": True})


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class GitLab:
    """In-process stand-in: GitLab(api_token, trigger_token).start(); .url; .requests(kind)."""

    def __init__(self, api_token="glpat-standin-api", trigger_token="glptt-standin-trigger", port=0):
        self.state = State(api_token, trigger_token)
        self.server = Server(("127.0.0.1", port), Handler)
        self.server.state = self.state
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def add_artifact(self, project, job, path, data):
        with self.state.lock:
            self.state.artifacts[(str(project), int(job), path)] = data

    def add_pipeline(self, project, pipeline, bridges=(), jobs=()):
        self.state.add_pipeline(project, pipeline, bridges, jobs)

    def before_next(self, kind, fn):
        """In-process only: fn() runs once, just before the next bridges or jobs list request
        of that kind is answered (what happens elsewhere while Tollgate asks GitLab)."""
        with self.state.lock:
            self.state.before.setdefault(kind, []).append(fn)

    def script(self, kind, *responses, where=None):
        self.state.add_script(kind, where, responses)

    def set_maintainer(self, yes, owner=False):
        with self.state.lock:
            self.state.maintainer = yes
            self.state.owner = owner

    def foreign_pipeline(self, project, ref="main"):
        """A trigger pipeline created with another trigger token; returns its id."""
        return self.state.create_pipeline(project, {"ref": ref}, foreign=True)["id"]

    def set_max_per_page(self, n):
        with self.state.lock:
            self.state.max_per_page = n

    def pipelines(self):
        """Every pipeline created, oldest first: id, project, ref, variables, created."""
        with self.state.lock:
            return [{k: v for k, v in p.items() if k != "entity"} for p in self.state.pipelines]

    def oauth_app(self, client_id, client_secret, redirect_uri):
        with self.state.lock:
            self.state.oauth_app = {"client_id": client_id, "client_secret": client_secret,
                                    "redirect_uri": redirect_uri}

    def add_user(self, username, groups=(), name=None, uid=None, current=True, state="active"):
        """A GitLab user; current: the one who consents at the next /oauth/authorize; state:
        active, blocked, deactivated (doc/api/users.md)."""
        with self.state.lock:
            self.state.users[username] = {"id": uid or 100 + len(self.state.users), "username": username,
                                          "name": name or username.title(), "groups": list(groups),
                                          "state": state}
            if current:
                self.state.current_user = username

    def set_current_user(self, username):
        with self.state.lock:
            self.state.current_user = username

    def add_member(self, group, username, access_level, membership_state="active"):
        """membership_state "awaiting": an invitation or request not yet approved."""
        with self.state.lock:
            self.state.members[(group, self.state.users[username]["id"])] = (access_level, membership_state)

    def rename_user(self, old, new):
        """GitLab lets a user change their username; the id stays."""
        with self.state.lock:
            u = self.state.users.pop(old)
            u["username"] = new
            self.state.users[new] = u
            if self.state.current_user == old:
                self.state.current_user = new

    def set_user_state(self, username, state):
        with self.state.lock:
            self.state.users[username]["state"] = state

    def requests(self, kind=None):
        with self.state.lock:
            return [r for r in self.state.requests if kind is None or r["kind"] == kind]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--token", default="glpat-standin-api")
    ap.add_argument("--trigger-token", default="glptt-standin-trigger")
    a = ap.parse_args()
    g = GitLab(a.token, a.trigger_token, a.port)
    print("listening on %d" % g.port, flush=True)
    try:
        g.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
