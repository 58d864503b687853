#!/usr/bin/env bash
# Cluster engine overhead: no-op datums per second on 1 and on 3 nodes, each node a separate `reel node join`
# process in its own network namespace (a test-only bridge, as tests/Reel.Cluster.Tests builds), with a private
# PostgreSQL and s3rver on the bridge address. Needs root, iproute2, Debian's postgresql and `npm ci` (s3rver).
#
#   bench/cluster.sh                 # 400 no-op datums, RUNS=3, slots = cores per node
#   DATUMS=1000 RUNS=5 bench/cluster.sh
#   SKIP_OVERHEAD=1 LEASE=10 bench/cluster.sh   # only the kill -9 recovery
#
# Prints, per node count, the median datums/s over RUNS jobs (job start to finish as the job records it) with the
# slowest and fastest run in brackets, and the 3-node/1-node ratio (the issue's target: at least 0.8). Then, on 3
# nodes with a LEASE-second lease, RUNS times: kill -9 of a worker node (its process tree, as a machine's death
# would) mid-job and the seconds until the last datum it was running has started on another node (target: under
# the lease + 5 s). Each datum of that job sleeps DATUM_SECONDS and records its start and end in a shared file.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO_ROOT="$(cd "$BENCH_DIR/.." && pwd)"
RUNS="${RUNS:-3}"
DATUMS="${DATUMS:-400}"
SLOTS="${SLOTS:-$(nproc)}"
LEASE="${LEASE:-10}"
DATUM_SECONDS="${DATUM_SECONDS:-2}"
KILL_DATUMS="${KILL_DATUMS:-60}"
[[ $EUID -eq 0 ]] || { echo "cluster.sh: needs root (network namespaces)" >&2; exit 1; }
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
[[ -x "$PGBIN/initdb" ]] || { echo "cluster.sh: needs Debian's postgresql (apt-get install -y postgresql)" >&2; exit 1; }
[[ -f "$REPO_ROOT/node_modules/s3rver/package.json" ]] || { echo "cluster.sh: run 'npm ci' first (s3rver)" >&2; exit 1; }

source "$BENCH_DIR/lib/lab.sh"
lab_init rlk 10.231 3
cleanup() { set +e; lab_stop; }
trap cleanup EXIT
cd "$REPO_ROOT"
./reel --help >/dev/null
# The built binary itself: inside a namespace, the node must be the process we signal.
REEL="$REPO_ROOT/.reel-build/bin/reel"
lab_start

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) printf "%.1f", v[(NR + 1) / 2]; else printf "%.1f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
spread() { sort -g | awk '{ v[NR] = $1 } END { printf "[%.1f-%.1f]", v[1], v[NR] }'; }

mkdir -p "$TMP/in"
for ((d = 0; d < DATUMS; d++)); do echo "$d" > "$TMP/in/d$d"; done
cat > "$TMP/noop.yaml" <<SPEC
pipeline: {name: noop}
input: {pfs: {repo: inbox, glob: "/*"}}
transform: {cmd: ["true"]}
SPEC

run_nodes() {  # $1: node count; prints datums/s of each of RUNS jobs
    local n=$1
    export REEL_CLUSTER="$TMP/cluster-$n.json"
    lab_cluster "bench_$n" "$REEL_CLUSTER"
    local nodes=()
    for ((i = 0; i < n; i++)); do
        ip netns exec "$(lab_ns "$i")" "$REEL" node join "$REEL_CLUSTER" --advertise "$NET.$((10 + i))" --slots "$SLOTS" \
            --data "$TMP/node-$n-$i" >"$TMP/node-$n-$i.log" 2>&1 &
        nodes+=($!); PIDS+=($!)
    done
    until [[ "$("$REEL" node list --json | grep -c '"active"')" -ge "$n" ]]; do sleep 1; done
    "$REEL" repo create inbox >/dev/null
    "$REEL" pipeline create -f "$TMP/noop.yaml" >/dev/null
    for ((r = 1; r <= RUNS; r++)); do
        # Each run changes every file, so every datum runs again.
        for ((d = 0; d < DATUMS; d++)); do echo "$r $d" > "$TMP/in/d$d"; done
        "$REEL" put inbox@master:/ -f "$TMP/in" -r >/dev/null 2>&1
        "$REEL" job wait >/dev/null 2>&1 || true
        "$REEL" job list --json | python3 -c '
import json, sys, datetime
j = json.load(sys.stdin)[0]
p = lambda t: datetime.datetime.fromisoformat(t.replace("Z", "+00:00"))
print(j["datums"]["success"] / (p(j["finished"]) - p(j["started"])).total_seconds())'
    done
    kill -TERM "${nodes[@]}" 2>/dev/null || true
    wait "${nodes[@]}" 2>/dev/null || true
}

start_node() {  # $1: cluster file, $2: namespace index, $3: data directory; prints the node's process id
    ip netns exec "$(lab_ns "$2")" "$REEL" node join "$1" --advertise "$NET.$((10 + $2))" --slots "$SLOTS" --data "$3" >"$3.log" 2>&1 &
    echo $!
}

running_on() {  # $1: the starts file, $2: a node's data directory; prints how many datums run there now
    awk -v p="$2/" '$1 == "start" && index($3, p) == 1 { o[$2] = 1 } $1 == "end" && index($3, p) == 1 { delete o[$2] }
        END { n = 0; for (k in o) n++; print n }' "$1"
}

tree() {  # a process and its descendants
    echo "$1"
    local child
    for child in $(ps -o pid= --ppid "$1"); do tree "$child"; done
}

run_kill() {  # prints, per run, seconds from kill -9 of a worker node to the last of its datums starting elsewhere
    local starts="$TMP/starts"
    export REEL_CLUSTER="$TMP/cluster-kill.json"
    lab_cluster bench_kill "$REEL_CLUSTER" --lease "$LEASE"
    local pids=() dirs=() i r
    for i in 0 1 2; do dirs[i]="$TMP/kill-0-$i"; pids[i]="$(start_node "$REEL_CLUSTER" "$i" "${dirs[i]}")"; PIDS+=("${pids[i]}"); done
    until [[ "$("$REEL" node list --json | grep -c '"active"')" -ge 3 ]]; do sleep 1; done
    mkdir -p "$TMP/kin"
    cat > "$TMP/slow.yaml" <<SPEC
pipeline: {name: slow}
input: {pfs: {repo: kinbox, glob: "/*"}}
transform: {cmd: [sh, -c, 'f=\$(basename /pfs/kinbox/*); echo "start \$f \$REEL_PFS_DIR \$(date +%s.%N)" >> $starts; sleep $DATUM_SECONDS; echo "end \$f \$REEL_PFS_DIR" >> $starts']}
SPEC
    "$REEL" repo create kinbox >/dev/null
    "$REEL" pipeline create -f "$TMP/slow.yaml" >/dev/null
    for ((r = 1; r <= RUNS; r++)); do
        : > "$starts"
        for ((d = 0; d < KILL_DATUMS; d++)); do echo "$r $d" > "$TMP/kin/k$d"; done
        "$REEL" put kinbox@master:/ -f "$TMP/kin" -r >/dev/null 2>&1
        # Every slot busy, datums still queued: then kill a worker that holds neither the job's grain nor the scheduler,
        # at a moment it runs datums.
        until (( $(awk '/^start/ { n++ } END { print n + 0 }' "$starts") >= 3 * SLOTS )); do sleep 0.2; done
        local job victim="" workers=() tries
        job="$("$REEL" job list --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])')"
        for i in 0 1 2; do
            grep -q -e "job $job of slow" -e "scheduler active" "${dirs[i]}.log" || workers+=("$i")
        done
        for ((tries = 0; tries < 300 && ${#workers[@]} > 0; tries++)); do
            for i in "${workers[@]}"; do
                if (( $(running_on "$starts" "${dirs[i]}") > 0 )); then victim=$i; break 2; fi
            done
            sleep 0.1
        done
        [[ -n "$victim" ]] || { echo "cluster.sh: no plain worker node ran datums to kill" >&2; exit 1; }
        local doomed killed
        doomed="$(tree "${pids[victim]}")"
        killed="$(date +%s.%N)"
        # shellcheck disable=SC2086
        kill -9 $doomed 2>/dev/null || true
        "$REEL" job wait >/dev/null 2>&1 || true
        python3 - "$starts" "${dirs[victim]}/" "$killed" <<'PY'
import sys
starts, victim, killed = sys.argv[1], sys.argv[2], float(sys.argv[3])
lines = [l.split() for l in open(starts) if l.strip()]
ended = {(l[1], l[2]) for l in lines if l[0] == "end"}
lost = {l[1] for l in lines if l[0] == "start" and l[2].startswith(victim) and (l[1], l[2]) not in ended}
again = {}
for l in lines:
    if l[0] == "start" and l[1] in lost and not l[2].startswith(victim) and float(l[3]) > killed:
        again.setdefault(l[1], float(l[3]))
if not lost or len(again) < len(lost):
    nodes = sorted({l[2].split("/scratch/")[0] for l in lines if l[0] == "start"})
    sys.exit(f"cluster.sh: {len(lost)} datums lost with the node {victim}, {len(again)} started again; {len(lines)} lines, by nodes {nodes}")
print(f"{max(again.values()) - killed:.2f}")
PY
        # A fresh node takes the victim's place (same address, new data directory) for the next run.
        if ((r < RUNS)); then
            dirs[victim]="$TMP/kill-$r-$victim"
            pids[victim]="$(start_node "$REEL_CLUSTER" "$victim" "${dirs[victim]}")"; PIDS+=("${pids[victim]}")
            until [[ "$("$REEL" node list --json | grep -c '"active"')" -ge 3 ]]; do sleep 1; done
        fi
    done
    kill -TERM "${pids[@]}" 2>/dev/null || true
    # They are not this shell's children (started in command substitutions): wait a bounded while for them to go.
    for ((i = 0; i < 150; i++)); do kill -0 "${pids[@]}" 2>/dev/null || break; sleep 0.2; done
}

if [[ -z "${SKIP_OVERHEAD:-}" ]]; then
    echo "no-op datums per second, $DATUMS datums per job, $SLOTS slots per node, RUNS=$RUNS, medians [slowest-fastest]"
    run_nodes 1 > "$TMP/r1"
    run_nodes 3 > "$TMP/r3"
    one="$(median < "$TMP/r1")"; three="$(median < "$TMP/r3")"
    echo "1 node:  $one/s $(spread < "$TMP/r1")"
    echo "3 nodes: $three/s $(spread < "$TMP/r3")"
    awk -v a="$one" -v b="$three" 'BEGIN { printf "3 nodes / 1 node: %.2f (target >= 0.8)\n", b / a }'
fi
run_kill > "$TMP/rk"
echo "kill -9 of a worker node to its datums running elsewhere: $(median < "$TMP/rk") s $(spread < "$TMP/rk")" \
    "(lease $LEASE s, target < $((LEASE + 5)) s; $KILL_DATUMS datums of $DATUM_SECONDS s on 3 nodes)"
