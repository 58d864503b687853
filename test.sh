#!/usr/bin/env bash
# Installs what Reel needs, builds it, and runs every test. Arguments go to 'dotnet test' (e.g. --filter Name~Fps).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/scripts/setup.sh"
# Test-only packages: python for the Pachyderm demo script (run as the demo runs it), chromium for the dashboard tests,
# postgresql for the metadata store tests (tests/Shared/PostgresServer.cs starts private servers; the packaged one is unused).
# iproute2: the cluster tests build network namespaces (ip netns, veth, bridge, route cuts).
reel_ensure_packages python3 python-is-python3 chromium fonts-dejavu-core postgresql iproute2
reel_ensure_models
cd "$REEL_ROOT"
# s3rver (a devDependency) serves S3 to the object-store tests; a tree installed before it was added lacks it.
[[ -f node_modules/s3rver/package.json ]] || npm ci --no-audit --no-fund --loglevel=error >&2
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
if [[ $# -gt 0 ]]; then
    dotnet test Reel.slnx -c Release --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log" || status=$?
else
    # The cluster tests run their node processes after the rest, not beside them: on a 2-core machine their load
    # starves the tests that interrupt or kill a command mid-way at a chosen moment.
    dotnet test Reel.slnx -c Release --logger "console;verbosity=normal" --filter "FullyQualifiedName!~Reel.Cluster.Tests" 2>&1 | tee "$log" || status=$?
    dotnet test tests/Reel.Cluster.Tests -c Release --no-build --logger "console;verbosity=normal" 2>&1 | tee -a "$log" || status=$?
fi
# Closing lines for CI, whose log keeps only its tail: each failed test with its reason, then totals over every project.
awk '/^ *Failed [A-Za-z]/ { show = 1; n = 0 } /^ *Stack Trace:/ { show = 0 }
     show && n++ < 12 { print "FAILED: " $0 }' "$log"
awk '/^ *Passed: *[0-9]+ *$/ { p += $2 } /^ *Failed: *[0-9]+ *$/ { f += $2 }
     END { printf "%d passed, %d failed\n", p, f }' "$log"
exit "$status"
