#!/usr/bin/env bash
# Installs the peer of the head-to-head benchmark: Apache Airflow 3.x with the Kubernetes provider
# (KubernetesPodOperator), every package pinned in requirements.txt beside this script, into a
# virtualenv in
#   ${XDG_CACHE_HOME:-$HOME/.cache}/pod-dag-action/airflow-<version>/
# and prints that directory on stdout. When it is already complete (a marker written last holds
# the hash of requirements.txt) it prints it at once and installs nothing. Needs Python 3.11 (or
# set PYTHON) and PyPI. Never part of npm ci or npm test: `npm run bench -- --peers` uses it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
req="$here/requirements.txt"
version="$(sed -n 's/^apache-airflow==\(.*\)$/\1/p' "$req")"
[ -n "$version" ] || { echo "install.sh: requirements.txt pins no apache-airflow version" >&2; exit 1; }
out="${XDG_CACHE_HOME:-$HOME/.cache}/pod-dag-action/airflow-${version}"
sum="$(sha256sum "$req" | cut -d' ' -f1)"
if [ -f "$out/.installed" ] && [ "$(cat "$out/.installed")" = "$sum" ]; then echo "$out"; exit 0; fi

python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || { echo "install.sh: $python is not on PATH (Airflow $version needs Python 3.10-3.13; set PYTHON=/path/to/python3)" >&2; exit 1; }
start=$(date +%s)
echo "install.sh: installing Apache Airflow $version and the pinned packages into $out (a few minutes)" >&2
rm -rf "$out"
"$python" -m venv "$out"
# --no-deps: requirements.txt is the whole resolved set, so nothing else may come in; pip check
# then proves that set is consistent.
nice -n 10 "$out/bin/pip" install --quiet --no-deps -r "$req" >&2
"$out/bin/pip" check >&2
"$out/bin/python" -c 'import airflow; from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator' >&2
echo "$sum" > "$out/.installed"
echo "install.sh: installed in $(( $(date +%s) - start ))s" >&2
echo "$out"
