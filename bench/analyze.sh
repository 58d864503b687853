#!/usr/bin/env bash
# Benchmark `reel analyze` against plain decoding with the ffmpeg CLI (`ffmpeg -i IN -f null -`), side by side.
#
#   bench/analyze.sh                       # faces, faces without tiling, colors, motion, objects, emotions on every frame of samsungfun.mp4
#   RUNS=7 MODELS="faces scenes" bench/analyze.sh
#
# For each model: medians of wall time over RUNS runs (ffmpeg and Reel alternating) with the fastest and slowest run
# in brackets, the reel/ffmpeg ratio against the issue's target (faces <= 2.5, colors and motion <= 2.0, objects <= 6.0),
# and the model's milliseconds per frame: the median over the runs of the mean each run reports in summary.json.
# `emotions` runs with faces (it classifies the faces they find, so it is never run alone) and also prints its
# milliseconds per face, against the target of at most 1 ms per face.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO_ROOT="$(cd "$BENCH_DIR/.." && pwd)"
FIXTURES="${FIXTURES:-$REPO_ROOT/fixtures}"
RUNS="${RUNS:-5}"
MODELS="${MODELS:-faces faces:none colors motion objects emotions}"   # model[:face tiling]
IN="$FIXTURES/samsungfun.mp4"
[[ -f "$IN" ]] || { echo "analyze.sh: $IN not found" >&2; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "analyze.sh: needs GNU time (apt-get install -y time)" >&2; exit 1; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$REPO_ROOT"
./reel --help >/dev/null

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { sort -g | awk '{ v[NR] = $1 } END { printf "[%.2f-%.2f]", v[1], v[NR] }'; }
wall() { /usr/bin/time -f %e -o "$TMP/t" "$@" >/dev/null 2>"$TMP/err" || { cat "$TMP/err" >&2; exit 1; }; cat "$TMP/t"; }
target() { case "$1" in faces) echo 2.5 ;; objects) echo 6.0 ;; emotions) echo - ;; *) echo 2.0 ;; esac; }
# The model's entry in summary.json: its numbers come before its nested labels object.
field() { grep -o "\"$1\":{[^}]*" "$3" | grep -o "\"$2\":[0-9.]*" | head -1 | cut -d: -f2; }

cat "$IN" >/dev/null
echo "reel analyze vs ffmpeg decoding (ffmpeg -i samsungfun.mp4 -f null -), every frame, RUNS=$RUNS, medians"
for spec in $MODELS; do
    model="${spec%%:*}"
    extra=()
    [[ "$spec" == *:* ]] && extra=(--face-tiling "${spec#*:}")
    models="$model"
    [[ "$model" == emotions ]] && models="faces,emotions"
    : > "$TMP/ff"; : > "$TMP/reel"; : > "$TMP/ms"; : > "$TMP/face"
    for ((i = 1; i <= RUNS; i++)); do
        wall ffmpeg -nostdin -v error -i "$IN" -f null - >> "$TMP/ff"
        rm -rf "$TMP/out"
        wall ./reel analyze --input "$IN" --models "$models" "${extra[@]}" --output-dir "$TMP/out" --json >> "$TMP/reel"
        summary="$TMP/out/samsungfun.mp4/summary.json"
        field "$model" meanInferenceMs "$summary" >> "$TMP/ms"
        if [[ "$model" == emotions ]]; then
            # Faces are found once, by the faces model; the emotions time is the classification of every face.
            awk -v ms="$(field emotions meanInferenceMs "$summary")" -v n="$(field emotions frames "$summary")" \
                -v d="$(field emotions detections "$summary")" 'BEGIN { if (d > 0) printf "%.3f\n", ms * n / d }' >> "$TMP/face"
        fi
    done
    ff="$(median < "$TMP/ff")"; reel="$(median < "$TMP/reel")"
    ms="$(sort -g "$TMP/ms" | awk '{ v[NR] = $1 } END { if (NR == 0) print "?"; else if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
    verdict="$(awk -v r="$reel" -v f="$ff" -v t="$(target "$model")" 'BEGIN { q = r / f; printf "%.2f (target <= %s, %s)", q, t, (q <= t ? "ok" : "MISSED") }')"
    if [[ "$model" == emotions ]]; then
        face="$(median < "$TMP/face")"
        verdict="$(awk -v r="$reel" -v f="$ff" -v m="$face" 'BEGIN { printf "%.2f (faces+emotions; emotions %.2f ms/face, target <= 1.0, %s)", r / f, m, (m <= 1.0 ? "ok" : "MISSED") }')"
    fi
    printf '%-11s ffmpeg %5.2fs %s  reel %5.2fs %s  ratio %s  model %s ms/frame (median of %d runs)\n' \
        "$spec" "$ff" "$(spread < "$TMP/ff")" "$reel" "$(spread < "$TMP/reel")" "$verdict" "$ms" "$RUNS"
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); $(ffmpeg -version | head -1)"
