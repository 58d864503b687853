#!/usr/bin/env bash
# The native-boundary size sweep at full size: every width and height from 1 to 70 (at heights/widths 1, 2, 17, 200),
# 200x200, 202x202, 1921x1081, 4097x17 and 17x4097, in each of yuv420p, yuv422p, yuv444p, nv12, gray, yuv420p10le and
# rgb24, through `reel extract` (jpg, png, webp, --width), `reel analyze` with every model and `reel render` with
# every filter, under glibc's malloc checking. ./test.sh runs every size in yuv420p and a sample in the others.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "$0")/.." && pwd)"
REEL_SWEEP=full "$REPO_ROOT/test.sh" --filter "FullyQualifiedName~NativeBoundarySweepTests" "$@"
