#!/usr/bin/env bash
# Benchmark the pipeline engine (issue 4), each case run side by side with its reference in one invocation.
#
#   bench/pipeline.sh                      # all cases
#   RUNS=3 DATUMS=10000 bench/pipeline.sh   # fewer runs
#   SKIP_OVERHEAD=1 SKIP_INCREMENTAL=1 bench/pipeline.sh
#
# Cases (medians over RUNS runs, default 5):
#   overhead     DATUMS (10,000) one-file datums whose command does nothing (`true`), with the engine running:
#                datums per second from the job's start to its output commit          target >= 2,000 datums/s
#                (also printed: end to end from `reel pipeline update` to `reel job wait` returning)
#   incremental  a 100-video pipeline (built-in extract, every frame) re-run after one video changed, against the
#                same pipeline processing that one video alone                           target <= 1.2x
#   frames       the frames pipeline (built-in extract, every frame) on samsungfun.mp4 and small.ogv against
#                `reel extract` on the same files                                        target <= 1.3x
#                Both sides are wall time from the command's start to its end: `reel pipeline update` (which
#                starts the job) until `reel job wait` returns, against `reel extract` start to exit.
#
# The overhead and incremental cases use the jobs' own start and finish times (`reel job inspect --json`); the
# engine is started first and warmed by one small job, as a running engine would be. Scratch data lives in a temporary directory (KEEP_TMP=1
# keeps it, with the engines' logs).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO_ROOT="$(cd "$BENCH_DIR/.." && pwd)"
FIXTURES="${FIXTURES:-$REPO_ROOT/fixtures}"
RUNS="${RUNS:-5}"
DATUMS="${DATUMS:-10000}"
VIDEOS="${VIDEOS:-100}"

TMP="$(mktemp -d)"
ENGINE_PIDS=()
cleanup() {
    for pid in "${ENGINE_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ -z "${KEEP_TMP:-}" ]]; then rm -rf "$TMP"; else echo "kept $TMP (engine logs: $TMP/*.engine.log)"; fi
}
trap cleanup EXIT
cd "$REPO_ROOT"
./reel --help >/dev/null
REEL="$REPO_ROOT/.reel-build/bin/reel"

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.3f", v[(NR + 1) / 2]; else printf "%.3f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
now() { date +%s.%N; }
# Seconds between a job's start and finish, from its record.
job_seconds() {
    "$REEL" job inspect "$1" --json --data-dir "$2" | python3 -c '
import json, sys
from datetime import datetime
j = json.load(sys.stdin)
assert j["state"] == "Success", j
t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))
print((t(j["finished"]) - t(j["started"])).total_seconds())'
}
latest_job() { "$REEL" job list --json --data-dir "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])'; }
start_engine() { "$REEL" engine --data-dir "$1" >"$1.engine.log" 2>&1 & ENGINE_PIDS+=($!); sleep 2; }
# Runs the pipeline's next job (a spec update reruns every datum) and prints its seconds.
run_job() {
    local data="$1" spec="$2"
    "$REEL" pipeline update -f "$spec" --data-dir "$data" >/dev/null 2>&1
    "$REEL" job wait --data-dir "$data" >/dev/null 2>&1
    job_seconds "$(latest_job "$data")" "$data"
}
# Runs the pipeline's next job and prints the wall time from `reel pipeline update`'s start to `reel job wait`'s end.
run_job_wall() {
    local data="$1" spec="$2" t0
    t0="$(now)"
    "$REEL" pipeline update -f "$spec" --data-dir "$data" >/dev/null 2>&1
    "$REEL" job wait --data-dir "$data" >/dev/null 2>&1
    echo "$(now) - $t0" | bc -l
    job_seconds "$(latest_job "$data")" "$data" >/dev/null   # checks that the job succeeded
}

if [[ -z "${SKIP_OVERHEAD:-}" ]]; then
    data="$TMP/overhead"
    mkdir -p "$TMP/files"
    for ((i = 0; i < DATUMS; i++)); do echo "$i" > "$TMP/files/$(printf %06d "$i")"; done
    cat > "$TMP/noop.yaml" <<SPEC
pipeline: {name: noop}
input: {pfs: {repo: many, glob: "/*"}}
transform: {cmd: ["true"]}
SPEC
    start_engine "$data"
    "$REEL" repo create many --data-dir "$data"
    "$REEL" put many@master:/ -f "$TMP/files" -r --data-dir "$data" >/dev/null
    "$REEL" pipeline create -f "$TMP/noop.yaml" --data-dir "$data" >/dev/null 2>&1
    "$REEL" job wait --data-dir "$data" >/dev/null 2>&1   # warm-up
    : > "$TMP/job"; : > "$TMP/e2e"
    for ((r = 1; r <= RUNS; r++)); do
        t0="$(now)"
        run_job "$data" "$TMP/noop.yaml" >> "$TMP/job"
        echo "$(now) - $t0" | bc -l >> "$TMP/e2e"
    done
    job="$(median < "$TMP/job")"; e2e="$(median < "$TMP/e2e")"
    printf "overhead     %d no-op datums: job %.2f s = %.0f datums/s (target >= 2000); end to end %.2f s = %.0f datums/s\n" \
        "$DATUMS" "$job" "$(echo "$DATUMS / $job" | bc -l)" "$e2e" "$(echo "$DATUMS / $e2e" | bc -l)"
fi

frames_spec() {
    cat > "$1" <<SPEC
pipeline: {name: frames}
input: {pfs: {repo: videos, glob: "/*"}}
transform:
  steps:
    - extract: {}
SPEC
}

if [[ -z "${SKIP_INCREMENTAL:-}" ]]; then
    mkdir -p "$TMP/videos" "$TMP/one"
    for ((i = 0; i < VIDEOS; i++)); do
        ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=320x240:rate=25:duration=2,drawtext=text=$i:fontsize=60:x=10:y=10" \
            -c:v libx264 -preset ultrafast -g 25 "$TMP/videos/v$(printf %03d "$i").mp4" 2>/dev/null \
        || ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=320x240:rate=25:duration=2" -vf "hue=h=$((i * 3))" \
            -c:v libx264 -preset ultrafast -g 25 "$TMP/videos/v$(printf %03d "$i").mp4"
    done
    frames_spec "$TMP/frames.yaml"
    many="$TMP/incremental"; one="$TMP/alone"
    start_engine "$many"; start_engine "$one"
    for data in "$many" "$one"; do "$REEL" repo create videos --data-dir "$data"; done
    "$REEL" put videos@master:/ -f "$TMP/videos" -r --data-dir "$many" >/dev/null 2>&1
    "$REEL" pipeline create -f "$TMP/frames.yaml" --data-dir "$many" >/dev/null 2>&1
    "$REEL" job wait --data-dir "$many" >/dev/null 2>&1
    "$REEL" pipeline create -f "$TMP/frames.yaml" --data-dir "$one" >/dev/null 2>&1
    "$REEL" put videos@master:/v050.mp4 -f "$TMP/videos/v050.mp4" --data-dir "$one" >/dev/null 2>&1   # warm-up
    "$REEL" job wait --data-dir "$one" >/dev/null 2>&1
    : > "$TMP/inc"; : > "$TMP/alone.txt"
    for ((r = 1; r <= RUNS; r++)); do
        # Change one video (a different clip under the same name), let the pipeline catch up incrementally ...
        ffmpeg -nostdin -v error -y -f lavfi -i "testsrc=size=320x240:rate=25:duration=2" -vf "hue=h=$((r * 40))" \
            -c:v libx264 -preset ultrafast -g 25 "$TMP/one/v050.mp4"
        "$REEL" put videos@master:/v050.mp4 -f "$TMP/one/v050.mp4" --data-dir "$many" >/dev/null 2>&1
        "$REEL" job wait --data-dir "$many" >/dev/null 2>&1
        job_seconds "$(latest_job "$many")" "$many" >> "$TMP/inc"
        # ... and process that one video alone in a pipeline holding only it.
        "$REEL" put videos@master:/v050.mp4 -f "$TMP/one/v050.mp4" --data-dir "$one" >/dev/null 2>&1
        "$REEL" job wait --data-dir "$one" >/dev/null 2>&1
        job_seconds "$(latest_job "$one")" "$one" >> "$TMP/alone.txt"
    done
    inc="$(median < "$TMP/inc")"; single="$(median < "$TMP/alone.txt")"
    printf "incremental  %d videos, one changed: %.2f s; that video alone: %.2f s; ratio %.2f (target <= 1.2)\n" \
        "$VIDEOS" "$inc" "$single" "$(echo "$inc / $single" | bc -l)"
fi

if [[ -z "${SKIP_FRAMES:-}" ]]; then
    data="$TMP/frames"
    frames_spec "$TMP/frames.yaml"
    start_engine "$data"
    "$REEL" repo create videos --data-dir "$data"
    "$REEL" put videos@master:/ -f "$FIXTURES/samsungfun.mp4" --data-dir "$data" >/dev/null 2>&1
    "$REEL" put videos@master:/ -f "$FIXTURES/small.ogv" --data-dir "$data" >/dev/null 2>&1
    "$REEL" pipeline create -f "$TMP/frames.yaml" --data-dir "$data" >/dev/null 2>&1
    "$REEL" job wait --data-dir "$data" >/dev/null 2>&1   # warm-up
    : > "$TMP/pipe"; : > "$TMP/extract"
    for ((r = 1; r <= RUNS; r++)); do
        run_job_wall "$data" "$TMP/frames.yaml" >> "$TMP/pipe"
        rm -rf "$TMP/out"
        t0="$(now)"
        "$REEL" extract --input "$FIXTURES/samsungfun.mp4" --input "$FIXTURES/small.ogv" --output-dir "$TMP/out" --json >/dev/null
        echo "$(now) - $t0" | bc -l >> "$TMP/extract"
    done
    frames="$(ls "$TMP/out/samsungfun.mp4" | grep -c jpg) + $(ls "$TMP/out/small.ogv" | grep -c jpg)"
    pipe="$(median < "$TMP/pipe")"; extract="$(median < "$TMP/extract")"
    printf "frames       pipeline %.2f s (pipeline update to job wait) vs reel extract %.2f s (%s frames), wall time from command start to end; ratio %.2f (target <= 1.3)\n" \
        "$pipe" "$extract" "$frames" "$(echo "$pipe / $extract" | bc -l)"
fi
