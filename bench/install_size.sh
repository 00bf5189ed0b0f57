#!/usr/bin/env bash
# The app's install in a fresh venv: seconds, size, and whether NVIDIA's libraries came with XGBoost.
#   bench/install_size.sh [REQUIREMENTS]   (default requirements.txt; give another file to compare)
# Downloads everything (--no-cache-dir), so the time includes the network; it prints the load with it.
set -euo pipefail
requirements=$(realpath "${1:-$(dirname "$0")/../requirements.txt}")
venv=$(mktemp -d /tmp/install-size-XXXXXX)
trap 'rm -rf "$venv"' EXIT
start=$(date +%s)
python3 -m venv "$venv" && "$venv/bin/pip" install --no-cache-dir -q -r "$requirements"
echo "$(basename "$requirements"): $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg), $(du -sh "$venv" | cut -f1)"
"$venv/bin/pip" list 2>/dev/null | grep -i -E '^(xgboost|nvidia)' || true
