#!/usr/bin/env python3
"""A stand-in DefectDojo: the one endpoint Tollgate calls, following DefectDojo's documented API v2
contract (OpenAPI schema of /api/v2/reimport-scan/, dojo/api_v2/serializers.py ReImportScanSerializer),
recording every upload, and able to misbehave on cue.

    POST /api/v2/reimport-scan/   "Authorization: Token <key>" (401 without one: {"detail": "Authentication
                                  credentials were not provided."}; 403 with a wrong one: {"detail":
                                  "Invalid token."}); multipart/form-data (Content-Length or chunked).
                                  Field errors answer 400 with DefectDojo's shape {"field": ["message"]}:
                                  scan_type required and one of SCAN_TYPES; file required; booleans
                                  true/false; minimum_severity one of Info, Low, Medium, High, Critical;
                                  with auto_create_context, product_name and engagement_name required
                                  (product_type_name too when the product does not exist yet).
                                  auto_create_context creates product type, product, engagement and test
                                  by name and reuses them on the next call (the test matched by
                                  engagement + test_title, else scan_type); an unknown environment is
                                  created. 201 {"test", "test_id", "engagement_id", "product_id",
                                  "product_type_id", "statistics", "scan_type", ...}.

Control (for tests and `make demo`), JSON over HTTP:
    GET  /_control/uploads   every reimport request: fields (repeated ones, e.g. tags, as lists), file
                             (latin-1 string of the bytes), file_name, file_sha256, file_bytes, status,
                             headers, at
    GET  /_control/context   product types, products, engagements, tests and environments by name
    POST /_control/script    {"responses": [{"status": 500}, {"status": 429, "retry_after": 1},
                             {"status": 400, "body": {"scan_type": ["..."]}}, {"hang": 5}, {"close": true}]}
                             the next reimport requests get these answers in order (after the body was
                             read and recorded); then normal service resumes
    POST /_control/down      {"down": true}: every reimport is answered 503 until {"down": false}
    POST /_control/reset

Run standalone: python3 defectdojo.py --port 0 --api-key KEY (prints "listening on PORT").
"""
import argparse
import hashlib
import itertools
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

from gitlab import GitLab, Server  # the same threading HTTP server and life cycle
from gitlab import Handler as GitLabHandler

# Parser names as DefectDojo's dojo/tools/*/parser.py get_scan_types() spell them (a subset).
SCAN_TYPES = {
    "Trivy Scan", "Horusec Scan", "SARIF", "Anchore Grype", "GitLab SAST Report",
    "GitLab Container Scan", "GitLab Dependency Scanning Report", "GitLab Secret Detection Report",
    "GitLab DAST Report", "GitLab API Fuzzing Report Scan", "ZAP Scan", "Semgrep JSON Report",
}
SEVERITIES = ("Info", "Low", "Medium", "High", "Critical")
BOOLEANS = ("active", "verified", "close_old_findings", "auto_create_context", "push_to_jira",
            "do_not_reactivate", "close_old_findings_product_scope")
REIMPORT = "/api/v2/reimport-scan/"


class State:
    def __init__(self, api_key):
        self.api_key = api_key
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.uploads = []
            self.scripts = []
            self.down = False
            self.ids = itertools.count(1)
            self.product_types = {}  # name -> id
            self.products = {}  # name -> {"id", "product_type_id"}
            self.engagements = {}  # (product id, name) -> id
            self.tests = {}  # (engagement id, title or scan_type) -> id
            self.environments = {"Development", "Lab", "Production", "Staging", "Test", "Pre-prod"}

    def scripted(self):
        with self.lock:
            return self.scripts.pop(0) if self.scripts else None


def read_chunked(rfile):
    out = bytearray()
    while True:
        size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return bytes(out)
        out += rfile.read(size)
        rfile.readline()


def parse_multipart(body, ctype):
    """RFC 7578 form-data: {name: [values]} (str, or (filename, bytes) for files). None when malformed."""
    params = dict(p.strip().split("=", 1) for p in ctype.split(";")[1:] if "=" in p)
    boundary = params.get("boundary", "").strip('"')
    if not ctype.startswith("multipart/form-data") or not boundary:
        return None
    fields = {}
    delim = b"--" + boundary.encode()
    parts = body.split(delim)
    if len(parts) < 3 or not parts[-1].startswith(b"--"):
        return None
    for part in parts[1:-1]:
        if not part.startswith(b"\r\n") or not part.endswith(b"\r\n"):
            return None
        head, sep, data = part[2:-2].partition(b"\r\n\r\n")
        if not sep:
            return None
        disp = {}
        for line in head.decode("latin-1").split("\r\n"):
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-disposition":
                for p in v.split(";")[1:]:
                    pk, _, pv = p.strip().partition("=")
                    disp[pk] = pv.strip('"')
        if "name" not in disp:
            return None
        value = (disp["filename"], data) if "filename" in disp else data.decode("utf-8", "replace")
        fields.setdefault(disp["name"], []).append(value)
    return fields


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "stand-in-defectdojo"
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    @property
    def state(self):
        return self.server.state

    reply = GitLabHandler.reply  # JSON with Content-Length, extra headers

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        with self.state.lock:
            if path == "/_control/uploads":
                return self.reply(200, list(self.state.uploads))
            if path == "/_control/context":
                st = self.state
                return self.reply(200, {"product_types": st.product_types, "products": st.products,
                                        "engagements": {"%s/%s" % k: v for k, v in st.engagements.items()},
                                        "tests": {"%s/%s" % k: v for k, v in st.tests.items()},
                                        "environments": sorted(st.environments)})
        self.reply(404, {"detail": "Not found."})

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return read_chunked(self.rfile)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        raw = self.read_body()
        if path.startswith("/_control/"):
            return self.control(path, json.loads(raw or b"{}"))
        if path != REIMPORT:
            return self.reply(404, {"detail": "Not found."})
        fields = parse_multipart(raw, self.headers.get("Content-Type") or "")
        entry = self.record(fields)
        status, body, headers = self.answer(fields)
        entry["status"] = status
        if status is None:
            return
        self.reply(status, body, headers)

    def record(self, fields):
        entry = {"headers": dict(self.headers), "at": time.time(), "fields": {}, "status": None}
        for name, values in (fields or {}).items():
            if name == "file":
                fname, data = values[0]
                entry.update(file=data.decode("latin-1"), file_name=fname, file_bytes=len(data),
                             file_sha256=hashlib.sha256(data).hexdigest())
            else:
                entry["fields"][name] = values if len(values) > 1 or name == "tags" else values[0]
        with self.state.lock:
            self.state.uploads.append(entry)
        return entry

    def answer(self, fields):
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Token "):
            return 401, {"detail": "Authentication credentials were not provided."}, None
        if auth[6:] != self.state.api_key:
            return 403, {"detail": "Invalid token."}, None
        s = self.state.scripted()
        if s:
            if s.get("hang"):
                time.sleep(float(s["hang"]))
            if s.get("close"):
                self.close_connection = True
                self.connection.shutdown(2)
                return None, None, None
            if "status" in s:
                headers = {"Retry-After": str(s["retry_after"])} if "retry_after" in s else None
                return int(s["status"]), s.get("body", {"detail": "scripted %d" % s["status"]}), headers
        if self.state.down:
            return 503, {"detail": "Service Unavailable"}, None
        if fields is None:
            return 400, {"detail": "Multipart form parse error - Invalid boundary in multipart: None"}, None
        errors = validate(fields)
        if errors:
            return 400, errors, None
        if too_long_for_the_database(fields):
            return 500, {"detail": "A server error occurred."}, None
        return self.reimport(fields)

    def reimport(self, f):
        one = {k: v[0] for k, v in f.items() if k != "file"}
        st = self.state
        with st.lock:
            product = st.products.get(one["product_name"])
            if product is None:
                if not one.get("product_type_name"):
                    return 400, {"product_type_name": ["Product '%s' doesn't exist and no product_type_name "
                                                       "was provided" % one["product_name"]]}, None
                pt = st.product_types.setdefault(one["product_type_name"], next(st.ids))
                product = st.products[one["product_name"]] = {"id": next(st.ids), "product_type_id": pt}
            eng = st.engagements.setdefault((product["id"], one["engagement_name"]), next(st.ids))
            test_key = (eng, one.get("test_title") or one["scan_type"])
            test = st.tests.setdefault(test_key, next(st.ids))
            if one.get("environment"):
                st.environments.add(one["environment"])
        findings = count_findings(f["file"][0][1])
        stats = {"before": empty_stats(), "delta": {"created": findings, "closed": empty_stats(),
                                                    "reactivated": empty_stats(), "untouched": empty_stats()},
                 "after": findings}
        body = {"test": test, "test_id": test, "engagement_id": eng, "product_id": product["id"],
                "product_type_id": product["product_type_id"], "scan_type": one["scan_type"],
                "statistics": stats}
        for k in ("product_name", "product_type_name", "engagement_name", "test_title", "build_id",
                  "commit_hash", "branch_tag", "version", "environment", "minimum_severity"):
            if k in one:
                body[k] = one[k]
        return 201, body, None

    def control(self, path, body):
        st = self.state
        if path == "/_control/reset":
            st.reset()
        elif path == "/_control/script":
            with st.lock:
                st.scripts.extend(body["responses"])
        elif path == "/_control/down":
            with st.lock:
                st.down = bool(body.get("down", True))
        else:
            return self.reply(404, {"detail": "no such control"})
        self.reply(200, {"ok": True})


def empty_stats():
    return {s.lower(): {"active": 0, "verified": 0, "duplicate": 0, "false_p": 0, "out_of_scope": 0,
                        "is_mitigated": 0, "risk_accepted": 0, "total": 0} for s in SEVERITIES} | {
        "total": {"active": 0, "verified": 0, "duplicate": 0, "false_p": 0, "out_of_scope": 0,
                  "is_mitigated": 0, "risk_accepted": 0, "total": 0}}


def count_findings(data):
    """A rough total for the statistics (the stand-in does not parse every format)."""
    stats = empty_stats()
    try:
        doc = json.loads(data)
    except ValueError:
        return stats
    n = 0
    if isinstance(doc, dict):
        for r in doc.get("Results") or []:
            n += len(r.get("Vulnerabilities") or []) if isinstance(r, dict) else 0
        n += len(doc.get("vulnerabilities") or []) + len(doc.get("matches") or [])
        for run in doc.get("runs") or []:
            n += len(run.get("results") or []) if isinstance(run, dict) else 0
        n += len((doc.get("analysisVulnerabilities") or []))
    stats["total"]["total"] = stats["total"]["active"] = n
    return stats


# Column sizes of what a reimport writes (dojo/models.py). The serializer checks only
# source_code_management_uri (a URLField, max_length=600: a 400 field error); the others reach
# the database, which refuses a longer value: DefectDojo answers 500.
SERIALIZER_MAX = {"source_code_management_uri": 600}
MODEL_MAX = {"product_type_name": 255, "product_name": 255, "engagement_name": 300, "test_title": 255,
             "build_id": 150, "commit_hash": 150, "branch_tag": 150, "version": 100, "environment": 200}


def too_long_for_the_database(f):
    return any(len(f[k][0]) > n for k, n in MODEL_MAX.items() if k in f and isinstance(f[k][0], str))


def validate(f):
    errors = {}
    one = {k: v[0] for k, v in f.items()}
    if "scan_type" not in one:
        errors["scan_type"] = ["This field is required."]
    elif one["scan_type"] not in SCAN_TYPES:
        errors["scan_type"] = ['"%s" is not a valid choice.' % one["scan_type"]]
    if "file" not in one or not isinstance(one["file"], tuple):
        errors["file"] = ["No file was submitted."]
    for b in BOOLEANS:
        if b in one and one[b] not in ("true", "false", "True", "False", "1", "0"):
            errors[b] = ["Must be a valid boolean."]
    for k, n in SERIALIZER_MAX.items():
        if isinstance(one.get(k), str) and len(one[k]) > n:
            errors[k] = ["Ensure this field has no more than %d characters." % n]
    if "minimum_severity" in one and one["minimum_severity"] not in SEVERITIES:
        errors["minimum_severity"] = ['"%s" is not a valid choice.' % one["minimum_severity"]]
    if one.get("auto_create_context") in ("true", "True", "1"):
        for k in ("product_name", "engagement_name"):
            if not one.get(k):
                errors[k] = ["This field is required when auto_create_context is true."]
    elif not errors:
        errors["non_field_errors"] = ["Test must be specified (test or auto_create_context with names)."]
    return errors


class DefectDojo:
    """In-process stand-in: DefectDojo(api_key).start(); .url; .uploads(); .script(...); .set_down(b)."""

    def __init__(self, api_key="dd-standin-api-key-0123456789", port=0):
        self.state = State(api_key)
        self.api_key = api_key
        self.server = Server(("127.0.0.1", port), Handler)
        self.server.state = self.state
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = None

    start = GitLab.start
    stop = GitLab.stop

    def uploads(self, status=None):
        with self.state.lock:
            return [dict(u) for u in self.state.uploads if status is None or u["status"] == status]

    def script(self, *responses):
        with self.state.lock:
            self.state.scripts.extend(responses)

    def set_down(self, down):
        with self.state.lock:
            self.state.down = down


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--api-key", default="dd-standin-api-key-0123456789")
    a = ap.parse_args()
    d = DefectDojo(a.api_key, a.port)
    print("listening on %d" % d.port, flush=True)
    try:
        d.server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
