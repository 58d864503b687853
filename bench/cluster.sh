#!/usr/bin/env bash
# Cluster engine overhead: no-op datums per second on 1 and on 3 nodes, each node a separate `reel node join`
# process in its own network namespace (a test-only bridge, as tests/Reel.Cluster.Tests builds), with a private
# PostgreSQL and s3rver on the bridge address. Needs root, iproute2, Debian's postgresql and `npm ci` (s3rver).
#
#   bench/cluster.sh                 # 400 no-op datums, RUNS=3, slots = cores per node
#   DATUMS=1000 RUNS=5 bench/cluster.sh
#
# Prints, per node count, the median datums/s over RUNS jobs (job start to finish as the job records it) with the
# slowest and fastest run in brackets, and the 3-node/1-node ratio (the issue's target: at least 0.8).
# Not measured here yet: the time from kill -9 of a worker node to its datums running elsewhere.
set -euo pipefail

BENCH_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO_ROOT="$(cd "$BENCH_DIR/.." && pwd)"
RUNS="${RUNS:-3}"
DATUMS="${DATUMS:-400}"
SLOTS="${SLOTS:-$(nproc)}"
[[ $EUID -eq 0 ]] || { echo "cluster.sh: needs root (network namespaces)" >&2; exit 1; }
PGBIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
[[ -x "$PGBIN/initdb" ]] || { echo "cluster.sh: needs Debian's postgresql (apt-get install -y postgresql)" >&2; exit 1; }
[[ -f "$REPO_ROOT/node_modules/s3rver/package.json" ]] || { echo "cluster.sh: run 'npm ci' first (s3rver)" >&2; exit 1; }

ID="$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
NET="10.231.$((RANDOM % 250 + 1))"
BR="rlkb$ID"
TMP="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
    for i in 0 1 2; do ip netns del "rlkn$ID$i" 2>/dev/null || true; done
    ip link del "$BR" 2>/dev/null || true
    [[ -d "$TMP/pg" ]] && setpriv --reuid=postgres --regid=postgres --clear-groups "$PGBIN/pg_ctl" -D "$TMP/pg" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$TMP"
}
trap cleanup EXIT
cd "$REPO_ROOT"
./reel --help >/dev/null
# The built binary itself: inside a namespace, the node must be the process we signal.
REEL="$REPO_ROOT/.reel-build/bin/reel"

ip link add "$BR" type bridge && ip addr add "$NET.1/24" dev "$BR" && ip link set "$BR" up
for i in 0 1 2; do
    ns="rlkn$ID$i"
    ip netns add "$ns"
    ip link add "rlkv$ID$i" type veth peer name "rlkp$ID$i"
    ip link set "rlkp$ID$i" netns "$ns"
    ip link set "rlkv$ID$i" master "$BR" up
    ip netns exec "$ns" ip addr add "$NET.$((10 + i))/24" dev "rlkp$ID$i"
    ip netns exec "$ns" ip link set "rlkp$ID$i" up
    ip netns exec "$ns" ip link set lo up
done

PGPORT=$((20000 + RANDOM % 20000))
mkdir -p "$TMP/pg" && chown postgres "$TMP" "$TMP/pg"
setpriv --reuid=postgres --regid=postgres --clear-groups "$PGBIN/initdb" -D "$TMP/pg" -A trust -U reel >/dev/null
echo "host all all $NET.0/24 trust" >> "$TMP/pg/pg_hba.conf"
setpriv --reuid=postgres --regid=postgres --clear-groups "$PGBIN/pg_ctl" -D "$TMP/pg" -w -l "$TMP/pg.log" \
    -o "-p $PGPORT -k $TMP -c listen_addresses=127.0.0.1,$NET.1 -c fsync=off -c max_connections=300" start >/dev/null
S3PORT=$((40000 + RANDOM % 20000))
mkdir -p "$TMP/s3"
node node_modules/s3rver/bin/s3rver.js -d "$TMP/s3" -a "$NET.1" -p "$S3PORT" -s </dev/null >/dev/null 2>&1 &
PIDS+=($!)
sleep 2
curl -sf -X PUT "http://$NET.1:$S3PORT/bench" >/dev/null

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
    local n=$1 db="bench_${n}_$RANDOM"
    psql -q -h 127.0.0.1 -p "$PGPORT" -U reel -d postgres -c "CREATE DATABASE $db" >/dev/null
    export REEL_CLUSTER="$TMP/cluster-$n.json"
    "$REEL" cluster init --db "postgresql://reel@$NET.1:$PGPORT/$db" \
        --objects "s3://bench?endpoint=http://$NET.1:$S3PORT&access_key=S3RVER&secret_key=S3RVER" --probe-timeout 2 -o "$REEL_CLUSTER" >/dev/null
    local nodes=()
    for ((i = 0; i < n; i++)); do
        ip netns exec "rlkn$ID$i" "$REEL" node join "$REEL_CLUSTER" --advertise "$NET.$((10 + i))" --slots "$SLOTS" \
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

echo "no-op datums per second, $DATUMS datums per job, $SLOTS slots per node, RUNS=$RUNS, medians [slowest-fastest]"
run_nodes 1 > "$TMP/r1"
run_nodes 3 > "$TMP/r3"
one="$(median < "$TMP/r1")"; three="$(median < "$TMP/r3")"
echo "1 node:  $one/s $(spread < "$TMP/r1")"
echo "3 nodes: $three/s $(spread < "$TMP/r3")"
awk -v a="$one" -v b="$three" 'BEGIN { printf "3 nodes / 1 node: %.2f (target >= 0.8)\n", b / a }'
