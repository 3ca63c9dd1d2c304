"""`tollgate report` against its stored expectations and, when one is at hand, an independent
reference counter (count_findings.py: TG_REFERENCE_COUNTER names it; by default it is looked
for in the sibling checkout ../shared/tools, which a fresh clone does not have). The counting
rule itself is the README's ("The counting rule"), not the reference's.

The cases are data: every sample in tests/fixtures/reports with its stored
<sample>.expected.json, and the variants and malformed inputs listed in
reports_cases.yaml. One check loop per kind:

  * stored:       tollgate equals the stored expectation (runs on a fresh clone);
  * differential: tollgate equals count_findings.py on the same sample (needs the reference);
  * variants:     a transform of a sample, written to tmp_path, against count_findings.py
                  on that same file, or the case's recorded expectation without the reference;
  * malformed:    exit status exactly 2, and stderr names the file, the format and a byte
                  offset;
  * regressions:  documents that were miscounted once, with their right value (counts, or
                  the refusal: exit 2, format and reason);
  * containers:   every array container of every sample swapped for an object, a string, a
                  number (and false, "", {}, 0), and its first entry for a non-object: exit 2
                  with the file, the format and the JSON path, never a count.
"""
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

from conftest import FIXTURES, SHARED

REPORTS = FIXTURES / "reports"
REFERENCE = pathlib.Path(os.environ.get("TG_REFERENCE_COUNTER")
                         or SHARED / "tools" / "count_findings.py")
CASES = yaml.safe_load((pathlib.Path(__file__).parent / "reports_cases.yaml").read_text())
BUCKETS = ("critical", "high", "medium", "low", "info", "unknown")
COMPARED = ("format", "total") + BUCKETS + ("extra",)
SAMPLES = sorted(p for p in REPORTS.glob("*/*")
                 if p.suffix in (".json", ".sarif") and not p.name.endswith(".expected.json"))

needs_reference = pytest.mark.skipif(
    not REFERENCE.exists(),
    reason="no reference counter (TG_REFERENCE_COUNTER): differential checks skipped "
           "(the stored expectations still run)")


def sample_id(p):
    return str(p.relative_to(REPORTS))


def tollgate(binary, *args):
    return subprocess.run([binary, "report", *map(str, args)], capture_output=True, timeout=120)


def counted(binary, path, *args):
    r = tollgate(binary, *args, path)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    out = json.loads(r.stdout)
    return {k: out[k] for k in COMPARED}, out


def reference(path):
    r = subprocess.run([sys.executable, str(REFERENCE), str(path)], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    out = json.loads(r.stdout)
    return {k: out[k] for k in COMPARED}


def stored(sample):
    return json.loads(pathlib.Path(str(sample) + ".expected.json").read_text())


# ---- stored expectations and the differential test ----

@pytest.mark.parametrize("sample", SAMPLES, ids=sample_id)
def test_stored_expectation(tollgate_bin, sample):
    got, out = counted(tollgate_bin, sample)
    assert got == stored(sample)
    ranks = [BUCKETS.index(f["severity"]) for f in out["findings"]]
    # most severe first (unknown sorts last), at most the default 10
    assert len(ranks) == min(10, out["total"])
    assert ranks == sorted(ranks, key=lambda b: (b == 5, b))


@needs_reference
@pytest.mark.parametrize("sample", SAMPLES, ids=sample_id)
def test_differential(tollgate_bin, sample):
    got, _ = counted(tollgate_bin, sample)
    assert got == reference(sample)


# ---- generated variants ----

SEVERITY_KEYS = {"Severity", "severity", "security-severity"}
LIST_KEYS = {"Vulnerabilities", "Misconfigurations", "Secrets", "analysisVulnerabilities",
             "vulnerabilities", "matches", "results"}
TEXT_KEYS = {"Title", "Description", "details", "description", "text", "solution", "code"}


def walk(doc, on_dict):
    """Applies on_dict to every object, depth first, and returns the new document."""
    if isinstance(doc, list):
        return [walk(x, on_dict) for x in doc]
    if isinstance(doc, dict):
        return on_dict({k: walk(v, on_dict) for k, v in doc.items()})
    return doc


def on_keys(keys, fn):
    def f(d):
        return {k: fn(v) if k in keys else v for k, v in d.items()}
    return f


def every_other(keys, fn):
    """Applies fn to the 1st, 3rd, ... list under one of keys; KeyError drops the key."""
    seen = [0]

    def f(d):
        out = {}
        for k, v in d.items():
            if k in keys and isinstance(v, list):
                seen[0] += 1
                v = fn(v) if seen[0] % 2 else v
                if v is KeyError:
                    continue
            out[k] = v
        return out
    return f


def innermost_twice(v):
    # only lists of findings: a list of resources/runs holding other lists stays as is
    def holds_lists(x):
        return any(isinstance(x[k], list) for k in (LIST_KEYS | {"Results"}) & x.keys())
    if isinstance(v, list) and all(isinstance(x, dict) and not holds_lists(x) for x in v):
        return [x for x in v for _ in (0, 1)]
    return v


def mixed(s):
    return "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(s)) if isinstance(s, str) else s


def all_strings(fn):
    def f(doc):
        if isinstance(doc, list):
            return [f(x) for x in doc]
        if isinstance(doc, dict):
            return {k: f(v) for k, v in doc.items()}
        return fn(doc) if isinstance(doc, str) else doc
    return f


TRANSFORMS = {
    "mixed_case": lambda d: walk(d, on_keys(SEVERITY_KEYS, mixed)),
    "padded": lambda d: walk(d, on_keys(SEVERITY_KEYS, lambda s: " \t%s\n " % s if isinstance(s, str) else s)),
    "reorder_keys": lambda d: walk(d, lambda o: dict(reversed(list(o.items())))),
    "null_lists": lambda d: walk(d, every_other(LIST_KEYS, lambda v: None)),
    "drop_lists": lambda d: walk(d, every_other(LIST_KEYS, lambda v: KeyError)),
    "duplicate_entries": lambda d: walk(d, on_keys(LIST_KEYS, innermost_twice)),
    "unicode_text": lambda d: walk(d, on_keys(TEXT_KEYS, lambda s: s + " \u00e9\u2713\u2028\U0001f512\u0000."
                                              if isinstance(s, str) else s)),
    "nul_everywhere": all_strings(lambda s: s + "\u0000"),
    "drop_severity": lambda d: walk(d, lambda o: {k: v for k, v in o.items() if k not in SEVERITY_KEYS}),
}


def doubled(base):
    """What listing every finding twice does to the reference's output."""
    out = dict(base, total=2 * base["total"], **{b: 2 * base[b] for b in BUCKETS})
    extra = dict(base["extra"])
    fmt = base["format"]
    if fmt in ("trivy", "grype"):
        entries = extra.get("vulnerabilities", base["total"]) if fmt == "trivy" else base["total"]
        extra["duplicates"] = extra["duplicates"] + entries
        for k in ("vulnerabilities", "misconfigurations", "secrets", "misconfig_not_fail"):
            if k in extra:
                extra[k] *= 2
    elif fmt == "horusec":
        extra["types"] = {k: 2 * v for k, v in extra["types"].items()}
    elif fmt == "gitlab":
        extra["severity_missing"] *= 2
    elif fmt == "sarif":
        extra["levels"] = {k: 2 * v for k, v in extra["levels"].items()}
        extra["suppressed"] *= 2
        extra["with_security_severity"] *= 2
    out["extra"] = extra
    return out


def expected_variant(case):
    base = stored(REPORTS / case["sample"])
    if case["expect"] == "same":
        return base
    if case["expect"] == "double":
        return doubled(base)
    return case["expect"]


@pytest.mark.parametrize("case", CASES["variants"], ids=lambda c: c["name"])
def test_variant(tollgate_bin, tmp_path, case):
    doc = json.loads((REPORTS / case["sample"]).read_text(encoding="utf-8"))
    path = tmp_path / (case["name"] + ".json")
    path.write_text(json.dumps(TRANSFORMS[case["transform"]](doc)), encoding="utf-8")
    got, _ = counted(tollgate_bin, path)
    want = reference(path) if REFERENCE.exists() else expected_variant(case)
    assert got == want
    if REFERENCE.exists():  # the recorded expectation must stay true too
        assert got == expected_variant(case)


# ---- malformed input ----

def make(spec, tmp_path, name):
    path = tmp_path / (name + ".json")
    if spec.get("missing"):
        return tmp_path / "no-such-report.json"
    if spec.get("directory"):
        path.mkdir()
        return path
    if "truncate" in spec:
        data = (REPORTS / spec["truncate"]).read_bytes()
        data = data[: len(data) // 2]
    elif "repeat" in spec:
        data = (spec.get("prefix", "") + spec["repeat"] * spec["times"] + spec.get("suffix", "")).encode()
    else:
        data = spec["text"].encode("latin-1" if spec.get("bytes") else "utf-8")
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", CASES["malformed"], ids=lambda c: c["name"])
def test_malformed(tollgate_bin, tmp_path, case):
    path = make(case["make"], tmp_path, case["name"])
    r = tollgate(tollgate_bin, *case.get("args", []), path)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 2, "exit %d (a negative status is a signal): %s" % (r.returncode, err)
    assert r.stdout == b""
    assert str(path) in err
    assert re.search(r": %s: byte \d+: " % re.escape(case["format"]), err), err


def test_other_files_still_counted(tollgate_bin, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"Results": [')
    good = REPORTS / "trivy" / "dd_scheme_2_many_vulns.json"
    r = tollgate(tollgate_bin, bad, good)
    assert r.returncode == 2
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["file"] == str(good)


def test_usage(tollgate_bin):
    assert tollgate(tollgate_bin, "--help").returncode == 0
    assert tollgate(tollgate_bin).returncode == 2
    assert tollgate(tollgate_bin, "--format", "nessus", "x.json").returncode == 2
    r = tollgate(tollgate_bin, "--top", "1", "--format", "sarif", REPORTS / "sarif" / "dd_dockle_0_3_15.sarif")
    out = json.loads(r.stdout)
    assert r.returncode == 0 and len(out["findings"]) == 1 and out["findings"][0]["severity"] == "high"


# ---- regressions (issue 9) ----

def refused(r, path, fmt, why):
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 2, "exit %d: %s / %s" % (r.returncode, err, r.stdout[:200])
    assert r.stdout == b""
    assert re.search(r"%s: %s: byte \d+: " % (re.escape(str(path)), re.escape(fmt)), err), err
    assert why in err, err


@pytest.mark.parametrize("case", CASES["regressions"], ids=lambda c: c["name"])
def test_regression(tollgate_bin, tmp_path, case):
    path = tmp_path / (case["name"] + ".json")
    path.write_text(case["text"], encoding="utf-8")
    want = case["expect"]
    # stricter: Tollgate's rule is stricter than the reference here (the README says how);
    # the reference is then not asked to agree.
    checked = REFERENCE.exists() and not case.get("stricter")
    if "error" in want:
        refused(tollgate(tollgate_bin, *case.get("args", []), path), path, want["format"], want["error"])
        if checked and not case.get("args"):  # the reference refuses it too
            r = subprocess.run([sys.executable, str(REFERENCE), str(path)], capture_output=True, timeout=120)
            assert r.returncode == 2, r.stdout
        return
    got, out = counted(tollgate_bin, path, *case.get("args", []))
    assert got == want
    assert out["scan_failed"] == case.get("scan_failed")
    if checked:
        assert reference(path) == want


# Samples whose scanner declared that it failed (Horusec "status": "error"); the others say null.
SCAN_FAILED = {"horusec/dd_issue_6258.json": '$.status is "error"', "horusec/dd_version_2.6.3.json": '$.status is "error"'}


@pytest.mark.parametrize("sample", SAMPLES, ids=sample_id)
def test_scan_failed_is_reported_outside_extra(tollgate_bin, sample):
    got, out = counted(tollgate_bin, sample)
    assert out["scan_failed"] == SCAN_FAILED.get(sample_id(sample))
    assert got == stored(sample)  # still counted


# ---- every array container swapped for another type ----

# The containers each format defines as arrays, as JSON paths with [*] for any index. SARIF's
# rules, extensions and invocations are arrays too (Tollgate checks them; the reference does not).
CONTAINERS = {
    "trivy": re.compile(r"^\$\.Results$|^\$(\.Results\[\*\]|\[\*\])\.(Vulnerabilities|Misconfigurations|Secrets|Licenses)$"
                        r"|^\$\.(Vulnerabilities|Misconfigurations|Resources|Findings)\[\*\]\.Results"
                        r"(\[\*\]\.(Vulnerabilities|Misconfigurations|Secrets|Licenses))?$"
                        r"|^\$\.(Vulnerabilities|Misconfigurations|Resources|Findings)$"),
    "horusec": re.compile(r"^\$\.analysisVulnerabilities$"),
    "gitlab": re.compile(r"^\$\.vulnerabilities$"),
    "grype": re.compile(r"^\$\.matches$"),
    "sarif": re.compile(r"^\$\.runs(\[\*\]\.(results(\[\*\]\.suppressions)?|tool\.driver\.rules|invocations"
                        r"|tool\.extensions(\[\*\]\.rules)?))?$"),
}
UNCHECKED_BY_REFERENCE = re.compile(r"(rules|extensions|invocations)(\[\d+\])?$")
SWAPS = {"object": {"VulnerabilityID": "CVE-1", "Severity": "CRITICAL", "severity": "Critical"},
         "string": "CVE-1", "number": 7, "false": False, "empty-string": "", "empty-object": {}, "zero": 0}
ENTRY_SWAPS = {"string": "CVE-1", "number": 7, "null": None, "list": [{}]}


def containers(doc, fmt):
    """(JSON path, generic path) of the first list at each generic container path."""
    found, seen = [], set()

    def walk(v, path, generic):
        if isinstance(v, list):
            if CONTAINERS[fmt].match(generic) and generic not in seen and generic != "$":
                seen.add(generic)
                found.append(path)
            for i, x in enumerate(v):
                walk(x, path + [i], generic + "[*]")
        elif isinstance(v, dict):
            for k, x in v.items():
                walk(x, path + [k], generic + "." + k)
    walk(doc, [], "$")
    return found


def json_path(path):
    return "$" + "".join("[%d]" % p if isinstance(p, int) else "." + p for p in path)


def replaced(doc, path, value):
    doc = json.loads(json.dumps(doc))
    at = doc
    for p in path[:-1]:
        at = at[p]
    at[path[-1]] = value
    return doc


def swapped_variants(sample, tmp_path):
    """[(file, JSON path of the offending value)] for every swap of every container."""
    doc = json.loads(sample.read_text(encoding="utf-8"))
    fmt = stored(sample)["format"]
    out = []
    for path in containers(doc, fmt):
        for name, value in SWAPS.items():
            out.append((replaced(doc, path, value), json_path(path), "%s-%s" % (json_path(path), name)))
        lst = doc
        for p in path:
            lst = lst[p]
        for name, value in ENTRY_SWAPS.items() if lst else ():
            out.append((replaced(doc, path + [0], value), json_path(path + [0]), "%s-entry-%s" % (json_path(path), name)))
    files = []
    for i, (variant, where, label) in enumerate(out):
        f = tmp_path / ("v%03d.json" % i)
        f.write_text(json.dumps(variant), encoding="utf-8")
        files.append((f, where, label))
    return fmt, files


@pytest.mark.parametrize("sample", SAMPLES, ids=sample_id)
def test_swapped_containers_refused(tollgate_bin, tmp_path, sample):
    fmt, files = swapped_variants(sample, tmp_path)
    if not files:
        pytest.skip("no array container with a value in this sample")
    r = tollgate(tollgate_bin, *[f for f, _, _ in files])
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 2
    assert r.stdout == b"", "counted instead of refused: " + r.stdout.decode()[:300]
    lines = err.splitlines()
    assert len(lines) == len(files), err
    for (f, where, label), line in zip(files, lines):
        assert line.startswith("tollgate report: %s: %s: byte " % (f, fmt)), (label, line)
        assert (": %s is " % where) in line, (label, line)
    if REFERENCE.exists():  # the reference refuses the same variants
        checked = [f for f, where, _ in files if not UNCHECKED_BY_REFERENCE.search(where)]
        ref = subprocess.run([sys.executable, str(REFERENCE), *map(str, checked)], capture_output=True, timeout=300)
        assert ref.returncode == 2
        assert len(ref.stderr.decode().splitlines()) == len(checked), ref.stderr.decode()
