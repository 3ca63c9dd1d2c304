/* Tollgate console: a small hash-routed page app over the /api/v1 routes and /ui/session.
 *
 * Rules kept throughout: every text that came from GitLab, a scanner or a person goes into the
 * page through createTextNode / textContent (the el() helper below), never as HTML; no inline
 * scripts or styles (the CSP forbids them); a 401 from anything means the session is gone, so
 * the browser goes back to /ui/login.
 */
(function () {
  "use strict";

  var session = null;
  var main = null;
  var expiryTimer = null;
  var flash = null; /* a vote's outcome, shown once above the page drawn after it */
  var PAGE_SIZE = 25;
  var ACTIONS = ["received", "decided", "redecided", "kept", "waiting", "approval_requested",
    "approved", "denied", "approval_refused", "expired", "withdrawn", "superseded",
    "approvals_voided", "triggered", "reconciling", "trigger_failed", "unknown",
    "commit_status", "forwarded", "forward_failed", "ignored", "rejected", "duplicate", "dead_lettered",
    "config_reloaded", "replayed", "dropped"];
  var FILTERS = ["project", "ref", "sha", "pipeline", "environment", "action", "actor", "since",
    "until"];

  /* ---- DOM: text only ---- */

  /* el("p", {class: "x"}, "text", otherNode): strings become text nodes, attributes are set
   * with setAttribute (never on*, never style), so nothing here can become markup. */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    var k;
    for (k in attrs || {}) {
      if (!Object.prototype.hasOwnProperty.call(attrs, k) || attrs[k] === null ||
          attrs[k] === undefined || attrs[k] === false)
        continue;
      if (/^on/i.test(k) || k === "style")
        throw new Error("el: refusing attribute " + k);
      node.setAttribute(k, attrs[k] === true ? "" : String(attrs[k]));
    }
    for (var i = 2; i < arguments.length; i++)
      append(node, arguments[i]);
    return node;
  }

  function append(node, child) {
    if (child === null || child === undefined || child === false)
      return;
    if (Array.isArray(child)) {
      child.forEach(function (c) { append(node, c); });
      return;
    }
    node.appendChild(typeof child === "object" ? child : document.createTextNode(String(child)));
  }

  function clear(node) {
    while (node.firstChild)
      node.removeChild(node.firstChild);
  }

  /* Only http(s) links from data become hrefs (a javascript: URL from a payload would run). */
  function safeUrl(u) {
    return typeof u === "string" && /^https?:\/\//i.test(u) ? u : null;
  }

  function extLink(url, text) {
    var u = safeUrl(url);
    return u ? el("a", {href: u, rel: "noopener noreferrer", target: "_blank"}, text) : null;
  }

  function short(sha) {
    return typeof sha === "string" ? sha.slice(0, 8) : "";
  }

  function when(t) {
    if (!t)
      return "";
    var d = new Date(t);
    return isNaN(d) ? String(t) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  function timeLeft(t) {
    var ms = new Date(t) - Date.now();
    if (!t || isNaN(ms))
      return "no expiry";
    if (ms <= 0)
      return "expired";
    var m = Math.floor(ms / 60000), h = Math.floor(m / 60);
    return h > 0 ? h + " h " + (m % 60) + " min left" : m + " min left";
  }

  function badge(kind, value) {
    return el("span", {class: "badge " + kind + "-" + String(value).replace(/[^a-z_]/g, "")},
      String(value));
  }

  function kv(pairs) {
    var dl = el("dl", {class: "kv"});
    pairs.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || p[1] === "")
        return;
      append(dl, [el("dt", null, p[0]), el("dd", null, p[1])]);
    });
    return dl;
  }

  function list(items, render) {
    if (!items || items.length === 0)
      return el("p", {class: "muted"}, "none");
    return el("ul", {class: "plain"}, items.map(function (x) { return el("li", null, render(x)); }));
  }

  function message(text, error) {
    return el("p", {class: error ? "msg error" : "msg", role: error ? "alert" : "status"}, text);
  }

  /* ---- talking to the gateway ---- */

  function toLogin() {
    var next = "/ui/" + (location.hash || "");
    location.assign("/ui/login?next=" + encodeURIComponent(next));
  }

  function ApiError(status, body) {
    this.status = status;
    this.body = body || {};
    this.message = (body && (body.detail || body.error)) || ("HTTP " + status);
  }

  /* fetch + JSON; a 401 anywhere ends the page (back to sign-in). */
  function api(path, opts) {
    opts = opts || {};
    var headers = {"Accept": "application/json"};
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["X-CSRF-Token"] = session ? session.csrf_token : "";
    }
    return fetch(path, {
      method: opts.method || "GET", credentials: "same-origin", headers: headers,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined
    }).then(function (r) {
      if (r.status === 401) {
        toLogin();
        return new Promise(function () {});
      }
      return r.text().then(function (t) {
        var body = null;
        try { body = t ? JSON.parse(t) : null; } catch (e) { body = null; }
        if (!r.ok)
          throw new ApiError(r.status, body);
        return body;
      });
    });
  }

  function query(params) {
    var parts = [];
    Object.keys(params).forEach(function (k) {
      if (params[k] !== undefined && params[k] !== null && params[k] !== "")
        parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(params[k]));
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  function audit(params) {
    return api("/api/v1/audit" + query(params));
  }

  /* Re-checks the session when it is due to expire, so an idle page goes back to sign-in. */
  function watchExpiry() {
    if (expiryTimer)
      clearTimeout(expiryTimer);
    var ms = session && session.expires_at ? new Date(session.expires_at) - Date.now() : NaN;
    if (!isNaN(ms))
      expiryTimer = setTimeout(loadSession, Math.max(1000, Math.min(ms + 1000, 2147483000)));
  }

  function loadSession() {
    return api("/ui/session").then(function (s) {
      session = s;
      var who = document.getElementById("who");
      clear(who);
      append(who, [s.name ? s.name + " " : "", el("span", {class: "mono"}, "@" + s.username)]);
      document.getElementById("logout").hidden = false;
      watchExpiry();
      return s;
    });
  }

  function logout() {
    api("/ui/logout", {method: "POST", body: {}}).then(function () {
      location.assign("/ui/login");
    }, function () {
      location.assign("/ui/login");
    });
  }

  /* ---- pieces shared by the pages ---- */

  function findingText(f) {
    var where = f.package ? f.package + (f.version ? " " + f.version : "") :
      (f.file || "") + (f.line ? ":" + f.line : "");
    return [badge("sev", f.severity || "unknown"), " ", el("code", null, f.id || ""),
      where ? " in " + where : "", f.fixed ? " (fixed in " + f.fixed + ")" : "",
      f.title ? el("div", {class: "muted"}, f.title) : null,
      f.report ? el("div", {class: "muted mono"}, f.report) : null];
  }

  function exceptionsBlock(ex) {
    ex = ex || {};
    return el("div", null,
      el("h3", null, "Exceptions"),
      kv([["applied", (ex.applied || []).join(", ") || "none"],
        ["expired", (ex.expired || []).join(", ") || "none"]]));
  }

  function countsText(c) {
    if (!c)
      return "";
    return ["critical", "high", "medium", "low", "info", "unknown"].map(function (k) {
      return k + " " + (c[k] || 0);
    }).join(", ");
  }

  function votersText(d) {
    var v = (d.voters || []).map(function (x) {
      return x.identity + " (" + x.channel + ", " + when(x.at) + ")";
    });
    return (d.votes || 0) + " of " + (d.required || 1) + (v.length ? ": " + v.join("; ") : "");
  }

  /* Approve (comment optional) and deny (reason required), or why this user may not. */
  function voteForm(d, done) {
    var you = d.you || {};
    var status = el("div", {"aria-live": "polite"});
    var cid = "c-" + d.id, rid = "r-" + d.id, wid = "w-" + d.id;
    var comment = el("input", {id: cid, name: "comment", type: "text", autocomplete: "off"});
    var reason = el("input", {id: rid, name: "reason", type: "text", autocomplete: "off"});
    /* may_approve/may_deny: true, false (reason says why) or null (only GitLab can tell:
     * the vote asks it; the button stays enabled and the note says so). */
    var approve = el("button", {type: "button", class: "primary", "data-action": "approve",
      disabled: you.may_approve === false || you.may_approve === undefined,
      "aria-describedby": you.may_approve === true ? null : wid}, "Approve");
    var deny = el("button", {type: "button", class: "danger", "data-action": "deny",
      disabled: you.may_deny === false || you.may_deny === undefined,
      "aria-describedby": you.may_deny === true ? null : wid + "-d"}, "Deny");
    function note(may, id, verb, why) {
      if (may === true) return null;
      return el("p", {class: "why", id: id}, may === null ? "Note: " + why :
        "You cannot " + verb + ": " + (why || "your permission could not be determined"));
    }
    var form = el("form", {class: "vote", "aria-label": "Vote on " + d.id},
      el("label", {for: cid}, "Comment (optional)"), comment,
      el("div", {class: "row"}, approve),
      note(you.may_approve, wid, "approve", you.reason),
      el("label", {for: rid}, "Reason to deny (required)"), reason,
      el("div", {class: "row"}, deny),
      note(you.may_deny, wid + "-d", "deny", you.deny_reason), status);
    function send(action, body) {
      approve.disabled = deny.disabled = true;
      clear(status);
      api("/api/v1/deployments/" + encodeURIComponent(d.id) + "/" + action,
        {method: "POST", body: body}).then(function (r) {
        var text = action === "approve" ? "Approval recorded (" + r.outcome + ") for " + d.id +
          "." : "Denied " + d.id + ".";
        append(status, message(text));
        if (done) {
          flash = text;
          done(r);
        }
      }, function (e) {
        append(status, message("Refused: " + e.message, true));
        approve.disabled = you.may_approve === false || you.may_approve === undefined;
        deny.disabled = you.may_deny === false || you.may_deny === undefined;
      });
    }
    approve.addEventListener("click", function () {
      send("approve", comment.value ? {comment: comment.value} : {});
    });
    deny.addEventListener("click", function () {
      if (!reason.value.trim()) {
        clear(status);
        append(status, message("Give a reason to deny.", true));
        reason.focus();
        return;
      }
      send("deny", {reason: reason.value});
    });
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    return form;
  }

  function decisionOf(d) {
    return d.decision || {};
  }

  /* ---- page: waiting for approval ---- */

  /* A card from the list entry; its reasons, findings, exceptions and the vote form come with
   * the deployment's own answer (the list carries no decisions, and "you" is per deployment). */
  function pendingCard(d) {
    var card = el("article", {class: "card", "data-id": d.id},
      el("h2", null, el("a", {href: "#/deployments/" + encodeURIComponent(d.id)},
        d.project + " → " + d.environment)),
      kv([["ref", d.ref], ["sha", el("code", {title: d.sha}, short(d.sha))],
        ["pipeline", extLink(d.pipeline_url, "#" + d.pipeline) || "#" + d.pipeline],
        ["chart pipeline", extLink(d.downstream_url, "downstream") || "not triggered yet"],
        ["started by", d.user], ["time left", timeLeft(d.expires_at)],
        ["who may approve", (d.approvers || []).length ? d.approvers.join(", ") :
          "anyone allowed to approve"],
        ["votes", votersText(d)]]));
    var slot = el("div", null, el("p", {class: "muted"}, "Loading the reasons…"));
    append(card, slot);
    api("/api/v1/deployments/" + encodeURIComponent(d.id)).then(function (full) {
      var dec = decisionOf(full);
      clear(slot);
      append(slot, [el("h3", null, "Reasons"), list(dec.reasons, function (r) { return r; }),
        el("h3", null, "Findings that tipped it"), list(dec.findings, findingText),
        exceptionsBlock(dec.exceptions), voteForm(full, function () { setTimeout(route, 0); })]);
    }, function (e) {
      clear(slot);
      append(slot, message(e.message, true));
    });
    return card;
  }

  function pagePending(params) {
    return api("/api/v1/deployments?status=pending").then(function (r) {
      var all = r.deployments || [];
      var shown = all.slice(0, Number(params.show) || PAGE_SIZE);
      var total = typeof r.total === "number" ? r.total : all.length;
      var out = [el("h1", null, "Waiting for approval (" + total + ")")];
      if (total > all.length)
        out.push(el("p", {class: "muted"}, "The " + all.length + " expiring soonest are listed."));
      if (all.length === 0)
        out.push(el("p", {class: "muted"}, "Nothing is waiting for approval."));
      out.push(el("div", {class: "grid"}, shown.map(pendingCard)));
      if (shown.length < all.length)
        out.push(el("p", null, el("a", {href: "#/pending?show=" + (shown.length + PAGE_SIZE)},
          "Show more (" + (all.length - shown.length) + " not shown)")));
      return out;
    });
  }

  /* ---- page: environments ---- */

  /* One call: per project and environment the newest triggered and decided deployments and
   * what waits, from the deployment indexes (not the audit trail, which a busy install's
   * other projects would crowd out). The decision shows its current state: a later deny or
   * expiry is seen. */
  function pageEnvironments() {
    return api("/api/v1/environments").then(function (res) {
      var rows = res.environments || [];
      var out = [el("h1", null, "Environments")];
      if (rows.length === 0)
        out.push(el("p", {class: "muted"}, "No deployment has been decided yet."));
      var grid = el("div", {class: "grid"});
      rows.forEach(function (r) {
        var live = r.live, dec = r.decision, pend = r.pending || {count: 0, first: []};
        var project = r.project || "project " + r.project_id;
        var shown = (pend.first || []).filter(function (d) { return d; });
        var more = pend.count - shown.length;
        append(grid, el("article", {class: "card"},
          el("h2", null, (r.environment || "no environment") + " · " + project),
          el("h3", null, "Live"),
          live ? kv([["pipeline", el("a", {href: "#/audit" + query({project: project,
            pipeline: live.pipeline})}, "#" + live.pipeline)],
          ["sha", el("code", {title: live.sha}, short(live.sha))], ["ref", live.ref],
          ["triggered", when(live.triggered_at)],
          ["chart pipeline", extLink(live.downstream_url, "downstream")],
          ["approved by", (live.approved_by || []).length ? live.approved_by.join(", ") :
            "no approval needed"]]) :
            el("p", {class: "muted"}, "nothing triggered yet"),
          el("h3", null, "Last decision"),
          dec ? kv([["verdict", badge("v", dec.verdict)], ["state", badge("s", dec.state)],
            ["pipeline", dec.id ? el("a", {href: "#/deployments/" + encodeURIComponent(dec.id)},
              "#" + dec.pipeline) : "#" + dec.pipeline],
            ["when", when(dec.decided_at)], ["why", dec.reason],
            dec.denied_by ? ["denied by", dec.denied_by + ": " + (dec.deny_reason || "")] : null
          ].filter(function (x) { return x; })) :
            el("p", {class: "muted"}, "none"),
          el("h3", null, "Pending"),
          shown.length ? list(shown, function (d) {
            return el("a", {href: "#/deployments/" + encodeURIComponent(d.id)},
              "#" + d.pipeline + " " + short(d.sha) + " (" + timeLeft(d.expires_at) + ")");
          }) : el("p", {class: "muted"}, "nothing"),
          more > 0 ? el("p", {class: "muted"}, el("a", {href: "#/pending"},
            more + " more pending")) : null));
      });
      out.push(grid);
      return out;
    });
  }

  /* ---- page: one deployment ---- */

  var TIMELINE = {
    received: "received", decided: "decided", redecided: "decided again",
    approval_requested: "approval requested", approved: "approved", denied: "denied",
    approval_refused: "vote refused", expired: "expired", withdrawn: "withdrawn",
    superseded: "superseded", approvals_voided: "approvals voided", triggered: "triggered",
    trigger_failed: "trigger failed", reconciling: "reconciling", unknown: "outcome unknown",
    commit_status: "commit status", forwarded: "forwarded to DefectDojo",
    forward_failed: "not forwarded to DefectDojo"
  };

  function timelineItem(r) {
    var det = r.details || {};
    var extra = det.comment || (r.reasons || [])[0] || det.state || det.downstream_url ||
      (r.action === "forwarded" ? det.url : "") || "";
    return el("li", null, el("strong", null, TIMELINE[r.action] || r.action), " · ",
      when(r.time), " · ", el("span", {class: "mono"}, r.actor || ""),
      extra ? el("div", {class: "muted"}, String(extra)) : null,
      el("div", {class: "muted"}, el("a", {href: "#/audit" + query({project: r.project,
        pipeline: r.pipeline, order: "asc"})}, "seq " + r.seq)));
  }

  function reportsTable(reports) {
    if (!reports || !reports.length)
      return el("p", {class: "muted"}, "no reports counted");
    return el("table", {class: "records"},
      el("thead", null, el("tr", null, ["report", "format", "status", "counts", "excepted"]
        .map(function (h) { return el("th", {scope: "col"}, h); }))),
      el("tbody", null, reports.map(function (r) {
        return el("tr", null,
          el("td", {"data-label": "report"}, (r.job || "") + "/" + (r.artifact || "")),
          el("td", {"data-label": "format"}, r.format || ""),
          el("td", {"data-label": "status"}, r.status || "", r.error ? " (" + r.error + ")" : ""),
          el("td", {"data-label": "counts"}, countsText(r.counts)),
          el("td", {"data-label": "excepted"}, String(r.excepted || 0)));
      })));
  }

  function pageDeployment(id) {
    return api("/api/v1/deployments/" + encodeURIComponent(id)).then(function (d) {
      var dec = decisionOf(d);
      return audit({project: d.project, pipeline: d.pipeline, order: "asc", limit: 500})
        .then(function (a) {
          var recs = a.records.filter(function (r) {
            return !r.environment || r.environment === d.environment;
          });
          var card = el("section", {class: "card stack"},
            el("h2", null, "Decision"),
            kv([["verdict", badge("v", d.verdict || dec.verdict || "")],
              ["state", badge("s", d.state || "")], ["rule", d.rule || dec.rule],
              ["counts", countsText(dec.counts)], ["policy hash", el("code", null,
                (d.policy_hash || "").slice(0, 16))]]),
            el("h3", null, "Reasons"), list(dec.reasons, function (r) { return r; }),
            el("h3", null, "Counts per report"), reportsTable(dec.reports),
            el("h3", null, "Findings"), list(dec.findings, findingText),
            exceptionsBlock(dec.exceptions));
          var head = el("section", {class: "card"},
            kv([["project", d.project], ["environment", d.environment], ["ref", d.ref],
              ["sha", el("code", null, d.sha)],
              ["pipeline", extLink(d.pipeline_url, "#" + d.pipeline) || "#" + d.pipeline],
              ["chart pipeline", extLink(d.downstream_url, "downstream") || "not triggered"],
              ["started by", d.user], ["votes", votersText(d)],
              ["who may approve", (d.approvers || []).length ? d.approvers.join(", ") :
                "anyone allowed to approve"],
              ["expires", d.expires_at ? when(d.expires_at) + " (" + timeLeft(d.expires_at) +
                ")" : ""],
              ["denied by", d.denied_by ? d.denied_by + ": " + (d.deny_reason || "") : ""]]),
            d.state === "pending_approval" ? voteForm(d, function () { setTimeout(route, 0); })
              : null);
          return [el("h1", null, "Deployment ", el("code", null, d.id)), head, card,
            el("section", {class: "card"}, el("h2", null, "Timeline"),
              recs.length ? el("ol", {class: "timeline"}, recs.map(timelineItem)) :
                el("p", {class: "muted"}, "no audit records"))];
        });
    });
  }

  /* ---- page: audit ---- */

  function chainState() {
    var box = el("p", {class: "chain", "aria-live": "polite"}, "Checking the chain…");
    api("/api/v1/audit/verify").then(function (v) {
      clear(box);
      if (v.broken)
        append(box, el("span", {class: "bad"}, "Chain broken at seq " + v.broken.seq + ": " +
          v.broken.reason + (v.broken.detail ? " (" + v.broken.detail + ")" : "")));
      else
        append(box, el("span", {class: "ok"}, "Chain verified up to seq " + v.head.seq +
          " at " + when(new Date().toISOString())),
        v.complete ? "" : " (checked " + v.records + " records this time; more remain)");
    }, function (e) {
      clear(box);
      append(box, el("span", {class: "bad"}, "Chain state unknown: " + e.message));
    });
    return box;
  }

  function filterForm(params) {
    var fields = FILTERS.map(function (f) {
      var id = "f-" + f, input;
      if (f === "action") {
        input = el("select", {id: id, name: f}, el("option", {value: ""}, "any"),
          ACTIONS.map(function (a) {
            return el("option", {value: a, selected: params[f] === a}, a);
          }));
      } else {
        input = el("input", {id: id, name: f, type: "text", value: params[f] || "",
          placeholder: f === "since" || f === "until" ? "2026-11-24 or RFC 3339" : null});
      }
      return el("div", null, el("label", {for: id}, f), input);
    });
    var order = el("select", {id: "f-order", name: "order"},
      el("option", {value: "desc", selected: params.order !== "asc"}, "newest first"),
      el("option", {value: "asc", selected: params.order === "asc"}, "oldest first"));
    var form = el("form", {class: "filters", role: "search"}, fields,
      el("div", null, el("label", {for: "f-order"}, "order"), order),
      el("div", null, el("button", {type: "submit", class: "primary"}, "Search")));
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var p = {};
      FILTERS.concat(["order"]).forEach(function (f) {
        var v = form.elements[f].value.trim();
        if (v && !(f === "order" && v === "desc"))
          p[f] = v;
      });
      location.hash = "#/audit" + query(p);
    });
    return form;
  }

  function recordRow(r) {
    var det = r.details || {};
    return el("tr", null,
      el("td", {"data-label": "seq"}, String(r.seq)),
      el("td", {"data-label": "time"}, when(r.time)),
      el("td", {"data-label": "action"}, r.action),
      el("td", {"data-label": "actor"}, r.actor || ""),
      el("td", {"data-label": "project"}, r.project || ""),
      el("td", {"data-label": "pipeline"}, r.pipeline ? el("a", {href: "#/audit" +
        query({project: r.project, pipeline: r.pipeline, order: "asc"})}, "#" + r.pipeline) : ""),
      el("td", {"data-label": "environment"}, r.environment || ""),
      el("td", {"data-label": "decision"}, r.decision || ""),
      el("td", {"data-label": "reason"}, (r.reasons || [])[0] || det.comment || ""));
  }

  function pageAudit(params) {
    var q = {};
    FILTERS.concat(["order", "cursor"]).forEach(function (f) {
      if (params[f])
        q[f] = params[f];
    });
    q.limit = 50;
    return audit(q).then(function (page) {
      var exp = {};
      Object.keys(q).forEach(function (k) {
        if (k !== "cursor" && k !== "limit")
          exp[k] = q[k];
      });
      exp.limit = 1000;
      var nav = el("p", {class: "row"},
        params.cursor ? el("a", {href: "#/audit" + query(Object.assign({}, params,
          {cursor: null}))}, "First page") : null,
        page.next_cursor ? el("a", {href: "#/audit" + query(Object.assign({}, params,
          {cursor: page.next_cursor})), id: "next-page"}, "Next page") :
          el("span", {class: "muted"}, "End of the records."),
        el("a", {href: "/api/v1/audit" + query(exp), download: "tollgate-audit.json"},
          "Export (JSON, up to 1,000 records)"));
      return [el("h1", null, "Audit"), chainState(), filterForm(params),
        page.from_seq > 1 ? el("p", {class: "muted"}, "Records before seq " + page.from_seq +
          " are in the archive (tollgate audit export --from-archive).") : null,
        el("table", {class: "records"},
          el("thead", null, el("tr", null, ["seq", "time", "action", "actor", "project",
            "pipeline", "environment", "decision", "reason"].map(function (h) {
            return el("th", {scope: "col"}, h);
          }))),
          el("tbody", null, page.records.map(recordRow))),
        page.records.length ? null : el("p", {class: "muted"}, "No records on this page."),
        nav];
    });
  }

  /* ---- router ---- */

  function parseHash() {
    var h = location.hash.replace(/^#\/?/, "");
    var qi = h.indexOf("?"), path = qi < 0 ? h : h.slice(0, qi), params = {};
    if (qi >= 0)
      h.slice(qi + 1).split("&").forEach(function (kvp) {
        var i = kvp.indexOf("=");
        if (i > 0)
          params[decodeURIComponent(kvp.slice(0, i))] = decodeURIComponent(kvp.slice(i + 1));
      });
    return {parts: path.split("/").filter(Boolean), params: params};
  }

  function route() {
    var r = parseHash(), page = r.parts[0] || "environments", work;
    if (page === "pending")
      work = pagePending(r.params);
    else if (page === "deployments" && r.parts[1])
      work = pageDeployment(r.parts[1]);
    else if (page === "audit")
      work = pageAudit(r.params);
    else {
      page = "environments";
      work = pageEnvironments();
    }
    Array.prototype.forEach.call(document.querySelectorAll("nav a"), function (a) {
      if (a.getAttribute("data-page") === page)
        a.setAttribute("aria-current", "page");
      else
        a.removeAttribute("aria-current");
    });
    main.setAttribute("aria-busy", "true");
    var note = flash;
    flash = null;
    work.then(function (nodes) {
      clear(main);
      append(main, [note ? message(note) : null, nodes]);
    }, function (e) {
      clear(main);
      append(main, message(e.status === 404 ? "Not found: " + e.message :
        "Could not load this page: " + e.message, true));
    }).then(function () {
      main.setAttribute("aria-busy", "false");
      main.setAttribute("data-page", page);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    main = document.getElementById("main");
    document.getElementById("logout").addEventListener("click", logout);
    loadSession().then(function () {
      window.addEventListener("hashchange", function () {
        loadSession().then(route);
      });
      route();
    });
  });
})();
