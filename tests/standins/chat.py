#!/usr/bin/env python3
"""A stand-in Slack and Mattermost: the endpoints Tollgate posts to, recording every post, and
clients that send Tollgate what Slack and Mattermost send (signed, or deliberately not).

Server (what Tollgate calls), following Slack's and Mattermost's documented contracts (README,
"Approvals and ChatOps"):
    POST /slack/webhook/<name>          Slack incoming webhook: JSON {text, blocks}; answers "ok"
    POST /slack/api/chat.postMessage    Slack Web API: Bearer bot token, JSON {channel, text, blocks};
                                        answers {"ok": true, "channel", "ts"} (or ok:false, invalid_auth)
    POST /slack/response/<n>            a response_url handed out in slash commands and clicks
    POST /mattermost/hooks/<id>         Mattermost incoming webhook: JSON {text, attachments, ...}
Control (for tests and the demo):
    GET  /_control/requests             every post: kind, path, headers, json, at
    POST /_control/script               {"match": "slack_webhook"|"slack_api"|"slack_response"|
                                        "mattermost", "responses": [{"status": 500}, {"hang": 5}]}
    POST /_control/reset

Clients (what Slack and Mattermost send Tollgate):
    SlackClient(tollgate_url, signing_secret, chat).slash(user_id, text)
    SlackClient(...).click(user_id, action, value)          block_actions with a response_url here
    MattermostClient(tollgate_url, token, chat).slash(user_id, user_name, text)
    MattermostClient(...).click(user_id, context)           the server's call to integration.url
Each returns (status, parsed JSON or raw bytes). Options make requests stale, forged, tampered or
replayed, to prove Tollgate refuses them.

Run standalone: python3 chat.py --port 0 --bot-token xoxb-... (prints "listening on PORT").
"""
import argparse
import hashlib
import hmac
import http.client
import itertools
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from gitlab import GitLab, Server  # the same threading HTTP server and life cycle

KINDS = (("/slack/webhook/", "slack_webhook"), ("/slack/api/chat.postMessage", "slack_api"),
         ("/slack/response/", "slack_response"), ("/mattermost/hooks/", "mattermost"))


class State:
    def __init__(self, bot_token):
        self.bot_token = bot_token
        self.lock = threading.Lock()
        self.ts = itertools.count(1)
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = []
            self.scripts = {}

    def record(self, entry):
        with self.lock:
            self.requests.append(entry)

    def scripted(self, kind):
        with self.lock:
            queue = self.scripts.get(kind) or []
            return queue.pop(0) if queue else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stand-in-chat"
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    @property
    def state(self):
        return self.server.state

    def reply(self, status, body, ctype="application/json"):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if urllib.parse.urlsplit(self.path).path == "/_control/requests":
            with self.state.lock:
                return self.reply(200, list(self.state.requests))
        self.reply(404, {"error": "not_found"})

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path.startswith("/_control/"):
            return self.control(path, json.loads(raw or b"{}"))
        kind = next((k for prefix, k in KINDS if path.startswith(prefix)), None)
        if kind is None:
            return self.reply(404, b"no_service", "text/plain")
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        self.state.record({"kind": kind, "path": path, "headers": dict(self.headers), "json": body,
                           "at": time.time()})
        s = self.state.scripted(kind)
        if s and s.get("hang"):
            time.sleep(float(s["hang"]))
        if s and "status" in s:
            return self.reply(int(s["status"]), b"scripted failure", "text/plain")
        if body is None:
            return self.reply(400, b"invalid_payload", "text/plain")
        if kind == "slack_api":
            return self.post_message(body)
        self.reply(200, b"ok", "text/plain")

    def post_message(self, body):
        if self.headers.get("Authorization") != "Bearer %s" % self.state.bot_token:
            return self.reply(200, {"ok": False, "error": "invalid_auth"})
        if not body.get("channel"):
            return self.reply(200, {"ok": False, "error": "channel_not_found"})
        self.reply(200, {"ok": True, "channel": body["channel"], "ts": "1700000000.%06d" % next(self.state.ts)})

    def control(self, path, body):
        if path == "/_control/reset":
            self.state.reset()
        elif path == "/_control/script":
            with self.state.lock:
                self.state.scripts.setdefault(body["match"], []).extend(body["responses"])
        else:
            return self.reply(404, {"error": "no such control"})
        self.reply(200, {"ok": True})


class Chat:
    """In-process stand-in: Chat(bot_token).start(); .url; .posts(kind); .slack_webhook_url..."""

    def __init__(self, bot_token="xoxb-standin-bot-token", port=0):
        self.state = State(bot_token)
        self.server = Server(("127.0.0.1", port), Handler)
        self.server.state = self.state
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.slack_webhook_url = self.url + "/slack/webhook/T0TEST/B0TEST/standin"
        self.slack_api_url = self.url + "/slack/api"
        self.mattermost_webhook_url = self.url + "/mattermost/hooks/standin"
        self.responses = itertools.count(1)
        self.thread = None

    start = GitLab.start  # serve in a daemon thread; returns self
    stop = GitLab.stop

    def new_response_url(self):
        return self.url + "/slack/response/%d" % next(self.responses)

    def script(self, kind, *responses):
        with self.state.lock:
            self.state.scripts.setdefault(kind, []).extend(responses)

    def posts(self, kind=None):
        with self.state.lock:
            return [r for r in self.state.requests if kind is None or r["kind"] == kind]

    def slack_requests_for(self, deployment_id):
        """Slack posts whose buttons carry this deployment id (the approval requests)."""
        return [p for p in self.posts() if p["kind"] in ("slack_webhook", "slack_api")
                and deployment_id in json.dumps(p["json"]) and slack_buttons(p["json"])]


def slack_buttons(msg):
    """{action_id: value} of a Block Kit message's buttons."""
    out = {}
    for block in (msg or {}).get("blocks", []):
        for el in block.get("elements", []) if block.get("type") == "actions" else []:
            out[el["action_id"]] = el["value"]
    return out


def slack_text(msg):
    """Every text of a Slack message, joined (fallback text, sections, context)."""
    parts = [(msg or {}).get("text", "")]
    for block in (msg or {}).get("blocks", []):
        if block.get("type") == "section":
            parts.append(block["text"]["text"])
        for el in block.get("elements", []) if block.get("type") == "context" else []:
            parts.append(el.get("text", ""))
    return "\n".join(parts)


def mattermost_buttons(msg):
    """{action: {"url", "context"}} of a Mattermost message's buttons."""
    out = {}
    for att in (msg or {}).get("attachments", []):
        for a in att.get("actions", []):
            out[a["id"]] = a["integration"]
    return out


def _post(url, body, headers):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=15)
    try:
        c.request("POST", u.path, body=body, headers=headers)
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    try:
        return r.status, json.loads(data)
    except ValueError:
        return r.status, data


def slack_signature(secret, timestamp, body):
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


class SlackClient:
    """Sends Tollgate what Slack sends: form bodies signed with the app's signing secret."""

    def __init__(self, tollgate_url, signing_secret, chat=None, command="/tollgate"):
        self.url = tollgate_url.rstrip("/") + "/chatops/slack"
        self.secret = signing_secret
        self.chat = chat
        self.command = command
        self.last = None  # (headers, body) of the last request sent, for replays

    def send(self, body, ts=None, secret=None, signature=None, tamper=None, headers=None):
        """POSTs a form body. ts: the timestamp (default now); secret: sign with another key;
        signature: send this header instead; tamper: a function changing the body after signing."""
        ts = int(time.time()) if ts is None else ts
        sig = signature or slack_signature(secret or self.secret, ts, body)
        if tamper:
            body = tamper(body)
        h = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Slackbot 1.0",
             "X-Slack-Request-Timestamp": str(ts), "X-Slack-Signature": sig}
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        self.last = (h, body)
        return _post(self.url, body, h)

    def replay(self, **headers):
        """Sends the last request again, some headers changed (e.g. a fresh timestamp)."""
        h, body = self.last
        h = dict(h, **headers)
        return _post(self.url, body, h)

    def slash_body(self, user_id, text, user_name="someone"):
        response_url = self.chat.new_response_url() if self.chat else "https://hooks.slack.com/commands/T0/1/x"
        return urllib.parse.urlencode({
            "token": "deprecated-verification-token", "team_id": "T0TEST", "team_domain": "test",
            "channel_id": "C0DEPLOYS", "channel_name": "deploys", "user_id": user_id, "user_name": user_name,
            "command": self.command, "text": text, "response_url": response_url,
            "trigger_id": "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
            "api_app_id": "A0TOLLGATE"}).encode()

    def slash(self, user_id, text, **kw):
        return self.send(self.slash_body(user_id, text), **kw)

    def click_body(self, user_id, action, value):
        payload = {
            "type": "block_actions", "user": {"id": user_id, "username": user_id.lower(), "team_id": "T0TEST"},
            "api_app_id": "A0TOLLGATE", "team": {"id": "T0TEST", "domain": "test"},
            "channel": {"id": "C0DEPLOYS", "name": "deploys"},
            "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": "C0DEPLOYS"},
            "trigger_id": "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
            "response_url": self.chat.new_response_url() if self.chat else "https://hooks.slack.com/actions/x",
            "actions": [{"action_id": action, "block_id": "tollgate", "type": "button", "value": value,
                         "action_ts": "%.6f" % time.time()}]}
        return urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()

    def click(self, user_id, action, value, **kw):
        return self.send(self.click_body(user_id, action, value), **kw)


class MattermostClient:
    """Sends Tollgate what Mattermost sends: slash commands with the command token, and the
    server's button callbacks to integration.url carrying the button's context."""

    def __init__(self, tollgate_url, token, chat=None, command="/tollgate"):
        self.base = tollgate_url.rstrip("/")
        self.token = token
        self.command = command

    def slash(self, user_id, user_name, text, token=None, header=True):
        token = self.token if token is None else token
        body = urllib.parse.urlencode({
            "channel_id": "mmchannel0001", "channel_name": "deploys", "command": self.command,
            "response_url": "https://mattermost.example/hooks/commands/xyz", "team_domain": "test",
            "team_id": "mmteam0001", "text": text, "token": token, "trigger_id": "mmtrigger",
            "user_id": user_id, "user_name": user_name}).encode()
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        if header:
            h["Authorization"] = "Token %s" % token
        return _post(self.base + "/chatops/mattermost", body, h)

    def click(self, user_id, context, url=None, user_name=None):
        body = {"user_id": user_id, "post_id": "mmpost0001", "channel_id": "mmchannel0001",
                "team_id": "mmteam0001", "context": context}
        if user_name:
            body["user_name"] = user_name
        target = url or self.base + "/chatops/mattermost"
        return _post(target, json.dumps(body).encode(), {"Content-Type": "application/json"})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--bot-token", default="xoxb-standin-bot-token")
    a = ap.parse_args()
    c = Chat(a.bot_token, a.port)
    print("listening on %d" % c.port, flush=True)
    try:
        c.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
