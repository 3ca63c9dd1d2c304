"""The console in a real browser: headless Debian chromium driven by selenium, against the
real binary, a real Redis and the stand-in GitLab (webhooks, artifacts, triggers, and its
OAuth/OIDC endpoints that auto-consent for the user a test names).

Covers: signing in through GitLab and signing out; a pending deployment with its reasons and findings;
approving by keyboard with a comment, and the trigger reaching GitLab; the pipeline's own user
seeing Approve disabled with the reason (and their hand-made request refused), and denying
with a reason (none: the page asks for one); a POST without X-CSRF-Token refused; a user outside
allow_groups refused; an expired session sent back to sign in; a finding title that is HTML
shown as text; the pages usable at 390 px without sideways scrolling. Screenshots of every page
at 1280 and 390 px go to build/console/ (docs/img/ holds committed copies).

Skips, saying why, only when chromium, chromedriver or selenium is not installed (make deps
installs all three); everything else fails loudly. Waits are bounded (WebDriverWait), never
sleeps.
"""
import base64
import json
import os
import pathlib
import shutil

import pytest

import harness
import pipelines
from harness import wait_until
from pipelines import pipeline_event, serve_report
from test_approvals import POLICY, write_sets
from test_deliver import deploy_state, gitlab, post, wait_state  # noqa: F401 (gitlab: a fixture)

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    SELENIUM = None
except ImportError as e:  # reported by the skip below
    SELENIUM = str(e)

MISSING = [what for what, ok in (("chromium", CHROMIUM), ("chromedriver (chromium-driver)", CHROMEDRIVER),
                                 ("python3-selenium", SELENIUM is None)) if not ok]
if MISSING:
    print("test_console_ui: skipped: %s not installed (make deps installs them)" % ", ".join(MISSING))
pytestmark = pytest.mark.skipif(bool(MISSING), reason="not installed: %s (make deps installs them)"
                                % ", ".join(MISSING))

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHOTS = ROOT / "build" / "console"
XSS = '<img src=x onerror="window.__pwned=1">'
HIGHS = "trivy/dd_legacy_trivy_mix.json"  # 6 high: production needs approval
CLIENT_ID, CLIENT_SECRET = "tollgate-console-test", "gloas-console-test-secret-0001"
USERS = {  # username: (name, groups) as the stand-in's /oauth/userinfo reports them
    "alice": ("Alice Approver", ["platform"]),
    "dora": ("Dora Developer", ["platform", "shop"]),
    "mallory": ("Mallory Outsider", ["marketing"]),
    "zed": ("Zed Reader", ["platform"]),  # may sign in and read, is no approver
}
CONSOLE = """\
console:
  oauth: { client_id: env:TG_TEST_OAUTH_ID, client_secret: env:TG_TEST_OAUTH_SECRET }
  allow_groups: [platform, security]
  session_ttl: 1h
  public_url: http://127.0.0.1:%d
"""
WAIT = 20  # seconds, the bound of every wait on the browser


@pytest.fixture
def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,900", "--force-device-scale-factor=1", "--lang=en-US"):
        opts.add_argument(a)
    d = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    d.set_page_load_timeout(WAIT)
    yield d
    d.quit()


@pytest.fixture
def console(gitlab, redis, logdir):
    """A gateway with the console on, its public_url its own address; stopped at the end."""
    started = []

    def make():
        for name, (full, groups) in USERS.items():
            gitlab.add_user(name, groups=groups, name=full, current=False)
        sets = write_sets(logdir, policy=POLICY)
        env = dict(pipelines.env(), TG_TEST_OAUTH_ID=CLIENT_ID, TG_TEST_OAUTH_SECRET=CLIENT_SECRET)
        tg = harness.Tollgate(logdir / "tollgate", redis.url, workers=2, env=env,
                              extra=pipelines.config_extra(gitlab.url, "@CONSOLE@"), **sets)
        tg.config.write_text(tg.config.read_text().replace("@CONSOLE@", CONSOLE % tg.port))
        gitlab.oauth_app(CLIENT_ID, CLIENT_SECRET, tg.url + "/ui/callback")
        started.append(tg)
        return tg.start()

    yield make
    for tg in started:
        tg.stop()


def xss_report():
    """The approval fixture with every finding's title replaced by markup."""
    data = json.loads((pipelines.REPORTS / HIGHS).read_bytes())
    for result in data:
        for v in result.get("Vulnerabilities") or []:
            v["Title"] = XSS
    return json.dumps(data).encode()


def pending(tg, gitlab, redis, pipeline, user="dora", report=None):
    serve_report(gitlab, 7, 500 + pipeline, report or pipelines.REPORTS / HIGHS)
    post(tg, pipeline_event(pipeline=pipeline, ref="main", user=user,
                            builds=(("trivy-scan", 500 + pipeline, "success"),)))
    wait_state(redis, pipeline, "production", "pending_approval")
    return wait_until(lambda: deploy_state(redis, pipeline, "production").get("approval_id"), what="the id")


def wait(d, cond, what):
    try:
        return WebDriverWait(d, WAIT).until(cond)
    except TimeoutException:
        raise AssertionError("browser: waited %ds for %s; at %s: %s\nconsole: %s" % (
            WAIT, what, d.current_url, d.find_element(By.TAG_NAME, "body").text[:2000],
            d.get_log("browser")[-10:]) + "\nmain: " + d.find_element(By.ID, "main").get_attribute("outerHTML")[:1500])


def sign_in(d, tg, gitlab, user):
    gitlab.set_current_user(user)
    d.get(tg.url + "/ui/login")
    wait(d, lambda d: d.current_url.startswith(tg.url + "/ui/") and "@" + user in
         d.find_element(By.ID, "who").text, "%s to be signed in" % user)


def open_page(d, tg, hash_, page):
    d.get(tg.url + "/ui/" + hash_)
    wait(d, lambda d: d.find_element(By.ID, "main").get_attribute("data-page") == page and
         d.find_element(By.ID, "main").get_attribute("aria-busy") == "false", "the %s page" % page)
    return d.find_element(By.ID, "main")


def screenshot(d, name):
    """build/console/<name>-<width>.png at 1280 and 390 px, the whole page; also checks that
    nothing needs sideways scrolling at either width."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width, mobile in ((1280, False), (390, True)):
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile})
        overflow = d.execute_script("return document.documentElement.scrollWidth")
        assert overflow <= width, "%s is %d px wide at %d px" % (name, overflow, width)
        height = d.execute_script("return document.documentElement.scrollHeight")
        shot = d.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": min(height, 4000), "scale": 1}})
        (SHOTS / ("%s-%d.png" % (name, width))).write_bytes(base64.b64decode(shot["data"]))
    d.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def card(d, did):
    return wait(d, EC.presence_of_element_located((By.CSS_SELECTOR, 'article[data-id="%s"] form.vote' % did)),
                "the vote form of %s" % did).find_element(By.XPATH, "./ancestor::article")


# ---- the tests ----

def test_sign_in_see_why_and_approve_by_keyboard(console, gitlab, redis, browser):
    tg = console()
    did = pending(tg, gitlab, redis, 700, user="dora", report=xss_report())
    d = browser
    sign_in(d, tg, gitlab, "alice")
    main = open_page(d, tg, "#/pending", "pending")
    c = card(d, did)
    text = c.text
    assert "shop/cart" in text and "production" in text and "main" in text
    assert "high" in text.lower() and "CVE-2018-16487" in text  # a finding that tipped it
    assert "alice, bob, carol, dora" in text and "0 of 1" in text and "left" in text
    # a finding title that is markup is shown as text: no element made, no script run
    assert XSS in text
    assert d.execute_script("return window.__pwned") is None
    assert d.find_elements(By.CSS_SELECTOR, "main img") == []
    screenshot(d, "pending")
    # keyboard only: type a comment, Tab to Approve, Enter
    comment = c.find_element(By.CSS_SELECTOR, "input[name=comment]")
    approve = c.find_element(By.CSS_SELECTOR, "button[data-action=approve]")
    assert approve.is_enabled()
    comment.send_keys("highs are in test tooling only")
    comment.send_keys(Keys.TAB)
    assert d.switch_to.active_element == approve
    approve.send_keys(Keys.ENTER)
    wait(d, lambda d: "Approval recorded (quorum)" in d.find_element(By.ID, "main").text, "the approval")
    wait_state(redis, 700, "production", "triggered")
    triggers = wait_until(lambda: gitlab.requests("trigger"), what="the trigger at GitLab")
    assert len(triggers) == 1
    approved = [json.loads(f["record"]) for _, f in redis.stream("tg:audit")]
    approved = [r for r in approved if r["action"] == "approved"]
    assert approved[-1]["actor"] == "alice" and approved[-1]["reasons"] == ["highs are in test tooling only"]
    # the deployment page: the decision explained and the timeline from the audit records
    main = open_page(d, tg, "#/deployments/" + did, "deployments")
    text = main.text
    assert "severity.approve" in text and "trivy-scan/trivy-report.json" in text and "high 6" in text
    for step in ("received", "decided", "approval requested", "approved", "triggered"):
        assert step in text, step
    assert XSS in text and d.execute_script("return window.__pwned") is None
    assert d.find_elements(By.CSS_SELECTOR, "main img") == []
    screenshot(d, "deployment")
    main = open_page(d, tg, "#/environments", "environments")
    text = main.text
    assert "production · shop/cart" in text and "#700" in text and "alice" in text
    screenshot(d, "environments")
    main = open_page(d, tg, "#/audit?project=shop%2Fcart&order=asc", "audit")
    wait(d, lambda d: "Chain verified up to seq" in d.find_element(By.ID, "main").text, "the chain state")
    assert "approval_requested" in main.text and "triggered" in main.text
    screenshot(d, "audit")
    # Sign out ends the session in Redis (POST /ui/logout with the CSRF token)
    before = redis.cmd("KEYS", "tg:console:session:*")
    assert len(before) == 1
    d.find_element(By.ID, "logout").send_keys(Keys.ENTER)
    wait_until(lambda: not redis.cmd("EXISTS", before[0]), what="the session to end")


def test_the_pipelines_own_user_sees_approve_disabled_and_is_refused(console, gitlab, redis, browser):
    tg = console()
    did = pending(tg, gitlab, redis, 710, user="dora")
    d = browser
    sign_in(d, tg, gitlab, "dora")
    open_page(d, tg, "#/pending", "pending")
    c = card(d, did)
    approve = c.find_element(By.CSS_SELECTOR, "button[data-action=approve]")
    assert not approve.is_enabled()
    why = c.find_element(By.CSS_SELECTOR, ".why").text
    assert why.startswith("You cannot approve:") and "dora" in why, why
    assert approve.get_attribute("aria-describedby") == c.find_element(By.CSS_SELECTOR, ".why").get_attribute("id")
    screenshot(d, "pending-own-pipeline")
    # a hand-made request with their session (and the right CSRF token) is refused all the same
    status = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/ui/session').then(r => r.json()).then(s => fetch(
            '/api/v1/deployments/' + arguments[0] + '/approve',
            {method: 'POST', headers: {'X-CSRF-Token': s.csrf_token, 'Content-Type': 'application/json'},
             body: '{}'})).then(r => done(r.status), e => done(String(e)));""", did)
    assert status == 403
    # and without the CSRF token a state-changing call is refused before anything else
    status = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/api/v1/deployments/' + arguments[0] + '/deny', {method: 'POST', body: '{"reason":"x"}'})
            .then(r => done(r.status), e => done(String(e)));""", did)
    assert status == 403
    assert deploy_state(redis, 710, "production")["state"] == "pending_approval"
    # they may deny it, with a reason: without one the page asks for it and sends nothing
    c = card(d, did)
    deny = c.find_element(By.CSS_SELECTOR, "button[data-action=deny]")
    deny.send_keys(Keys.ENTER)
    wait(d, lambda d: "Give a reason to deny." in c.text, "the page to ask for a reason")
    assert deploy_state(redis, 710, "production")["state"] == "pending_approval"
    c.find_element(By.CSS_SELECTOR, "input[name=reason]").send_keys("the scan found a reachable CVE")
    deny.send_keys(Keys.ENTER)
    wait(d, lambda d: "Denied %s." % did in d.find_element(By.ID, "main").text, "the denial")
    st = wait_state(redis, 710, "production", "denied")
    assert st["denied_by"] == "dora" and st["deny_reason"] == "the scan found a reachable CVE"


def test_a_non_approver_sees_approve_and_deny_disabled_with_the_reasons(console, gitlab, redis, browser):
    tg = console()
    did = pending(tg, gitlab, redis, 711, user="dora")
    d = browser
    sign_in(d, tg, gitlab, "zed")
    open_page(d, tg, "#/pending", "pending")
    c = card(d, did)
    for action, verb in (("approve", "approve"), ("deny", "deny")):
        button = c.find_element(By.CSS_SELECTOR, "button[data-action=%s]" % action)
        assert not button.is_enabled(), action
        why = c.find_element(By.ID, button.get_attribute("aria-describedby")).text
        assert why.startswith("You cannot %s:" % verb) and "zed is not an approver" in why, why
    assert deploy_state(redis, 711, "production")["state"] == "pending_approval"


def test_a_user_outside_allow_groups_is_refused(console, gitlab, redis, browser):
    tg = console()
    d = browser
    gitlab.set_current_user("mallory")
    d.get(tg.url + "/ui/login")
    wait(d, lambda d: "allow_groups" in d.find_element(By.TAG_NAME, "body").text or
         "not allowed" in d.find_element(By.TAG_NAME, "body").text.lower(), "the refusal page")
    assert d.get_cookie("tollgate_session") is None
    status = d.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/ui/session').then(r => done(r.status), e => done(String(e)));""")
    assert status == 401


def test_an_expired_session_goes_back_to_sign_in(console, gitlab, redis, browser):
    tg = console()
    d = browser
    sign_in(d, tg, gitlab, "alice")
    open_page(d, tg, "#/environments", "environments")
    keys = redis.cmd("KEYS", "tg:console:session:*")
    assert len(keys) == 1
    redis.cmd("PEXPIRE", keys[0], 1)  # the session's time is up
    wait_until(lambda: not redis.cmd("EXISTS", keys[0]), what="the session to expire")
    tokens = len(gitlab.requests("oauth_token"))
    d.find_element(By.CSS_SELECTOR, 'nav a[data-page="audit"]').send_keys(Keys.ENTER)
    # the page asks for its session, gets 401 and sends the browser to /ui/login; GitLab consents
    # at once (the stand-in), so it comes back with a new session, on the page it was going to
    wait_until(lambda: len(gitlab.requests("oauth_token")) > tokens, timeout=WAIT,
               what="the browser to be sent to sign in again")
    wait(d, lambda d: d.find_element(By.ID, "main").get_attribute("data-page") == "audit" and
         "@alice" in d.find_element(By.ID, "who").text, "the audit page after signing in again")
    assert "/ui/#/audit" in d.current_url
    again = redis.cmd("KEYS", "tg:console:session:*")
    assert len(again) == 1 and again != keys
