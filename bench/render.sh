#!/usr/bin/env bash
# Time `reel render` against a plain re-encode with the ffmpeg CLI, side by side in one invocation.
#
#   bench/render.sh                        # blur-faces on samsungfun.mp4
#   RUNS=3 FILTERS="blur-faces boxes" bench/render.sh
#
# For each filter: medians of wall time over RUNS runs (default 5; ffmpeg and Reel alternating) with the fastest and
# slowest run in brackets, and the reel/ffmpeg ratio. The reference is
# `ffmpeg -i samsungfun.mp4 -c:v libx264 -preset veryfast -crf 18 -c:a copy`: the same encoder settings Reel uses,
# without face detection or filtering, so the ratio is what detection and filtering cost beyond the encode. There is
# no target. FIXTURES: directory holding samsungfun.mp4 (default: the repository's fixtures/).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO_ROOT="$(cd "$BENCH_DIR/.." && pwd)"
FIXTURES="${FIXTURES:-$REPO_ROOT/fixtures}"
RUNS="${RUNS:-5}"
FILTERS="${FILTERS:-blur-faces}"
IN="$FIXTURES/samsungfun.mp4"
[[ -f "$IN" ]] || { echo "render.sh: $IN not found" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "render.sh: needs GNU time (apt-get install -y time)" >&2; exit 1; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "render.sh: RUNS must be a positive integer" >&2; exit 1; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$REPO_ROOT"
./reel --help >/dev/null   # build (if needed) before anything is timed

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { sort -g | awk '{ v[NR] = $1 } END { printf "[%.2f-%.2f]", v[1], v[NR] }'; }
wall() { /usr/bin/time -f %e -o "$TMP/t" "$@" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; exit 1; }; cat "$TMP/t"; }
frames() { ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 "$1"; }

cat "$IN" >/dev/null
echo "reel render vs ffmpeg re-encode (libx264 -preset veryfast -crf 18, audio copied), samsungfun.mp4, RUNS=$RUNS, medians"
for filter in $FILTERS; do
    : > "$TMP/ff"; : > "$TMP/reel"
    for ((i = 1; i <= RUNS; i++)); do
        wall ffmpeg -nostdin -v error -y -i "$IN" -c:v libx264 -preset veryfast -crf 18 -c:a copy "$TMP/ffmpeg.mp4" >> "$TMP/ff"
        rm -f "$TMP/reel.mp4"
        wall ./reel render "$IN" --filter "$filter" --output "$TMP/reel.mp4" --json >> "$TMP/reel"
    done
    [[ "$(frames "$TMP/reel.mp4")" == "$(frames "$IN")" ]] || echo "  reel's output has $(frames "$TMP/reel.mp4") frames, the source $(frames "$IN")" >&2
    ff="$(median < "$TMP/ff")"; reel="$(median < "$TMP/reel")"
    printf '%-11s ffmpeg %5.2fs %s  reel %5.2fs %s  ratio %s (no target)\n' "$filter" "$ff" "$(spread < "$TMP/ff")" \
        "$reel" "$(spread < "$TMP/reel")" "$(awk -v r="$reel" -v f="$ff" 'BEGIN { printf "%.2f", r / f }')"
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); $(ffmpeg -version | head -1)"
