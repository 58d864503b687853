#!/usr/bin/env bash
# Scaling of one long video over 1, 2 and 4 cluster nodes, each node an honest simulated host: a separate
# `reel node join` process in its own network namespace (a bench-only bridge and subnet) and its own cgroup-v1 CPU
# cgroup capped at NODE_CPU cores, objects over S3 (s3rver), metadata and membership in a private PostgreSQL.
# Needs root, iproute2, cgroup-v1 cpu controller, Debian's postgresql and `npm ci` (s3rver, face model).
#
#   bench/scale.sh                                  # 132 s 1080p video, N = 1 2 4, NODE_CPU=0.4, RUNS=1
#   DURATION=60 NODES="1 2" CEILING="1 2" bench/scale.sh     # a quick check
#   RUNS=3 NODE_CPU=0.3 SLOTS=2 WORKLOADS=extract bench/scale.sh
#
# Workloads, each a one-step pipeline over a repo holding the video (one datum):
#   extract  every frame as JPEG (`extract: {}`), which the cluster splits into keyframe-aligned pieces
#   faces    the faces analysis of every frame (`analyze: {models: [faces]}`), split when the engine splits it
# For each N: wall time from job start to job success (as the job records them), frames/s, and the efficiency
# T1 / (N x TN). The ceiling: one plain `reel extract` / `reel analyze` process (no cluster) in one cgroup with the
# same total CPU as N nodes (N x NODE_CPU), for each N in CEILING, so the cost of distribution shows.
# The video is samsungfun.mp4 (real footage with faces) looped to DURATION seconds and re-encoded with a 1 s GOP so
# it splits; it is cached in bench/.cache/. Figures are medians over RUNS; everything made is removed on exit.
#
# Environment: DURATION (132), NODES ("1 2 4"), CEILING ("1 4"), NODE_CPU (0.4), SLOTS (1 per node), RUNS (1),
# WORKLOADS ("extract faces"), JOB_TIMEOUT (seconds a job may take, 1800), KEEP_LOGS (a folder to copy node logs to),
# WARMUP (1: warm each fresh cluster up with an untimed job per workload first, see warm_up; 0: time cold nodes).
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO_ROOT="$(cd "$BENCH_DIR/.." && pwd)"
DURATION="${DURATION:-132}"
NODES="${NODES:-1 2 4}"
CEILING="${CEILING-1 4}"
NODE_CPU="${NODE_CPU:-0.4}"
SLOTS="${SLOTS:-1}"
RUNS="${RUNS:-1}"
WORKLOADS="${WORKLOADS:-extract faces}"
JOB_TIMEOUT="${JOB_TIMEOUT:-1800}"
WARMUP="${WARMUP:-1}"
CG_ROOT=/sys/fs/cgroup/cpu

fail() { echo "scale.sh: $*" >&2; exit 2; }
[[ $EUID -eq 0 ]] || fail "needs root (network namespaces, cgroups)"
[[ -f "$CG_ROOT/cpu.cfs_quota_us" ]] || fail "needs the cgroup-v1 cpu controller at $CG_ROOT"
PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[[ -x "$PGBIN/initdb" ]] || fail "needs Debian's postgresql (apt-get install -y postgresql)"
[[ -f "$REPO_ROOT/node_modules/s3rver/package.json" ]] || fail "run 'npm ci' first (s3rver)"
[[ "$DURATION" =~ ^[0-9]+$ && "$DURATION" -ge 20 ]] || fail "DURATION=$DURATION: want whole seconds, at least 20"
[[ "$WARMUP" == 0 || "$WARMUP" == 1 ]] || fail "WARMUP=$WARMUP: want 0 or 1"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || fail "RUNS=$RUNS: want a positive whole number"
[[ "$SLOTS" =~ ^[1-9][0-9]*$ ]] || fail "SLOTS=$SLOTS: want a positive whole number"
awk -v c="$NODE_CPU" 'BEGIN { exit !(c + 0 > 0) }' || fail "NODE_CPU=$NODE_CPU: want a positive number of cores"
for w in $WORKLOADS; do [[ $w == extract || $w == faces ]] || fail "WORKLOADS: unknown workload '$w' (extract, faces)"; done
MAXN=1
for n in $NODES $CEILING; do
    [[ "$n" =~ ^[1-9]$ ]] || fail "NODES/CEILING: '$n' is not a node count from 1 to 9"
    ((n > MAXN)) && MAXN=$n
done

source "$BENCH_DIR/lib/lab.sh"
lab_init rls 10.232 "$MAXN"
cg_kill() {  # $1: cgroup name; kills what runs in it and removes it
    local dir="$CG_ROOT/$1" pid
    [[ -d "$dir" ]] || return 0
    # A killed process can take seconds to leave on a loaded machine; the cgroup is removable only when empty.
    for _ in $(seq 60); do
        [[ -s "$dir/cgroup.procs" ]] || break
        while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done < "$dir/cgroup.procs"
        sleep 0.5
    done
    rmdir "$dir" 2>/dev/null || echo "scale.sh: could not remove cgroup $dir" >&2
}
cleanup() {
    set +e
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
    # The nodes leave first: a namespace with a process in it outlives `ip netns del`, and its veth pair with it.
    for ((i = 0; i < MAXN; i++)); do cg_kill "rlsc$ID-n$i"; done
    cg_kill "rlsc$ID-ceiling"
    lab_stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$REPO_ROOT"
./reel --help >/dev/null
# The built binary itself: a node must be the process in its cgroup and namespace, not a wrapper's child.
REEL="$REPO_ROOT/.reel-build/bin/reel"

# --- the video ---------------------------------------------------------------------------------------------------
mkdir -p "$BENCH_DIR/.cache"
VIDEO="$BENCH_DIR/.cache/scale-${DURATION}s-1080p.mp4"
if [[ ! -f "$VIDEO" ]]; then
    echo "building $VIDEO (samsungfun.mp4 looped to $DURATION s, 1 s GOP) ..."
    loops=$((DURATION / 11 + 1))
    ffmpeg -v error -stream_loop "$loops" -i fixtures/samsungfun.mp4 -t "$DURATION" -an -c:v libx264 -preset veryfast \
        -crf 20 -g 30 -keyint_min 30 -sc_threshold 0 -pix_fmt yuv420p "$TMP/video.mp4"
    mv "$TMP/video.mp4" "$VIDEO"
fi
FRAMES="$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$VIDEO")"
[[ "$FRAMES" =~ ^[0-9]+$ && "$FRAMES" -gt 0 ]] || fail "$VIDEO: ffprobe counted no frames"

# --- network, PostgreSQL, S3 -----------------------------------------------------------------------------------------
lab_start
S3PID="${PIDS[-1]}"

cg_make() {  # $1: name, $2: cores
    mkdir -p "$CG_ROOT/$1"
    echo 100000 > "$CG_ROOT/$1/cpu.cfs_period_us"
    awk -v c="$2" 'BEGIN { printf "%d\n", c * 100000 }' > "$CG_ROOT/$1/cpu.cfs_quota_us"
}
# CPU seconds (user + system, reaped children included) the processes $@ have used so far.
cpu_s() {
    local pid ticks=0
    for pid; do
        [[ -r /proc/$pid/stat ]] && ticks=$((ticks + $(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", t / hz }'
}
# Where a job's CPU went: every node, s3rver and PostgreSQL (which share the cores the nodes leave).
cpu_line() { echo "$(cpu_s "${nodes[@]}") $(cpu_s "$S3PID") $(cpu_s $(pgrep -u postgres -x postgres))"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.1f", v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

spec() {  # $1: workload, $2: pipeline name (the workload's), $3: input repo (videos)
    local name="${2:-$1}" repo="${3:-videos}"
    if [[ $1 == extract ]]; then
        printf 'pipeline: {name: %s}\ninput: {pfs: {repo: %s, glob: "/*"}}\ntransform: {steps: [{extract: {}}]}\n' "$name" "$repo"
    else
        printf 'pipeline: {name: %s}\ninput: {pfs: {repo: %s, glob: "/*"}}\ntransform: {steps: [{analyze: {models: [faces]}}]}\n' "$name" "$repo"
    fi
}

# A fresh node's first jobs compile most of the code they run (.NET's JIT: some 12,000 compilations for an extract over
# S3, several CPU-seconds, so tens of seconds at 0.4 core), a cost a long-running node pays once. With WARMUP=1 every
# fresh cluster first runs each workload on the first 20 x N + 1 seconds of the video, which splits into one piece per
# node, untimed; WARMUP=0 times the first jobs of fresh nodes.
warm_up() {  # $1: node count
    local n=$1 w clip="$TMP/warmup.mp4"
    ffmpeg -v error -y -i "$VIDEO" -t $((20 * n + 1)) -c copy "$clip"
    "$REEL" repo create warmup >/dev/null
    "$REEL" put warmup@master:/ -f "$clip" >/dev/null
    for w in $WORKLOADS; do
        spec "$w" "warmup-$w" warmup > "$TMP/warmup-$w.yaml"
        "$REEL" pipeline create -f "$TMP/warmup-$w.yaml" >/dev/null 2>"$TMP/pipeline.log" \
            || fail "reel pipeline create warmup-$w on $n nodes failed: $(tail -1 "$TMP/pipeline.log")"
        timeout "$JOB_TIMEOUT" "$REEL" job wait --pipeline "warmup-$w" >/dev/null 2>&1 || true
        [[ "$(job_seconds "warmup-$w")" == FAILED* ]] && fail "warm-up $w on $n nodes failed (node logs: $TMP/node-$n-*.log)"
        echo "  $n node(s) warmed up with $w on $((20 * n + 1)) s of the video"
    done
}

# The last job of pipeline $1: "seconds state pieces-line" from its recorded start and finish.
job_seconds() {
    "$REEL" job list --pipeline "$1" --json | python3 -c '
import json, sys, datetime
j = json.load(sys.stdin)[0]
p = lambda t: datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))
ok = j.get("state") == "Success" and j.get("finished")
print("%.2f" % (p(j["finished"]) - p(j["started"])).total_seconds() if ok else "FAILED:%s" % j.get("state"))'
}

run_cluster() {  # $1: node count; appends "workload seconds" lines to $TMP/cluster-$1
    local n=$1 nodes=() before_nodes=() i r w t verb job before after pid
    export REEL_CLUSTER="$TMP/cluster-$n.json"
    lab_cluster "scale_$n" "$REEL_CLUSTER"
    for ((i = 0; i < n; i++)); do
        cg_make "rlsc$ID-n$i" "$NODE_CPU"
        # Into the cgroup first: `ip netns exec` remounts /sys, so the cgroup tree is not reachable inside it.
        ( echo "$BASHPID" > "$CG_ROOT/rlsc$ID-n$i/tasks"
          exec ip netns exec "$(lab_ns "$i")" "$REEL" node join "$REEL_CLUSTER" --advertise "$NET.$((10 + i))" \
              --slots "$SLOTS" --data "$TMP/node-$n-$i" ) >"$TMP/node-$n-$i.log" 2>&1 &
        nodes+=($!); PIDS+=($!)
    done
    for ((t = 0; t < 180; t++)); do
        [[ "$("$REEL" node list --json 2>/dev/null | grep -c '"active"')" -ge "$n" ]] && break
        sleep 1
    done
    ((t < 180)) || fail "$n nodes did not all become active within 180 s (logs: $TMP/node-$n-*.log)"
    # Splitting counts the slots of nodes that reported in the last 15 s: let every node report first.
    sleep 5
    [[ "$WARMUP" == 1 ]] && warm_up "$n"
    "$REEL" repo create videos >/dev/null
    "$REEL" put videos@master:/ -f "$VIDEO" >/dev/null
    for w in $WORKLOADS; do
        spec "$w" > "$TMP/$w.yaml"
        for ((r = 1; r <= RUNS; r++)); do
            # The first run is the pipeline's creation; every later one an update, which runs the datum again.
            if ((r == 1)); then verb=create; else verb=update; fi
            "$REEL" pipeline "$verb" -f "$TMP/$w.yaml" >/dev/null 2>"$TMP/pipeline.log" \
                || fail "reel pipeline $verb $w on $n nodes failed: $(tail -1 "$TMP/pipeline.log")"
            before="$(cpu_line)"
            before_nodes=(); for pid in "${nodes[@]}"; do before_nodes+=("$(cpu_s "$pid")"); done
            timeout "$JOB_TIMEOUT" "$REEL" job wait --pipeline "$w" >/dev/null 2>&1 || true
            after="$(cpu_line)"
            t="$(job_seconds "$w")"
            [[ $t == FAILED* ]] && fail "$w on $n nodes: job ended $t (node logs: $TMP/node-$n-*.log)"
            echo "$w $t" >> "$TMP/cluster-$n"
            echo "  $n node(s) $w run $r: $t s"
            awk -v b="$before" -v a="$after" 'BEGIN { split(b, x, " "); split(a, y, " ")
                printf "    CPU while it ran: nodes %.1f s, s3rver %.1f s, PostgreSQL %.1f s\n", y[1] - x[1], y[2] - x[2], y[3] - x[3] }'
            echo "    CPU of each node: $(for ((i = 0; i < n; i++)); do
                awk -v b="${before_nodes[i]}" -v a="$(cpu_s "${nodes[i]}")" 'BEGIN { printf "%.1f s ", a - b }'; done)"
            # Which nodes ran this job's pieces: the job grain's log lines name each piece and its worker.
            job="$("$REEL" job list --pipeline "$w" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')"
            grep -rhoa --include='*.log*' "job $job: datum [0-9a-f]* piece [0-9]* of [0-9]*.*done on [0-9.:]*" "$TMP"/node-$n-* 2>/dev/null \
                | sed 's/^.* piece /    piece /' | sort | head -20 || true
        done
    done
    kill -TERM "${nodes[@]}" 2>/dev/null || true
    for ((t = 0; t < 30; t++)); do kill -0 "${nodes[@]}" 2>/dev/null || break; sleep 1; done
    kill -9 "${nodes[@]}" 2>/dev/null || true
    wait "${nodes[@]}" 2>/dev/null || true
    for ((i = 0; i < n; i++)); do cg_kill "rlsc$ID-n$i"; done
    [[ -n "${KEEP_LOGS:-}" ]] && mkdir -p "$KEEP_LOGS" && cp "$TMP"/node-$n-*.log "$KEEP_LOGS"/
    unset REEL_CLUSTER
}

run_ceiling() {  # $1: N; one plain process with N x NODE_CPU cores; appends "workload seconds" to $TMP/ceiling-$1
    local n=$1 cores w r s e out
    cores="$(awk -v n="$n" -v c="$NODE_CPU" 'BEGIN { print n * c }')"
    cg_make "rlsc$ID-ceiling" "$cores"
    for w in $WORKLOADS; do
        for ((r = 1; r <= RUNS; r++)); do
            out="$TMP/ceiling-out"; rm -rf "$out"
            s="$(date +%s.%N)"
            if [[ $w == extract ]]; then
                ( echo "$BASHPID" > "$CG_ROOT/rlsc$ID-ceiling/tasks"
                  exec timeout "$JOB_TIMEOUT" "$REEL" extract --input "$VIDEO" --output-dir "$out" ) >"$TMP/ceiling.log" 2>&1 \
                    || fail "reel extract under $cores cores failed: $(tail -1 "$TMP/ceiling.log")"
            else
                ( echo "$BASHPID" > "$CG_ROOT/rlsc$ID-ceiling/tasks"
                  exec timeout "$JOB_TIMEOUT" "$REEL" analyze --input "$VIDEO" --models faces --output-dir "$out" ) >"$TMP/ceiling.log" 2>&1 \
                    || fail "reel analyze under $cores cores failed: $(tail -1 "$TMP/ceiling.log")"
            fi
            e="$(date +%s.%N)"
            t="$(awk -v s="$s" -v e="$e" 'BEGIN { printf "%.2f", e - s }')"
            echo "$w $t" >> "$TMP/ceiling-$n"
            echo "  one process, $cores cores, $w run $r: $t s"
        done
    done
    rm -rf "$TMP/ceiling-out"
    cg_kill "rlsc$ID-ceiling"
}

echo "video: $(basename "$VIDEO"), $FRAMES frames; NODE_CPU=$NODE_CPU, SLOTS=$SLOTS per node, RUNS=$RUNS, WARMUP=$WARMUP; load now: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $NODES; do echo "cluster, $n node(s):"; run_cluster "$n"; done
for n in $CEILING; do echo "ceiling, one process:"; run_ceiling "$n"; done

# --- summary ---------------------------------------------------------------------------------------------------------
echo
echo "Summary (medians over RUNS=$RUNS; $FRAMES frames of 1080p; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-8s %-22s %6s %9s %9s %10s\n' workload setup cores "wall s" "frames/s" efficiency
for w in $WORKLOADS; do
    t1="$(grep "^$w " "$TMP/cluster-$(echo $NODES | cut -d' ' -f1)" 2>/dev/null | cut -d' ' -f2 | median)"
    n1="$(echo $NODES | cut -d' ' -f1)"
    for n in $NODES; do
        tn="$(grep "^$w " "$TMP/cluster-$n" | cut -d' ' -f2 | median)"
        awk -v w="$w" -v n="$n" -v c="$NODE_CPU" -v t="$tn" -v t1="$t1" -v n1="$n1" -v f="$FRAMES" 'BEGIN {
            printf "%-8s %-22s %6.1f %9.1f %9.1f %10.2f\n", w, n " node(s)", n * c, t, f / t, (t1 * n1) / (n * t) }'
    done
    for n in $CEILING; do
        tn="$(grep "^$w " "$TMP/ceiling-$n" | cut -d' ' -f2 | median)"
        awk -v w="$w" -v n="$n" -v c="$NODE_CPU" -v t="$tn" -v f="$FRAMES" 'BEGIN {
            printf "%-8s %-22s %6.1f %9.1f %9.1f %10s\n", w, "one process (ceiling)", n * c, t, f / t, "-" }'
    done
done
echo "efficiency: T1 / (N x TN) against the first node count in NODES ($(echo $NODES | cut -d' ' -f1)); target at 4 nodes >= 0.85"
