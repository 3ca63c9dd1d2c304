"""The console's files under /ui/, served from the binary itself: content types, ETag and
304, the security headers on every /ui/ answer, 404 and 405, and no inline script or style
in the page (the CSP would block them, and their absence is what makes the CSP hold)."""
import pathlib
import re

import harness

ROOT = pathlib.Path(__file__).resolve().parents[2]
CSP = ("default-src 'self'; script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
       "base-uri 'none'")


def secure(r):
    assert r.headers.get("content-security-policy") == CSP, r.headers
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert r.headers.get("referrer-policy") == "no-referrer"
    assert r.headers.get("x-frame-options") == "DENY"


def test_pages_are_served_from_the_binary_with_their_headers(tollgate):
    tg = tollgate()
    for path, ctype, source in (("/ui/", "text/html; charset=utf-8", "index.html"),
                                ("/ui/assets/app.js", "text/javascript; charset=utf-8", "app.js"),
                                ("/ui/assets/app.css", "text/css; charset=utf-8", "app.css"),
                                ("/ui/assets/index.html", "text/html; charset=utf-8", "index.html")):
        r = harness.curl(tg.url + path, method="GET")
        assert r.status == 200 and r.headers["content-type"] == ctype, (path, r.status, r.headers)
        assert r.body == (ROOT / "console" / source).read_bytes()  # the bytes in the tree, from memory
        secure(r)
        assert r.headers["cache-control"] == "no-cache" and re.fullmatch(r'"[0-9a-f]{16}"', r.headers["etag"])
        again = harness.curl(tg.url + path, method="GET", headers={"If-None-Match": r.headers["etag"]})
        assert again.status == 304 and again.body == b"" and again.headers["etag"] == r.headers["etag"]
        secure(again)
        other = harness.curl(tg.url + path, method="GET", headers={"If-None-Match": '"0000000000000000"'})
        assert other.status == 200 and other.body == r.body
    r = harness.curl(tg.url + "/ui/assets/app.js", method="GET", mode="h2c")
    assert r.status == 200 and r.http_version == "HTTP/2"
    secure(r)


def test_unknown_pages_and_other_methods_are_refused_with_the_headers(tollgate):
    tg = tollgate()
    for path in ("/ui/nope", "/ui/assets/", "/ui/assets/%2e%2e/x/app.js", "/ui/assets/app.js.map",
                 "/ui/assets/sub/app.js"):
        r = harness.curl(tg.url + path, method="GET")
        assert r.status == 404 and r.json()["error"] == "not_found", path
        secure(r)
    r = harness.curl(tg.url + "/ui/", method="POST", body=b"x")
    assert r.status == 405 and r.headers["allow"] == "GET, HEAD"
    secure(r)
    r = harness.curl(tg.url + "/ui", method="GET")  # h2o sends the bare path on to /ui/
    assert r.status in (301, 308) and r.headers["location"].endswith("/ui/")


def test_the_page_has_no_inline_script_or_style():
    html = (ROOT / "console" / "index.html").read_text()
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, re.S)
    assert scripts and all(s.strip() == "" for s in scripts)  # only src= scripts
    assert all('src="/ui/assets/' in tag for tag in re.findall(r"<script\b[^>]*>", html))
    assert "<style" not in html and not re.search(r"\sstyle=", html) and not re.search(r"\son[a-z]+=", html)
    js = (ROOT / "console" / "app.js").read_text()
    # text from outside goes in as text: no HTML sinks anywhere in the app
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in js, sink
