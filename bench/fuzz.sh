#!/usr/bin/env bash
# Fuzz campaign, longer than ./test.sh runs it: damaged copies of the fixtures (bytes flipped, files cut short,
# pieces spliced in; seeded, so any case can be made again) through `reel extract` and `reel analyze`, and uploaded
# to a running `reel serve`, all under glibc's malloc checking. Every case must end with exit code 0 or 1 and a
# one-line reason: never a signal, a hang or a stack trace. Prints the number of cases and crashes.
#
#   bench/fuzz.sh                        # 2000 CLI cases, 200 server uploads
#   CASES=10000 SERVE_CASES=1000 SEED=7 bench/fuzz.sh
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
status=0
REEL_FUZZ_CASES="${CASES:-2000}" REEL_FUZZ_SEED="${SEED:-20261129}" REEL_FUZZ_REPORT="$report" \
REEL_SERVE_FUZZ_CASES="${SERVE_CASES:-200}" \
    "$REPO_ROOT/test.sh" --filter "FullyQualifiedName~FuzzCampaignTests|FullyQualifiedName~ServeFuzzTests" > /dev/null || status=$?
cat "$report"
echo "server: ${SERVE_CASES:-200} uploads: $([[ $status == 0 ]] && echo 'server stayed up, every analysis ended, the next one completed' || echo 'FAILED (run ./test.sh --filter ServeFuzzTests for details)')"
exit "$status"
