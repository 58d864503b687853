#!/usr/bin/env bash
# Benchmark `reel extract` against the reference tool (the ffmpeg CLI), side by side in one invocation.
#
#   bench/extract.sh                 # all cases
#   RUNS=9 RUNS_LONG=5 bench/extract.sh
#   SKIP_LONG=1 bench/extract.sh     # skip the 1-hour video
#
# Cases (each timed RUNS times, the ffmpeg and reel runs interleaved; medians of /usr/bin/time %e):
#   every   every frame of samsungfun.mp4 (1080p H.264, 331 frames)      target reel/ffmpeg <= 0.60
#   fps1    samsungfun.mp4 at --fps 1                                     target reel/ffmpeg <= 0.60
#   long    1-hour 284x160 testsrc2 video at --fps 1 (RUNS_LONG runs)     target <= 0.60, reel peak < 300 MiB
#   psnr    PSNR of Reel's default JPEGs against the source, in RGB       target >= 38 dB
#           (average and the worst frame, beside ffmpeg's at both qualities below)
#
# ffmpeg runs twice per run: at -q:v 2 (the usual "high quality" setting, the targets' reference) and at equal
# quality, `-qmin 1 -q:v 1`. Reel's default is libjpeg-turbo quality 90; ffmpeg's MJPEG encoder has no such scale
# (it scales one MPEG-style matrix by an integer qscale, with DC fixed at 8), so equal quality is judged by what the
# psnr case measures: on samsungfun.mp4, -q:v 2 (46.96 dB average, 26 MiB) is below Reel's default (47.40 dB, 39 MiB)
# and -qmin 1 -q:v 1 (47.71 dB, 40 MiB) is the nearest setting at or above it (-q:v 1 without -qmin 1 is clamped to
# 2). The psnr case prints all three, so the choice can be checked. Each case prints both ratios.
#
# Environment: RUNS (default 5), RUNS_LONG (default 3), SKIP_EVERY, SKIP_FPS1, SKIP_LONG, SKIP_PSNR (=1 skips),
# SKIP_EQUAL=1 (no equal-quality ffmpeg runs), FIXTURES (directory holding samsungfun.mp4; default the
# repository's fixtures/).
# Each timing line gives the median and, in brackets, the fastest and slowest run (the spread).
# Peak memory is the largest max-RSS (/usr/bin/time %M) over the runs. Frame counts of every run are checked:
# Reel must write as many images as ffmpeg (331 for every frame of samsungfun.mp4).
# The generated long video is cached in bench/.cache/ (git-ignored).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO_ROOT="$(cd "$BENCH_DIR/.." && pwd)"
FIXTURES="${FIXTURES:-$REPO_ROOT/fixtures}"
CACHE_DIR="$BENCH_DIR/.cache"
RUNS="${RUNS:-5}"
RUNS_LONG="${RUNS_LONG:-3}"
TARGET_RATIO=0.60
TARGET_LONG_MIB=300
TARGET_PSNR=38

die() { echo "extract.sh: $*" >&2; exit 1; }

# --- prerequisites -----------------------------------------------------------------------------------------------
command -v ffmpeg >/dev/null || die "ffmpeg is required (apt-get install -y ffmpeg)"
if [[ ! -x /usr/bin/time ]]; then
    if [[ "$(id -u)" == 0 ]]; then
        echo "installing GNU time (/usr/bin/time)..." >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >&2 \
            || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >&2; }
    else
        die "/usr/bin/time is missing; install it with: sudo apt-get install -y time"
    fi
fi
[[ -f "$FIXTURES/samsungfun.mp4" ]] || die "missing test video $FIXTURES/samsungfun.mp4"
SAMSUNG="$(cd "$FIXTURES" && pwd)/samsungfun.mp4"
[[ "$RUNS" =~ ^[1-9][0-9]*$ && "$RUNS_LONG" =~ ^[1-9][0-9]*$ ]] || die "RUNS and RUNS_LONG must be positive integers"

cd "$REPO_ROOT"
./reel --help >/dev/null   # build (if needed) before anything is timed

WORK="$(mktemp -d "${TMPDIR:-/tmp}/reel-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# --- helpers -----------------------------------------------------------------------------------------------------
# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit 1; if (NR % 2) printf "%.2f", v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# largest of the numbers on stdin
maximum() { sort -g | tail -n 1; }
# "[fastest-slowest]" of the numbers on stdin
spread() { sort -g | awk '{ v[NR] = $1 } END { printf "[%.2f-%.2f]", v[1], v[NR] }'; }
kib_to_mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
# "ok" or "MISSED"
meets_max() { awk -v v="$1" -v t="$2" 'BEGIN { print (v != "n/a" && v <= t) ? "ok" : "MISSED" }'; }
count_jpgs() { find "$1" -maxdepth 1 -name '*.jpg' -type f | wc -l; }

# timed LOG CMD...: runs CMD under /usr/bin/time, appends "seconds max_rss_kib" to LOG; stdout is discarded.
timed() {
    local log="$1"; shift
    if ! /usr/bin/time -o "$WORK/time.out" -f "%e %M" "$@" >/dev/null 2>"$WORK/cmd.err"; then
        echo "extract.sh: command failed: $*" >&2
        cat "$WORK/cmd.err" >&2
        exit 1
    fi
    tail -n 1 "$WORK/time.out" >> "$log"
}

# bench NAME INPUT RUNS FFMPEG_VF REEL_ARGS...: times ffmpeg (-q:v 2, and at equal quality unless SKIP_EQUAL=1) and
# reel RUNS times each (interleaved), checks frame counts, and sets LAST_LINE. FFMPEG_VF is "" for every frame or a
# -vf filter.
FF_Q2=(-q:v 2)
FF_EQUAL=(-qmin 1 -q:v 1)
RESULT_LINES=()
FRAME_PROBLEMS=()
REBUILDS=()
build_stamp() { stat -c %y "$REPO_ROOT/.reel-build/build.stamp" 2>/dev/null || echo none; }
load1() { cut -d' ' -f1 /proc/loadavg; }
bench() {
    local name="$1" input="$2" runs="$3" vf="$4"; shift 4
    local ff_log="$WORK/$name.ffmpeg" eq_log="$WORK/$name.ffmpeg-equal" reel_log="$WORK/$name.reel" out="$WORK/out"
    local i ff_count eq_count reel_count eq_note=""
    local ff_vf=(); [[ -n "$vf" ]] && ff_vf=(-vf "$vf")
    : > "$ff_log"; : > "$eq_log"; : > "$reel_log"
    cat "$input" > /dev/null   # warm the page cache so the first timed run does not pay for the disk
    for ((i = 1; i <= runs; i++)); do
        rm -rf "$out"; mkdir -p "$out"
        timed "$ff_log" ffmpeg -nostdin -v error -i "$input" "${ff_vf[@]}" "${FF_Q2[@]}" "$out/%010d.jpg"
        ff_count="$(count_jpgs "$out")"

        if [[ "${SKIP_EQUAL:-0}" != 1 ]]; then
            rm -rf "$out"; mkdir -p "$out"
            timed "$eq_log" ffmpeg -nostdin -v error -i "$input" "${ff_vf[@]}" "${FF_EQUAL[@]}" "$out/%010d.jpg"
            eq_count="$(count_jpgs "$out")"
            [[ "$eq_count" == "$ff_count" ]] || FRAME_PROBLEMS+=("$name run $i: ffmpeg wrote $eq_count images at equal quality, $ff_count at -q:v 2")
            eq_note=", ffmpeg equal quality $(tail -n 1 "$eq_log" | cut -d' ' -f1)s"
        fi

        rm -rf "$out"
        # Untimed: if sources changed meanwhile, ./reel rebuilds here rather than inside the timed run; then one
        # untimed warm-up run so the new binary's first (cold) start is not timed either, and the case is flagged.
        local stamp_before; stamp_before="$(build_stamp)"
        ./reel --help >/dev/null
        if [[ "$(build_stamp)" != "$stamp_before" ]]; then
            if ((i > 1)); then
                REBUILDS+=("$name: reel was rebuilt before run $i of $runs (sources changed meanwhile); its runs mix builds")
            else
                REBUILDS+=("$name: reel was rebuilt before run 1 (sources changed meanwhile); all its runs use the new build")
            fi
            ./reel extract --input "$input" --output-dir "$out" "$@" --json >/dev/null
            rm -rf "$out"
        fi
        timed "$reel_log" ./reel extract --input "$input" --output-dir "$out" "$@" --json
        reel_count="$(count_jpgs "$out/$(basename "$input")")"
        if [[ "$reel_count" != "$ff_count" ]]; then
            FRAME_PROBLEMS+=("$name run $i: reel wrote $reel_count images, ffmpeg $ff_count")
        fi
        printf '  %s run %d/%d: ffmpeg -q:v 2 %ss %s frames%s, reel %ss %s frames\n' "$name" "$i" "$runs" \
            "$(tail -n 1 "$ff_log" | cut -d' ' -f1)" "$ff_count" "$eq_note" "$(tail -n 1 "$reel_log" | cut -d' ' -f1)" "$reel_count" >&2
    done
    rm -rf "$out"
    LAST_FF_COUNT="$ff_count"; LAST_REEL_COUNT="$reel_count"

    local ff_med reel_med r reel_peak ff_peak eq_med eq_r
    LAST_EQ_LINE=""
    ff_med="$(cut -d' ' -f1 "$ff_log" | median)"
    reel_med="$(cut -d' ' -f1 "$reel_log" | median)"
    r="$(ratio "$reel_med" "$ff_med")"
    reel_peak="$(kib_to_mib "$(cut -d' ' -f2 "$reel_log" | maximum)")"
    ff_peak="$(kib_to_mib "$(cut -d' ' -f2 "$ff_log" | maximum)")"
    LAST_REEL_PEAK="$reel_peak"
    if [[ "${SKIP_EQUAL:-0}" != 1 ]]; then
        eq_med="$(cut -d' ' -f1 "$eq_log" | median)"
        eq_r="$(ratio "$reel_med" "$eq_med")"
        LAST_EQ_LINE="$(printf '%-12s ffmpeg at equal quality (-qmin 1 -q:v 1) %6.2fs %s  reel/ffmpeg at equal quality %s' \
            "" "$eq_med" "$(cut -d' ' -f1 "$eq_log" | spread)" "$eq_r")"
    fi
    LAST_LINE="$(printf '%-12s ffmpeg -q:v 2 %6.2fs %s  reel %6.2fs %s  ratio %s (target <= %s, %s)  reel peak %4s MiB  ffmpeg peak %4s MiB  frames %s/%s' \
        "$name" "$ff_med" "$(cut -d' ' -f1 "$ff_log" | spread)" "$reel_med" "$(cut -d' ' -f1 "$reel_log" | spread)" \
        "$r" "$TARGET_RATIO" "$(meets_max "$r" "$TARGET_RATIO")" "$reel_peak" "$ff_peak" "$reel_count" "$ff_count")"
}

report() { RESULT_LINES+=("$1"); echo "$1"; }
report_eq() { [[ -z "$LAST_EQ_LINE" ]] || report "$LAST_EQ_LINE"; }

LOAD_START="$(load1)"
if awk -v l="$LOAD_START" 'BEGIN { exit !(l >= 1.0) }'; then
    echo "warning: load average is $LOAD_START before starting; other work on this machine will skew the timings" >&2
fi
echo "reel extract vs ffmpeg: RUNS=$RUNS, RUNS_LONG=$RUNS_LONG (medians of wall time; reel/ffmpeg ratio; peak = max over runs)"

# --- 1. every frame ----------------------------------------------------------------------------------------------
if [[ "${SKIP_EVERY:-0}" != 1 ]]; then
    bench "every frame" "$SAMSUNG" "$RUNS" ""
    report "$LAST_LINE"
    report_eq
    [[ "$LAST_REEL_COUNT" == 331 ]] || FRAME_PROBLEMS+=("every frame: reel wrote $LAST_REEL_COUNT images, expected 331")
fi

# --- 2. fps 1 ----------------------------------------------------------------------------------------------------
if [[ "${SKIP_FPS1:-0}" != 1 ]]; then
    bench "fps 1" "$SAMSUNG" "$RUNS" "fps=1" --fps 1
    report "$LAST_LINE"
    report_eq
fi

# --- 3. one hour of 160p at fps 1 --------------------------------------------------------------------------------
if [[ "${SKIP_LONG:-0}" != 1 ]]; then
    LONG="$CACHE_DIR/testsrc2_284x160_25fps_3600s.mp4"
    if [[ ! -s "$LONG" ]]; then
        mkdir -p "$CACHE_DIR"
        echo "generating the 1-hour 284x160 test video into $LONG (once; a few minutes)..." >&2
        gen_start="$(date +%s)"
        ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=284x160:rate=25:duration=3600 \
            -c:v libx264 -preset veryfast -pix_fmt yuv420p "$CACHE_DIR/generating.mp4"
        mv "$CACHE_DIR/generating.mp4" "$LONG"
        echo "generated in $(( $(date +%s) - gen_start ))s" >&2
    fi
    bench "1h 160p fps1" "$LONG" "$RUNS_LONG" "fps=1" --fps 1
    report "$LAST_LINE  (reel peak target < $TARGET_LONG_MIB MiB, $( [[ "$LAST_REEL_PEAK" -lt "$TARGET_LONG_MIB" ]] && echo ok || echo MISSED))"
    report_eq
fi

# --- 4. quality --------------------------------------------------------------------------------------------------
# psnr DIR START: "average min" PSNR (dB, rgb24) of the images DIR/%010d.jpg numbered from START against samsungfun.mp4;
# min is the worst frame's. JPEGs decode as full-range yuvj420p, the source is limited-range yuv420p: both are
# compared in rgb24. setpts=N/(30*TB) pairs the i-th image with the i-th decoded source frame. Without it the psnr
# filter pairs by timestamp: image i at i/30 s meets source frame i-1 (at (i-1)*1.001/30 s), which reads as ~29 dB.
psnr() {
    local log="$WORK/psnr.log" line avg min
    ffmpeg -nostdin -hide_banner -v info -framerate 30 -start_number "$2" -i "$1/%010d.jpg" -i "$SAMSUNG" \
        -lavfi "[0:v]format=rgb24,setpts=N/(30*TB)[a];[1:v]format=rgb24,setpts=N/(30*TB)[b];[a][b]psnr=shortest=1" \
        -f null - > "$log" 2>&1 || { cat "$log" >&2; die "the psnr comparison failed"; }
    line="$(grep -o 'PSNR .*average:.*' "$log" | tail -n 1)"
    avg="$(sed 's/.*average:\([0-9.inf]*\).*/\1/' <<< "$line")"
    min="$(sed 's/.*min:\([0-9.inf]*\).*/\1/' <<< "$line")"
    [[ -n "$avg" && -n "$min" ]] || { cat "$log" >&2; die "no PSNR average in ffmpeg's output"; }
    [[ "$avg" == inf ]] || avg="$(printf '%.2f' "$avg")"
    [[ "$min" == inf ]] || min="$(printf '%.2f' "$min")"
    echo "$avg $min"
}
if [[ "${SKIP_PSNR:-0}" != 1 ]]; then
    out="$WORK/psnr"
    rm -rf "$out"
    ./reel extract --input "$SAMSUNG" --output-dir "$out" --json >/dev/null
    frames="$(count_jpgs "$out/samsungfun.mp4")"
    read -r psnr psnr_min <<< "$(psnr "$out/samsungfun.mp4" 0)"
    mib="$(du -sm "$out/samsungfun.mp4" | cut -f1)"
    ok="$(awk -v v="$psnr" -v t="$TARGET_PSNR" 'BEGIN { print (v == "inf" || v + 0 >= t) ? "ok" : "MISSED" }')"
    report "$(printf '%-12s reel default JPEG (quality 90) vs source (rgb24, %s frames): average PSNR %s dB, worst frame %s dB, %s MiB (target >= %s dB, %s)' \
        "quality" "$frames" "$psnr" "$psnr_min" "$mib" "$TARGET_PSNR" "$ok")"
    ff_settings=("-q:v 2"); [[ "${SKIP_EQUAL:-0}" == 1 ]] || ff_settings+=("-qmin 1 -q:v 1")
    for setting in "${ff_settings[@]}"; do
        rm -rf "$out"; mkdir -p "$out"
        # shellcheck disable=SC2086  # the setting is several arguments
        ffmpeg -nostdin -v error -i "$SAMSUNG" $setting "$out/%010d.jpg"
        read -r psnr psnr_min <<< "$(psnr "$out" 1)"
        report "$(printf '%-12s ffmpeg %-15s vs source (rgb24, %s frames): average PSNR %s dB, worst frame %s dB, %s MiB' \
            "" "$setting" "$(count_jpgs "$out")" "$psnr" "$psnr_min" "$(du -sm "$out" | cut -f1)")"
    done
    rm -rf "$out"
fi

# --- summary -----------------------------------------------------------------------------------------------------
if ((${#REBUILDS[@]})); then
    echo "rebuilds during the benchmark:"
    printf '  %s\n' "${REBUILDS[@]}"
fi
if ((${#FRAME_PROBLEMS[@]})); then
    echo "frame count problems:"
    printf '  %s\n' "${FRAME_PROBLEMS[@]}"
fi
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), load average $LOAD_START at start"
echo "ffmpeg:  $(ffmpeg -version | head -n 1)"
