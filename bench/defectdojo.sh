#!/bin/sh
# defectdojo.sh -- peak RSS forwarding a 50 MB report to DefectDojo vs a small one (see
# bench/defectdojo.py). Knob: DOJO_REPORT_MB (50). Writes build/bench/defectdojo.md.
set -eu
cd "$(dirname "$0")/.."
exec "${PYTHON:-/usr/bin/python3}" bench/defectdojo.py "$@"
