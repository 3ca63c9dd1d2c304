#!/usr/bin/env python3
"""The fault-and-abuse suite: runs every tests/chaos/chaos_*.py (full form, or --short for
`make test`) and prints one markdown table | figure | measured | target | met |.

Each script appends its figures as JSON lines to the file given with --rows (see chaoslib.py);
markdown rows it prints on stdout count too. A script that exits non-zero without reporting a
failed figure gets a row of its own. Exits 1 when any target is not met."""
import json
import pathlib
import re
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
ROW = re.compile(r"^\|(.+)\|(.+)\|(.+)\|\s*(yes|no|\*\*no\*\*|true|false|met|not met)\s*\|$", re.I)


def rows_of(script, short):
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl") as f:
        cmd = [sys.executable, str(script), "--rows", f.name] + (["--short"] if short else [])
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        rows = [json.loads(line) for line in f.read().splitlines() if line.strip()]
    if not rows:  # a script that reports in markdown only
        for line in p.stdout.splitlines():
            m = ROW.match(line.strip())
            if m and not set(m.group(1).strip()) <= set("-: "):
                met = m.group(4).strip("* ").lower() in ("yes", "true", "met")
                rows.append({"figure": m.group(1).strip(), "measured": m.group(2).strip(),
                             "target": m.group(3).strip(), "met": met})
    if p.returncode != 0 and all(r["met"] for r in rows):
        tail = " / ".join(p.stdout.strip().splitlines()[-3:])
        rows.append({"figure": script.name, "measured": "exit %d: %s" % (p.returncode, tail[-300:]),
                     "target": "exit 0", "met": False})
    return rows


def main():
    short = "--short" in sys.argv[1:]
    scripts = sorted(HERE.glob("chaos_*.py"))
    if not scripts:
        print("chaos: no tests/chaos/chaos_*.py")
        return 1
    table = []
    for s in scripts:
        print("chaos: %s%s" % (s.name, " (short)" if short else ""), file=sys.stderr, flush=True)
        table += rows_of(s, short)
    print("\n| figure | measured | target | met |\n| --- | --- | --- | --- |")
    for r in table:
        print("| %s | %s | %s | %s |" % (r["figure"], r["measured"], r["target"], "yes" if r["met"] else "**no**"))
    failed = [r for r in table if not r["met"]]
    print("\nchaos: %d figures, %d met, %d not met" % (len(table), len(table) - len(failed), len(failed)))
    return 1 if failed or not table else 0


if __name__ == "__main__":
    sys.exit(main())
