#!/usr/bin/env bash
# Load on the analysis status endpoint while analyses run (issue 5): wrk with 100 connections against
# GET /analysis/{id} on `reel serve`, first idle, then with face analyses of samsungfun.mp4 running on every core.
#
#   bench/serve.sh
#   DURATION=20 CONNECTIONS=200 RUNS=5 bench/serve.sh
#
# Prints requests/s and the p50/p99 latency wrk reports for each of RUNS runs (default 3) of each case, then the
# median p99; target: p99 under 20 ms with an analysis running. wrk runs one thread, so that on a 2-core machine it
# leaves the server a core (the analyses use the other: the server keeps one free for requests).
# Needs wrk (Debian package `wrk`; installed here when run as root).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO_ROOT="$(cd "$BENCH_DIR/.." && pwd)"
FIXTURES="$(cd "${FIXTURES:-$REPO_ROOT/fixtures}" && pwd)"
DURATION="${DURATION:-10}"
RUNS="${RUNS:-3}"
CONNECTIONS="${CONNECTIONS:-100}"
PORT="${PORT:-18731}"

source "$REPO_ROOT/scripts/setup.sh"
reel_ensure_packages wrk
cd "$REPO_ROOT"
./reel --help >/dev/null

TMP="$(mktemp -d)"
SERVER=""
cleanup() { [[ -n "$SERVER" ]] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
URL="http://127.0.0.1:$PORT"
.reel-build/bin/reel serve --urls "$URL" --data-dir "$TMP/data" --allow-file-urls >"$TMP/serve.log" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -sf "$URL/analysis/videos" >/dev/null && break; sleep 0.1; done

start() {
    curl -sf -X POST "$URL/analysis/start" -H 'Content-Type: application/json' \
        -d "{\"videoURL\": \"file://$FIXTURES/samsungfun.mp4\", \"modelsToRun\": [\"faces_detection\", \"color_detection\"], \"frameStep\": 1}" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["video_id"])'
}
status() { curl -sf "$URL/analysis/$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)["status"])'; }
load() {
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency "$URL/analysis/$1" | awk -v label="$2" -v out="$TMP/p99" '
        function ms(v) { return v ~ /us$/ ? v / 1000 : v ~ /ms$/ ? v + 0 : v ~ /s$/ ? v * 1000 : v }
        /Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 } /Non-2xx/ { bad = $NF }
        END { printf "%-34s %9.0f requests/s   p50 %8s   p99 %8s%s\n", label, rps, p50, p99, bad ? "   NON-2XX: " bad : ""; print ms(p99) >> out }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { printf "%.2f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

first="$(start)"
while [[ "$(status "$first")" != Completed ]]; do sleep 0.2; done
echo "GET /analysis/{id}, $CONNECTIONS connections, ${DURATION}s each (1 wrk thread), RUNS=$RUNS"
: > "$TMP/p99"
for ((r = 1; r <= RUNS; r++)); do load "$first" "idle server"; done
idle="$(median < "$TMP/p99")"
: > "$TMP/p99"
for ((r = 1; r <= RUNS; r++)); do
    # Enough queued analyses to keep the analysis worker busy for the whole run.
    for _ in $(seq $(( DURATION / 2 + 3 ))); do start >/dev/null; done
    load "$first" "analyses running (faces + colors)"
    [[ "$(curl -sf "$URL/analysis/videos" | python3 -c 'import json, sys; print(sum(1 for v in json.load(sys.stdin)))')" -lt "$(curl -sf "$URL/api/v1/analyses" | python3 -c 'import json, sys; print(len(json.load(sys.stdin)))')" ]] \
        || echo "  (the analyses finished before the run ended: raise DURATION)"
done
echo "median p99: idle $idle ms; with analyses running $(median < "$TMP/p99") ms (target < 20 ms)"
