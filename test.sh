#!/usr/bin/env bash
# Installs what Reel needs, builds it, and runs every test. Arguments go to 'dotnet test' (e.g. --filter Name~Fps).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/setup.sh"
reel_ensure_packages
cd "$REEL_ROOT"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
dotnet test Reel.slnx -c Release --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log" || status=$?
# One closing line for CI: totals over every test project.
awk '/^(Passed|Failed)!/ { for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1) } }
     END { printf "%d passed, %d failed\n", p, f }' FS='[ ,]+' "$log"
exit "$status"
