#!/bin/sh
# reports.sh -- `tollgate report` against Python on generated Trivy reports (5 MB and 50 MB).
#
# usage: bench/reports.sh [SIZES_MB...]   (default: 5 50; needs build/tollgate, `make build`;
#        TOLLGATE=path overrides the binary)
# For each size it times, best of 3, in one run on this machine:
#   tollgate     build/tollgate report FILE (whole process)
#   reference    python3 count_findings.py FILE (whole process; the tool is copied from
#                ../shared/tools into the temp dir at run time, never into the repository)
#   json.loads   Python's json on the same bytes, in process, parse only (read+decode+loads)
# and prints MB/s, peak RSS and tollgate's ratio to each. Target (README, "Performance"): on
# the 50 MB file tollgate is at least as fast as json.loads, and its RSS does not grow with
# the file (50 MB minus 5 MB peak RSS under 4 MB). Exits 1 when the target is missed.
set -eu
cd "$(dirname "$0")/.."
[ -x /usr/bin/time ] || { echo "reports.sh: /usr/bin/time missing (make deps-bench installs 'time')" >&2; exit 2; }
PYTHON=${PYTHON:-/usr/bin/python3}
TOLLGATE=${TOLLGATE:-$PWD/build/tollgate}
[ -x "$TOLLGATE" ] || { echo "reports.sh: build/tollgate missing (run make build)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ref=
if [ -f ../shared/tools/count_findings.py ]; then
  cp ../shared/tools/count_findings.py "$tmp/count_findings.py"
  ref=$tmp/count_findings.py
fi
sizes=${*:-5 50}
for mb in $sizes; do
  "$PYTHON" bench/gen_trivy_report.py "$mb" "$tmp/trivy-$mb.json"
done
echo "machine: $(nproc) vCPU, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(uname -r)"
TOLLGATE=$TOLLGATE REF=$ref TMP=$tmp SIZES=$sizes "$PYTHON" - <<'PY'
import json, os, subprocess, sys, time

TOLLGATE, REF, TMP = os.environ["TOLLGATE"], os.environ["REF"], os.environ["TMP"]
PY = sys.executable


def run(argv):
    """Wall seconds and peak RSS (KiB, from GNU time: a fork of Python would count Python's)."""
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M"] + argv, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        sys.exit("reports.sh: %s failed: %s" % (argv[0], p.stderr))
    return wall, int(p.stderr.split()[-1])


def best(argv):
    runs = [run(argv) for _ in range(3)]
    return min(r[0] for r in runs), max(r[1] for r in runs)


JSON_ONLY = ("import json,sys,time\nb=open(sys.argv[1],'rb').read()\nbest=9e9\n"
             "for _ in range(3):\n t=time.perf_counter(); json.loads(b.decode('utf-8')); "
             "best=min(best,time.perf_counter()-t)\nprint(best)")

rows, ok = [], True
rss = {}
for mb in os.environ["SIZES"].split():
    path = os.path.join(TMP, "trivy-%s.json" % mb)
    size = os.path.getsize(path) / 1e6
    tg = best([TOLLGATE, "report", path])
    rss[mb] = tg[1]
    p = subprocess.run([PY, "-c", JSON_ONLY, path], capture_output=True, text=True, check=True)
    js = (float(p.stdout), run([PY, "-c", JSON_ONLY, path])[1])
    rf = best([PY, REF, path]) if REF else None
    rows.append((mb, size, tg, js, rf))

print("%-8s %-34s %9s %10s %12s" % ("file", "program", "MB/s", "peak RSS", "tollgate is"))
for mb, size, tg, js, rf in rows:
    name = "%.1f MB" % size
    print("%-8s %-34s %9.0f %7.1f MB %12s" % (name, "tollgate report", size / tg[0], tg[1] / 1024, ""))
    print("%-8s %-34s %9.0f %7.1f MB %11.2fx" % (name, "python json.loads (parse only)", size / js[0],
                                                  js[1] / 1024, js[0] / tg[0]))
    if rf:
        print("%-8s %-34s %9.0f %7.1f MB %11.2fx" % (name, "python count_findings.py", size / rf[0],
                                                      rf[1] / 1024, rf[0] / tg[0]))
    if mb == "50" and js[0] < tg[0]:
        ok = False
if "5" in rss and "50" in rss:
    grow = (rss["50"] - rss["5"]) / 1024
    print("tollgate RSS growth from 5 MB to 50 MB: %.1f MB" % grow)
    ok = ok and grow < 4
print("target (50 MB: tollgate >= json.loads, flat RSS): %s" % ("met" if ok else "MISSED"))
sys.exit(0 if ok else 1)
PY
