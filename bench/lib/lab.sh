# The cluster benchmarks' lab, sourced by bench/cluster.sh and bench/scale.sh: a bridge on a private subnet with one
# network namespace per node (as tests/Reel.Cluster.Tests builds), a private PostgreSQL and s3rver on the bridge
# address, a cluster file per database, and all of it removed again by lab_stop.
#
#   lab_init PREFIX NETWORK NODES   names (PREFIX: 3 letters), NETWORK: the first two octets; sets ID NET BR TMP PIDS
#   lab_start                       bridge, namespaces, PostgreSQL, s3rver (bucket "bench"); sets PGPORT S3PORT
#   lab_cluster NAME FILE [ARG...]  a fresh database and `reel cluster init` on it into FILE (ARG: more init options)
#   lab_ns I                        the namespace of node I
#   lab_stop                        kills PIDS, removes the namespaces, the bridge, PostgreSQL and TMP
# Needs root, iproute2, Debian's postgresql and `npm ci` (s3rver); the caller checks those and sets REEL.

lab_init() {
    LAB_PREFIX="$1"
    LAB_NODES="$3"
    ID="$(head -c3 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    NET="$2.$((RANDOM % 250 + 1))"
    BR="${LAB_PREFIX}b$ID"
    TMP="$(mktemp -d)"
    PIDS=()
    PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
}

lab_ns() { echo "${LAB_PREFIX}n$ID$1"; }

lab_start() {
    local i ns t
    ip link add "$BR" type bridge && ip addr add "$NET.1/24" dev "$BR" && ip link set "$BR" up
    for ((i = 0; i < LAB_NODES; i++)); do
        ns="$(lab_ns "$i")"
        ip netns add "$ns"
        ip link add "${LAB_PREFIX}v$ID$i" type veth peer name "${LAB_PREFIX}p$ID$i"
        ip link set "${LAB_PREFIX}p$ID$i" netns "$ns"
        ip link set "${LAB_PREFIX}v$ID$i" master "$BR" up
        ip netns exec "$ns" ip addr add "$NET.$((10 + i))/24" dev "${LAB_PREFIX}p$ID$i"
        ip netns exec "$ns" ip link set "${LAB_PREFIX}p$ID$i" up
        ip netns exec "$ns" ip link set lo up
    done
    PGPORT=$((20000 + RANDOM % 20000))
    mkdir -p "$TMP/pg" && chown postgres "$TMP" "$TMP/pg"
    setpriv --reuid=postgres --regid=postgres --clear-groups "$PGBIN/initdb" -D "$TMP/pg" -A trust -U reel >/dev/null
    echo "host all all $NET.0/24 trust" >> "$TMP/pg/pg_hba.conf"
    setpriv --reuid=postgres --regid=postgres --clear-groups "$PGBIN/pg_ctl" -D "$TMP/pg" -w -t 60 -l "$TMP/pg.log" \
        -o "-p $PGPORT -k $TMP -c listen_addresses=127.0.0.1,$NET.1 -c fsync=off -c max_connections=300" start >/dev/null
    S3PORT=$((40000 + RANDOM % 20000))
    mkdir -p "$TMP/s3"
    node node_modules/s3rver/bin/s3rver.js -d "$TMP/s3" -a "$NET.1" -p "$S3PORT" -s </dev/null >"$TMP/s3.log" 2>&1 &
    PIDS+=($!)
    disown $!  # killed at exit on purpose: no "Killed" notice
    # s3rver takes a while to listen on a loaded machine.
    for ((t = 0; t < 60; t++)); do curl -sf -X PUT "http://$NET.1:$S3PORT/bench" >/dev/null && return 0; sleep 1; done
    echo "lab: s3rver did not answer on $NET.1:$S3PORT within 60 s" >&2
    return 1
}

lab_cluster() {
    local db="$1_$RANDOM" file="$2"
    shift 2
    psql -q -h 127.0.0.1 -p "$PGPORT" -U reel -d postgres -c "CREATE DATABASE $db" >/dev/null
    "$REEL" cluster init --db "postgresql://reel@$NET.1:$PGPORT/$db" \
        --objects "s3://bench?endpoint=http://$NET.1:$S3PORT&access_key=S3RVER&secret_key=S3RVER" --probe-timeout 2 \
        -o "$file" "$@" >/dev/null
}

lab_stop() {
    local pid i
    for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
    for ((i = 0; i < LAB_NODES; i++)); do
        ip netns del "$(lab_ns "$i")" 2>/dev/null
        ip link del "${LAB_PREFIX}v$ID$i" 2>/dev/null
    done
    ip link del "$BR" 2>/dev/null
    [[ -n "$PGBIN" && -d "$TMP/pg" ]] && setpriv --reuid=postgres --regid=postgres --clear-groups "$PGBIN/pg_ctl" -D "$TMP/pg" -m immediate stop >/dev/null 2>&1
    rm -rf "$TMP"
    return 0
}
