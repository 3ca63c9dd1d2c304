#!/usr/bin/env python3
"""The console step of `make demo`: sign in with the stand-in GitLab (OAuth with PKCE, as a
browser does), read what the console's pages read, and print the console's address and a
sign-in link for the demo user.

From scripts/demo.py:

    import demo_console
    config_text += demo_console.config_lines()   # console: (public_url is the demo's own)
    env.update(demo_console.env())               # the OAuth client secrets those lines name
    demo_console.register(gitlab, tollgate_url)  # the OAuth application and the demo user
    ...the stories...
    demo_console.show(tollgate_url, say=say)     # signs in, prints the URL and what it shows

The stand-in GitLab consents at once for its current user, so opening the printed link in a
browser signs that user in with no password: a demo convenience, never a GitLab behaviour.
"""
import http.cookiejar
import json
import urllib.parse
import urllib.request

CLIENT_ID, CLIENT_SECRET = "tollgate-demo-console", "gloas-demo-console-secret"
USER = ("alice", "Alice Approver", ["platform"])  # approves in the chat step as well


def config_lines():
    return """\
console:
  oauth: { client_id: env:DEMO_OAUTH_CLIENT_ID, client_secret: env:DEMO_OAUTH_CLIENT_SECRET }
  allow_groups: [platform, security]
  session_ttl: 12h
"""


def env():
    return {"DEMO_OAUTH_CLIENT_ID": CLIENT_ID, "DEMO_OAUTH_CLIENT_SECRET": CLIENT_SECRET}


def register(gitlab, url):
    gitlab.oauth_app(CLIENT_ID, CLIENT_SECRET, url + "/ui/callback")
    gitlab.add_user(USER[0], groups=USER[2], name=USER[1])


def sign_in(url):
    """The browser's round trip: /ui/login -> GitLab authorize -> /ui/callback -> /ui/."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(url + "/ui/login?next=" + urllib.parse.quote("/ui/#/environments", safe=""),
                     timeout=10) as r:
        r.read()

    def get(path):
        with opener.open(url + path, timeout=10) as r:
            return json.loads(r.read())
    return get


def show(url, say=print):
    get = sign_in(url)
    who = get("/ui/session")
    pipelines = set()
    for action in ("decided", "redecided"):
        for r in get("/api/v1/audit?action=%s&limit=100" % action)["records"]:
            pipelines.add((r["project"], r["pipeline"], r["decision"], r["environment"] or "no environment"))
    say("Console: %s/ui/" % url)
    say("   signed in as %s (%s), groups %s: the console shows %d decided pipelines:" % (
        who["username"], who["name"], ", ".join(who["groups"]), len({p[:2] for p in pipelines})))
    for project, pipeline, decision, env in sorted(pipelines):
        say("     %s #%d: %s (%s)" % (project, pipeline, decision, env))
    say("   sign-in link for the demo user (the stand-in GitLab consents at once):")
    say("     %s/ui/login?next=%s" % (url, urllib.parse.quote("/ui/#/environments", safe="")))
