"""The console's sign-in with GitLab (OAuth 2.0 code flow with PKCE, GitLab as OpenID Connect
provider) and its session cookie on the /api/v1 routes, through the real binary, a real Redis and
the stand-in GitLab. The test plays the browser with Python's http.client: it carries the cookie,
follows the redirects by hand and can tamper with what a browser would send."""
import hashlib
import http.client
import subprocess
import json
import time
import urllib.parse

import pytest

import pipelines
from harness import wait_until
from test_approvals import deployment_id, pending, write_sets
from test_deliver import audit_actions, deploy_state, gitlab, wait_state  # noqa: F401 (gitlab: a fixture)

CLIENT_ID = "tg-console-app-6c1f"
CLIENT_SECRET = "gloas-console-secret-93be2d7f41"
PUBLIC = "http://tollgate.example"
POLICY = """\
version: 1
environments:
  production:
    branches: [main]
    require_jobs: [trivy-scan]
    reports: [ { job: trivy-scan, artifact: trivy-report.json, format: trivy } ]
    severity: { block: { critical: 0 }, approve: { high: 0 } }
    approvals: { required: 1, approvers: [alice, "group:platform/sre"], expire: 1h }
  anyone:
    branches: ["release/*"]
    require_jobs: [trivy-scan]
    reports: [ { job: trivy-scan, artifact: trivy-report.json, format: trivy } ]
    severity: { block: { critical: 0 }, approve: { high: 0 } }
    approvals: { required: 1, expire: 1h }
"""
CONSOLE = """\
console:
  oauth: { client_id: env:TG_TEST_OAUTH_ID, client_secret: env:TG_TEST_OAUTH_SECRET }
  allow_groups: [platform, security]
  session_ttl: %(ttl)s
%(more)s"""


class Browser:
    """Cookies and requests as a browser would send them, without following redirects."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.cookies = {}
        self.set_cookies = []

    def request(self, method, path, headers=None, body=None):
        c = http.client.HTTPConnection(self.host, self.port, timeout=15)
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        if body is not None and not isinstance(body, bytes):
            body, h["Content-Type"] = json.dumps(body).encode(), "application/json"
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                self.set_cookies.append(v)
                name, value = v.split(";", 1)[0].split("=", 1)
                if value:
                    self.cookies[name] = value
                else:
                    self.cookies.pop(name, None)
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def set_cookie(browser, name):
    """The last Set-Cookie the browser received for name."""
    return [c for c in browser.set_cookies if c.startswith(name + "=")][-1]


def visit_gitlab(url):
    """The browser at GitLab's authorize page: the stand-in consents and redirects back."""
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=15)
    c.request("GET", u.path + "?" + u.query)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status, r.getheader("Location")


def local(url):
    """public_url names the gateway as the world sees it; the test reaches it on its port."""
    assert url.startswith(PUBLIC + "/"), url
    return url[len(PUBLIC):]


def sign_in(browser, next_path=None, tamper=None):
    """The whole dance; returns the callback's (status, headers, body)."""
    path = "/ui/login" + ("?next=" + urllib.parse.quote(next_path, safe="") if next_path else "")
    status, h, _ = browser.request("GET", path)
    assert status == 302, status
    authorize = tamper(h["location"]) if tamper else h["location"]
    status, back = visit_gitlab(authorize)
    assert status == 302, status
    return browser.request("GET", local(back))


@pytest.fixture
def console(tollgate, gitlab, logdir):
    sets = write_sets(logdir, policy=POLICY)
    gitlab.oauth_app(CLIENT_ID, CLIENT_SECRET, PUBLIC + "/ui/callback")
    gitlab.add_user("alice", groups=["platform"], uid=11)
    gitlab.add_user("bob", groups=["platform/sre"], uid=12, current=False)  # not allowed to sign in

    def make(ttl="12h", more="", public=None, top="", tls=False, gitlab_timeout=None):
        """top: configuration keys after the console block; gitlab_timeout: gitlab.timeout."""
        env = dict(pipelines.env(), TG_TEST_OAUTH_ID=CLIENT_ID, TG_TEST_OAUTH_SECRET=CLIENT_SECRET)
        extra = pipelines.config_extra(gitlab.url, CONSOLE % {"ttl": ttl, "more": more} + top)
        if public:
            extra = extra.replace("public_url: " + PUBLIC, "public_url: " + public)
        if gitlab_timeout:
            extra = extra.replace("  timeout: 2s\n", "  timeout: %s\n" % gitlab_timeout, 1)
        return tollgate(workers=2, env=env, extra=extra, tls=tls, **sets)
    return make


def session_of(tg, browser):
    status, h, body = browser.request("GET", "/ui/session")
    return status, json.loads(body)


# ---- sign-in ----

def test_login_redirects_to_gitlab_with_state_and_s256_challenge(console, gitlab):
    tg = console()
    b = Browser(tg.url)
    status, h, _ = b.request("GET", "/ui/login")
    assert status == 302
    assert h["cache-control"] == "no-store"
    u = urllib.parse.urlsplit(h["location"])
    assert "%s://%s%s" % (u.scheme, u.netloc, u.path) == gitlab.url + "/oauth/authorize"
    q = dict(urllib.parse.parse_qsl(u.query))
    assert q["response_type"] == "code" and q["client_id"] == CLIENT_ID
    assert q["redirect_uri"] == PUBLIC + "/ui/callback"
    assert q["scope"] == "openid profile" and "scope=openid%20profile" in u.query
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert len(q["state"]) == 43
    _, h2, _ = b.request("GET", "/ui/login")  # every sign-in gets its own state and verifier
    q2 = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(h2["location"]).query))
    assert q2["state"] != q["state"] and q2["code_challenge"] != q["code_challenge"]


def test_sign_in_sets_the_cookie_and_the_session_names_the_user(console, gitlab, redis):
    tg = console()
    b = Browser(tg.url)
    status, h, _ = sign_in(b)
    assert status == 302 and h["location"] == "/ui/"
    cookie = set_cookie(b, "tollgate_session")
    name, value = cookie.split(";", 1)[0].split("=", 1)
    assert name == "tollgate_session" and len(value) == 43
    flags = [f.strip() for f in cookie.split(";")[1:]]
    assert "HttpOnly" in flags and "SameSite=Lax" in flags and "Path=/" in flags
    assert "Secure" not in flags  # public_url is http: a Secure cookie would never come back
    status, s = session_of(tg, b)
    assert status == 200
    assert s["username"] == "alice" and s["name"] == "Alice" and s["groups"] == ["platform"]
    assert len(s["csrf_token"]) == 43 and s["expires_at"].endswith("Z")
    signed = [r for r in audit_actions(redis) if r["action"] == "signed_in"]
    assert [r["actor"] for r in signed] == ["alice"]
    # the token exchange carried the verifier and the client's credentials
    form = gitlab.requests("oauth_token")[-1]["form"]
    assert form["grant_type"] == "authorization_code" and form["client_secret"] == CLIENT_SECRET
    assert form["redirect_uri"] == PUBLIC + "/ui/callback" and len(form["code_verifier"]) == 43


def test_https_cookie_flags(console, gitlab):
    gitlab.oauth_app(CLIENT_ID, CLIENT_SECRET, "https://tollgate.example/ui/callback")
    tg = console(public="https://tollgate.example")
    b = Browser(tg.url)
    _, h, _ = b.request("GET", "/ui/login")
    _, back = visit_gitlab(h["location"])
    status, h, _ = b.request("GET", back[len("https://tollgate.example"):])
    assert status == 302
    cookie = set_cookie(b, "__Host-tollgate_session")
    flags = [f.strip() for f in cookie.split(";")[1:]]
    assert "Secure" in flags and "HttpOnly" in flags and "SameSite=Lax" in flags and "Path=/" in flags
    assert not any(f.lower().startswith("domain") for f in flags)  # __Host- forbids Domain
    status, s = session_of(tg, b)
    assert status == 200 and s["username"] == "alice"


def test_next_is_kept_for_console_paths_only(console):
    tg = console()
    for asked, landed in (("/ui/deployments/abc", "/ui/deployments/abc"), ("//evil.example/ui/", "/ui/"),
                          ("https://evil.example/ui/", "/ui/"), ("/api/v1/deployments", "/ui/"),
                          ("/ui/\\\\evil.example", "/ui/")):
        b = Browser(tg.url)
        status, h, _ = sign_in(b, next_path=asked)
        assert status == 302 and h["location"] == landed, (asked, h["location"])


def test_a_wrong_or_reused_state_fails_the_sign_in(console):
    tg = console()
    b = Browser(tg.url)
    _, h, _ = b.request("GET", "/ui/login")
    _, back = visit_gitlab(h["location"])
    path = local(back)
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
    wrong = "/ui/callback?" + urllib.parse.urlencode({"code": q["code"], "state": q["state"][:-2] + "AA"})
    status, h, body = b.request("GET", wrong)
    assert status == 400 and b"unknown, was used already or expired" in body
    assert "set-cookie" not in h and "tollgate_session" not in b.cookies
    assert h["content-security-policy"].startswith("default-src 'self'")
    status, _, _ = b.request("GET", path)  # the right state, once
    assert status == 302 and "tollgate_session" in b.cookies
    other = Browser(tg.url)
    status, _, body = other.request("GET", path)  # the same state again
    assert status == 400 and not other.cookies


def test_a_callback_opened_in_another_browser_fails_and_burns_the_state(console, gitlab):
    """Login CSRF: an attacker signs in as themselves up to GitLab's redirect, then has the
    victim open the callback. The state is bound to the browser that started it (a login
    cookie whose hash the state record holds), so the victim gets no session as the attacker,
    and the link is dead for the attacker too."""
    tg = console()
    attacker = Browser(tg.url)
    _, h, _ = attacker.request("GET", "/ui/login")
    login = set_cookie(attacker, "tollgate_login")
    flags = [f.strip() for f in login.split(";")[1:]]
    assert "HttpOnly" in flags and "SameSite=Lax" in flags and "Max-Age=600" in flags
    _, back = visit_gitlab(h["location"])
    victim = Browser(tg.url)
    status, _, body = victim.request("GET", local(back))
    assert status == 400 and b"started in another browser" in body and not victim.cookies
    status, _, body = attacker.request("GET", local(back))
    assert status == 400 and "tollgate_session" not in attacker.cookies


def test_the_login_cookie_is_cleared_after_sign_in(console):
    tg = console()
    b = Browser(tg.url)
    sign_in(b)
    assert set_cookie(b, "tollgate_login").startswith("tollgate_login=;")
    assert set(b.cookies) == {"tollgate_session"}


def test_a_wrong_code_verifier_fails_the_sign_in(console, gitlab):
    """An attacker who swaps the challenge (or injects a code minted for another challenge)
    cannot finish: GitLab checks Tollgate's verifier against the challenge it saw."""
    tg = console()
    b = Browser(tg.url)

    def swap_challenge(url):
        u = urllib.parse.urlsplit(url)
        q = dict(urllib.parse.parse_qsl(u.query))
        q["code_challenge"] = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 appendix B's
        return urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(q)))

    status, h, body = sign_in(b, tamper=swap_challenge)
    assert status == 502 and b"invalid_grant" in body
    assert "tollgate_session" not in b.cookies
    assert session_of(tg, b)[0] == 401


def test_a_user_outside_allow_groups_is_refused_with_the_reason(console, gitlab, redis):
    tg = console()
    gitlab.set_current_user("bob")
    b = Browser(tg.url)
    status, h, body = sign_in(b)
    assert status == 403 and "tollgate_session" not in b.cookies
    assert h["content-type"].startswith("text/html")
    assert b"bob is not a member of a group allowed to sign in." in body
    assert b"platform" not in body and b"security" not in body  # the allowed groups stay unnamed
    refused = [r for r in audit_actions(redis) if r["action"] == "sign_in_refused"]
    assert [r["actor"] for r in refused] == ["bob"]


def test_session_and_logout(console, redis):
    tg = console()
    b = Browser(tg.url)
    assert session_of(tg, b)[0] == 401  # no cookie
    sign_in(b)
    _, s = session_of(tg, b)
    status, _, body = b.request("POST", "/ui/logout")
    assert status == 403 and json.loads(body)["error"] == "csrf"
    status, _, _ = b.request("POST", "/ui/logout", headers={"X-CSRF-Token": s["csrf_token"][:-1] + "x"})
    assert status == 403
    assert session_of(tg, b)[0] == 200
    stolen = dict(b.cookies)
    status, _, body = b.request("POST", "/ui/logout", headers={"X-CSRF-Token": s["csrf_token"]})
    assert status == 200 and not b.cookies  # the cookie is cleared
    replay = Browser(tg.url)
    replay.cookies = stolen  # the old id no longer works anywhere
    assert session_of(tg, replay)[0] == 401
    assert replay.request("GET", "/api/v1/deployments?status=pending")[0] == 401
    assert [r["actor"] for r in audit_actions(redis) if r["action"] == "signed_out"] == ["alice"]


def test_an_expired_session_is_refused(console):
    tg = console(ttl="1s")
    b = Browser(tg.url)
    sign_in(b)
    # the session may already be gone on a slow machine: either way it must end, and stay ended
    wait_until(lambda: session_of(tg, b)[0] == 401, timeout=20, what="the session to expire")
    status, _, body = b.request("GET", "/api/v1/deployments?status=pending")
    assert status == 401 and b"sign in again" in body


def test_unconfigured_console_answers_404(tollgate, gitlab, logdir):
    tg = tollgate(env=pipelines.env(), extra=pipelines.config_extra(gitlab.url), **write_sets(logdir))
    assert Browser(tg.url).request("GET", "/ui/login")[0] == 404
    assert Browser(tg.url).request("GET", "/ui/session")[0] == 401


# ---- the API with a session ----

def signed_in(tg, gitlab, user, groups=("platform",), uid=None):
    gitlab.add_user(user, groups=list(groups), uid=uid)
    b = Browser(tg.url)
    status, _, _ = sign_in(b)
    assert status == 302
    _, s = session_of(tg, b)
    return b, s["csrf_token"]


def test_reads_work_with_the_cookie_and_writes_need_the_csrf_header(console, gitlab, redis):
    tg = console()
    did = pending(tg, gitlab, redis, 700)
    b, csrf = signed_in(tg, gitlab, "alice", uid=11)
    status, _, body = b.request("GET", "/api/v1/deployments?status=pending")
    assert status == 200 and json.loads(body)["count"] == 1
    status, _, body = b.request("GET", "/api/v1/audit?limit=5")
    assert status == 200
    status, _, body = b.request("POST", "/api/v1/deployments/%s/approve" % did, body={"comment": "ok"})
    assert status == 403 and json.loads(body)["error"] == "csrf"
    status, _, body = b.request("POST", "/api/v1/deployments/%s/approve" % did, body={"comment": "ok"},
                                headers={"X-CSRF-Token": "x" * 43})
    assert status == 403 and json.loads(body)["error"] == "csrf"
    assert wait_state(redis, 700, "production", "pending_approval")


def test_approve_with_cookie_and_csrf_triggers_the_chart(console, gitlab, redis):
    tg = console()
    did = pending(tg, gitlab, redis, 701)
    b, csrf = signed_in(tg, gitlab, "alice", uid=11)
    status, _, body = b.request("GET", "/api/v1/deployments/" + did)
    you = json.loads(body)["you"]
    assert you == {"username": "alice", "may_approve": True, "reason": None, "may_deny": True,
                   "deny_reason": None}
    status, _, body = b.request("POST", "/api/v1/deployments/%s/approve" % did, body={"comment": "ship it"},
                                headers={"X-CSRF-Token": csrf})
    assert status == 200, body
    assert json.loads(body)["outcome"] == "quorum"
    wait_until(lambda: [p for p in gitlab.pipelines() if p["variables"].get("UPSTREAM_PIPELINE") == "701"],
               what="the chart trigger")
    approved = [r for r in audit_actions(redis) if r["action"] == "approved"]
    assert approved[-1]["actor"] == "alice" and approved[-1]["details"]["channel"] == "console"


def test_the_pipelines_own_user_cannot_approve_from_the_console(console, gitlab, redis):
    tg = console()
    did = pending(tg, gitlab, redis, 702, ref="release/1", env="anyone", user="erin")
    b, csrf = signed_in(tg, gitlab, "erin")
    _, _, body = b.request("GET", "/api/v1/deployments/" + did)
    you = json.loads(body)["you"]
    assert you["may_approve"] is False and "erin ran this pipeline" in you["reason"]
    status, _, body = b.request("POST", "/api/v1/deployments/%s/approve" % did, body={},
                                headers={"X-CSRF-Token": csrf})
    assert status == 403 and "prevent_self_approval" in json.loads(body)["detail"]
    assert wait_state(redis, 702, "anyone", "pending_approval")


def test_group_approver_developer_allowed(console, gitlab, redis):
    tg = console()
    did = pending(tg, gitlab, redis, 703)
    b, csrf = signed_in(tg, gitlab, "sam", groups=("platform",), uid=31)
    gitlab.add_member("platform/sre", "sam", 30)
    _, _, body = b.request("GET", "/api/v1/deployments/" + did)
    you = json.loads(body)["you"]  # a page view never asks GitLab: unknown until the vote
    assert you["may_approve"] is None and "unknown until you vote" in you["reason"]
    assert not gitlab.requests("users") and not gitlab.requests("members")
    status, _, body = b.request("POST", "/api/v1/deployments/%s/approve" % did, body={},
                                headers={"X-CSRF-Token": csrf})
    assert status == 200 and json.loads(body)["outcome"] == "quorum", body
    members = gitlab.requests("members")
    assert members and members[-1]["path"] == "/api/v4/groups/platform%2Fsre/members/all/31"
    assert gitlab.requests("users")[-1]["query"] == {"username": "sam"}


def test_group_approver_reporter_refused(console, gitlab, redis):
    tg = console()
    did = pending(tg, gitlab, redis, 704)
    b, csrf = signed_in(tg, gitlab, "rey", groups=("platform",), uid=32)
    gitlab.add_member("platform/sre", "rey", 20)
    status, _, body = b.request("POST", "/api/v1/deployments/%s/approve" % did, body={},
                                headers={"X-CSRF-Token": csrf})
    assert status == 403 and "access level 30" in json.loads(body)["detail"]
    _, _, body = b.request("GET", "/api/v1/deployments/" + did)  # the vote's answer is cached
    you = json.loads(body)["you"]
    assert you["may_approve"] is False and "rey is not an approver" in you["reason"]
    assert you["may_deny"] is False and "rey is not an approver" in you["deny_reason"]
    assert wait_state(redis, 704, "production", "pending_approval")


def test_group_approver_refused_when_gitlab_cannot_answer(console, gitlab, redis):
    tg = console()
    did = pending(tg, gitlab, redis, 705)
    b, csrf = signed_in(tg, gitlab, "dev", groups=("platform",), uid=33)
    gitlab.add_member("platform/sre", "dev", 40)
    gitlab.script("members", {"status": 500})
    status, _, body = b.request("POST", "/api/v1/deployments/%s/approve" % did, body={},
                                headers={"X-CSRF-Token": csrf})
    detail = json.loads(body)["detail"]
    assert status == 403 and "GitLab could not confirm dev's membership of group platform/sre" in detail
    assert "HTTP 500" in detail
    assert wait_state(redis, 705, "production", "pending_approval")
    refused = [r for r in audit_actions(redis) if r["action"] == "approval_refused"]
    assert refused[-1]["actor"] == "dev"
    # GitLab back: the same person's vote counts (a failure was never cached)
    status, _, body = b.request("POST", "/api/v1/deployments/%s/approve" % did, body={},
                                headers={"X-CSRF-Token": csrf})
    assert status == 200, body


def test_secrets_stay_out_of_logs_audit_and_keys(console, gitlab, redis):
    tg = console()
    did = pending(tg, gitlab, redis, 706)
    b, csrf = signed_in(tg, gitlab, "alice", uid=11)
    gitlab.set_current_user("bob")
    sign_in(Browser(tg.url))  # refused
    b.request("POST", "/api/v1/deployments/%s/approve" % did, body={}, headers={"X-CSRF-Token": csrf})
    b.request("POST", "/ui/logout", headers={"X-CSRF-Token": csrf})
    secrets = [CLIENT_SECRET, csrf] + [c.split(";")[0].split("=", 1)[1] for c in b.set_cookies
                                       if c.split(";")[0].split("=", 1)[1]]
    for r in gitlab.requests("oauth_token"):
        secrets += [r["form"]["code"], r["form"]["code_verifier"]]
    with gitlab.state.lock:
        secrets += list(gitlab.state.access_tokens)
    assert len(secrets) >= 7
    logs = tg.logs()
    audit = json.dumps(audit_actions(redis))
    keys = " ".join(k.decode() for k in redis.cmd("KEYS", "*"))
    for s in secrets:
        assert s not in logs and s not in audit and s not in keys, s[:6]


def login_key(minute, address="127.0.0.1"):
    return "tg:console:logins:%d:%s" % (minute, hashlib.sha256(address.encode()).hexdigest())


def test_sign_ins_started_per_minute_are_capped_per_client_address(console, redis):
    """States live in Redis until used or expired: a stranger looping on /ui/login gets 429 (with
    Retry-After) past the cap instead of filling Redis. The cap is per client address (as
    trusted_proxies computes it), so one address cannot lock everyone else out. The counters are
    preset near the cap (this minute and the next, so a minute boundary changes nothing)."""
    tg = console(top="trusted_proxies: [127.0.0.1/32]\n")
    minute = int(time.time() // 60)
    for m in (minute, minute + 1):
        redis.cmd("SET", login_key(m, "203.0.113.5"), 30, "EX", 180)
    b = Browser(tg.url)
    status, h, body = b.request("GET", "/ui/login", headers={"X-Forwarded-For": "203.0.113.5"})
    assert status == 429 and json.loads(body)["error"] == "too_many_requests"
    assert 1 <= int(h["retry-after"]) <= 60 and h["cache-control"] == "no-store"
    assert not [k for k in redis.cmd("KEYS", "tg:console:state:*")]
    status, h, _ = b.request("GET", "/ui/login", headers={"X-Forwarded-For": "203.0.113.6"})
    assert status == 302, "another address still signs in"
    status, _, _ = b.request("GET", "/ui/login")  # the proxy's own address too
    assert status == 302


def test_the_global_sign_in_cap_holds_as_a_safety_net(console, redis):
    tg = console()
    minute = int(time.time() // 60)
    for m in (minute, minute + 1):
        redis.cmd("SET", "tg:console:logins:%d" % m, 10000, "EX", 180)
    status, h, body = Browser(tg.url).request("GET", "/ui/login")
    assert status == 429 and "retry-after" in h
    assert not [k for k in redis.cmd("KEYS", "tg:console:state:*")]


def test_the_refusal_page_shows_names_as_text(console, gitlab):
    tg = console()
    gitlab.add_user('<img src=x onerror="alert(1)">', groups=["elsewhere"])
    status, h, body = sign_in(Browser(tg.url))
    assert status == 403
    assert b"<img" not in body and b"&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in body
    assert h["x-content-type-options"] == "nosniff" and "script-src 'self'" in h["content-security-policy"]


# ---- identity by GitLab user id, account and membership state ----

def test_a_renamed_pipeline_user_still_cannot_approve(console, gitlab, redis):
    """GitLab lets a user change their username; the user id stays. Separation of duties
    compares the OIDC sub (the session) with the webhook's user.id (kept on the deployment)."""
    tg = console()
    did = pending(tg, gitlab, redis, 720, ref="release/1", env="anyone", user="erin", user_id=77)
    assert deploy_state(redis, 720, "anyone")["user_id"] == "77"
    b, csrf = signed_in(tg, gitlab, "erin-renamed", uid=77)
    _, _, body = b.request("GET", "/api/v1/deployments/" + did)
    you = json.loads(body)["you"]
    assert you["may_approve"] is False and "GitLab user id 77" in you["reason"]
    assert you["may_deny"] is True  # denying one's own deploy only stops it
    status, _, body = b.request("POST", "/api/v1/deployments/%s/approve" % did, body={},
                                headers={"X-CSRF-Token": csrf})
    assert status == 403 and "prevent_self_approval" in json.loads(body)["detail"]
    assert wait_state(redis, 720, "anyone", "pending_approval")
    # someone else, whose name was once erin's, is not the pipeline's user
    other, csrf2 = signed_in(tg, gitlab, "carl", uid=78)
    status, _, body = other.request("POST", "/api/v1/deployments/%s/approve" % did, body={},
                                    headers={"X-CSRF-Token": csrf2})
    assert status == 200, body


def test_a_blocked_gitlab_user_is_no_group_approver(console, gitlab, redis):
    tg = console()
    did = pending(tg, gitlab, redis, 721)
    b, csrf = signed_in(tg, gitlab, "sam", uid=31)
    gitlab.add_member("platform/sre", "sam", 40)
    gitlab.set_user_state("sam", "blocked")
    status, _, body = b.request("POST", "/api/v1/deployments/%s/approve" % did, body={},
                                headers={"X-CSRF-Token": csrf})
    assert status == 403 and "not active (blocked or deactivated)" in json.loads(body)["detail"]
    assert wait_state(redis, 721, "production", "pending_approval")


def test_a_membership_awaiting_approval_makes_no_group_approver(console, gitlab, redis):
    tg = console()
    did = pending(tg, gitlab, redis, 722)
    b, csrf = signed_in(tg, gitlab, "ina", uid=34)
    gitlab.add_member("platform/sre", "ina", 40, membership_state="awaiting")
    status, _, body = b.request("POST", "/api/v1/deployments/%s/approve" % did, body={},
                                headers={"X-CSRF-Token": csrf})
    detail = json.loads(body)["detail"]
    assert status == 403 and "membership of group platform/sre awaits approval" in detail
    assert wait_state(redis, 722, "production", "pending_approval")


def test_a_stalled_gitlab_never_delays_a_page_view(console, gitlab, redis):
    """A card view reads the membership cache only: GitLab hanging far longer than the request's
    timeout (and than gitlab.timeout) does not hold the answer; the vote still asks, fails closed."""
    tg = console(gitlab_timeout="120s")
    did = pending(tg, gitlab, redis, 723)
    b, csrf = signed_in(tg, gitlab, "sam", uid=31)
    gitlab.add_member("platform/sre", "sam", 40)
    gitlab.script("users", *[{"hang": 120}] * 4)
    for _ in range(4):  # more than the read lane has threads
        status, _, body = b.request("GET", "/api/v1/deployments/" + did)
        assert status == 200 and json.loads(body)["you"]["may_approve"] is None


# ---- cookies, sessions, next ----

def test_http2_split_cookie_fields_are_joined(console, gitlab):
    """RFC 9113 section 8.2.3: an HTTP/2 client may send each cookie as its own field."""
    tg = console(tls=True)
    b, _ = signed_in(tg, gitlab, "alice", uid=11)
    url = "https://localhost:%d/ui/session" % tg.tls_port
    p = subprocess.run(["curl", "-sS", "--http2", "--cacert", str(tg.cert), "--max-time", "15",
                        "-w", "\n%{http_version} %{http_code}", "-H", "Cookie: theme=dark",
                        "-H", "Cookie: tollgate_session=" + b.cookies["tollgate_session"], url],
                       capture_output=True)
    body, _, tail = p.stdout.decode().rpartition("\n")
    assert tail == "2 200", (tail, body, p.stderr)
    assert json.loads(body)["username"] == "alice"


def test_signing_in_again_ends_the_old_session(console, gitlab, redis):
    tg = console()
    b = Browser(tg.url)
    assert sign_in(b)[0] == 302
    old = b.cookies["tollgate_session"]
    assert sign_in(b)[0] == 302
    assert b.cookies["tollgate_session"] != old
    stale = Browser(tg.url)
    stale.cookies["tollgate_session"] = old
    assert session_of(tg, stale)[0] == 401
    assert session_of(tg, b)[0] == 200


def test_next_cannot_leave_the_console(console):
    tg = console()
    for asked in ("/ui/../api/v1/deployments", "/ui/./x", "/ui/%2e%2e/api/v1/audit", "/ui/%2E/x",
                  "/ui/x/..", "/ui/%2f%2fevil.example", "/ui/x%5c..%5capi", "/ui//evil.example",
                  "/ui/x\\y"):
        b = Browser(tg.url)
        status, h, _ = sign_in(b, next_path=asked)
        assert status == 302 and h["location"] == "/ui/", (asked, h["location"])
    b = Browser(tg.url)
    assert sign_in(b, next_path="/ui/deployments/a.b")[1]["location"] == "/ui/deployments/a.b"


# ---- headers on every answer ----

SECURITY = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer",
            "x-frame-options": "DENY"}


def assert_console_headers(what, h, store=True):
    for k, v in SECURITY.items():
        assert h.get(k) == v, (what, k, h.get(k))
    assert "frame-ancestors 'none'" in h.get("content-security-policy", ""), what
    if store:
        assert h.get("cache-control") == "no-store", (what, h.get("cache-control"))


def test_every_ui_answer_carries_the_security_headers(console, gitlab, redis):
    tg = console()
    b = Browser(tg.url)
    for method, path in (("GET", "/ui/login"), ("POST", "/ui/login"), ("GET", "/ui/callback"),
                         ("GET", "/ui/callback?code=a&state=b"), ("GET", "/ui/callback?error=x"),
                         ("GET", "/ui/session"), ("POST", "/ui/logout"), ("GET", "/ui"),
                         ("GET", "/ui/nope"), ("POST", "/ui/"), ("GET", "/ui/assets/nope.js")):
        status, h, _ = b.request(method, path)
        assert_console_headers("%s %s %d" % (method, path, status), h)
    for path in ("/ui/", "/ui/assets/app.js"):
        status, h, _ = b.request("GET", path)
        assert status == 200 and h["cache-control"] == "no-cache"
        assert_console_headers(path, h, store=False)
    status, h, _ = sign_in(b)
    assert status == 302
    assert_console_headers("callback 302", h)
    gitlab.set_current_user("bob")
    status, h, _ = sign_in(Browser(tg.url))
    assert status == 403
    assert_console_headers("callback refusal page", h)
    _, s = session_of(tg, b)
    for method, path, hdrs in (("GET", "/ui/session", {}), ("GET", "/ui/logout", {}),
                               ("POST", "/ui/logout", {"X-CSRF-Token": s["csrf_token"]})):
        status, h, _ = b.request(method, path, headers=hdrs)
        assert_console_headers("signed in %s %s %d" % (method, path, status), h)
    minute = int(time.time() // 60)
    for m in (minute, minute + 1):
        redis.cmd("SET", login_key(m), 30, "EX", 180)
    status, h, _ = b.request("GET", "/ui/login")
    assert status == 429
    assert_console_headers("429", h)


def test_api_answers_are_never_stored(console, gitlab, redis):
    tg = console()
    b, csrf = signed_in(tg, gitlab, "alice", uid=11)
    for method, path, hdrs in (("GET", "/api/v1/deployments?status=pending", {}),
                               ("GET", "/api/v1/audit?limit=1", {}),
                               ("POST", "/api/v1/deployments/nope/approve", {}),
                               ("GET", "/api/v1/deployments/nope", {})):
        status, h, _ = b.request(method, path, headers=hdrs)
        assert h.get("cache-control") == "no-store" and h.get("x-content-type-options") == "nosniff", \
            (method, path, status)
    status, h, _ = Browser(tg.url).request("GET", "/api/v1/deployments")
    assert status == 401 and h.get("cache-control") == "no-store"


# ---- the environments page's API ----

def test_environments_show_live_decision_and_every_pending_request(console, gitlab, redis):
    """GET /api/v1/environments reads deploy's indexes, not the last audit records: a row shows
    the newest triggered deployment with its approvers, the newest decision in its current
    state (denied shows), and the count of all pending requests with the soonest few."""
    tg = console()
    b, csrf = signed_in(tg, gitlab, "alice", uid=11)
    first = pending(tg, gitlab, redis, 740)
    status, _, body = b.request("POST", "/api/v1/deployments/%s/approve" % first, body={},
                                headers={"X-CSRF-Token": csrf})
    assert status == 200, body
    wait_state(redis, 740, "production", "triggered")
    for p in (741, 742, 743, 744):  # other refs: a newer pipeline of a ref supersedes its older ones
        pending(tg, gitlab, redis, p, ref="release/%d" % p, env="anyone")
    denied = pending(tg, gitlab, redis, 745)
    status, _, body = b.request("POST", "/api/v1/deployments/%s/deny" % denied,
                                body={"reason": "not today"}, headers={"X-CSRF-Token": csrf})
    assert status == 200, body
    status, h, body = b.request("GET", "/api/v1/environments")
    assert status == 200 and h["cache-control"] == "no-store"
    rows = json.loads(body)["environments"]
    row = [r for r in rows if r["environment"] == "production" and r["project_id"] == 7]
    assert len(row) == 1, rows
    row = row[0]
    assert row["project"] == "shop/cart"
    assert row["live"]["pipeline"] == 740 and row["live"]["approved_by"] == ["alice"]
    dec = row["decision"]
    assert dec["pipeline"] == 745 and dec["state"] == "denied" and dec["denied_by"] == "alice"
    assert dec["deny_reason"] == "not today" and dec["id"] == denied
    assert row["pending"] == {"count": 0, "first": []}
    other = [r for r in rows if r["environment"] == "anyone" and r["project_id"] == 7]
    assert len(other) == 1 and other[0]["live"] is None, rows
    assert other[0]["decision"]["pipeline"] == 744 and other[0]["decision"]["state"] == "pending_approval"
    assert other[0]["pending"]["count"] == 4 and len(other[0]["pending"]["first"]) == 3, other
    assert {d["pipeline"] for d in other[0]["pending"]["first"]} == {741, 742, 743}  # soonest expiry
    assert Browser(tg.url).request("GET", "/api/v1/environments")[0] == 401
