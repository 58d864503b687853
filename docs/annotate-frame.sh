#!/usr/bin/env bash
# Makes docs/analysis-frame.jpg, the README's picture of `reel analyze` with the bundled models: one frame of
# samsungfun.mp4 with the faces/emotions and objects Reel found in it, drawn from results.jsonl with ffmpeg.
#
#   docs/annotate-frame.sh [TIME_SECONDS]      # default 5
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
T="${1:-5}"
FONT=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
[[ -f "$FONT" ]] || { echo "annotate-frame.sh: needs fonts-dejavu-core ($FONT)" >&2; exit 1; }
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$ROOT"
./reel analyze --input fixtures/samsungfun.mp4 --models faces,objects,emotions --start "$T" --end "$T.04" --output-dir "$TMP/r" >/dev/null
# The first analyzed frame's detections as ffmpeg drawbox/drawtext filters: objects in yellow, emotions in green.
python3 - "$TMP/r/samsungfun.mp4/results.jsonl" "$FONT" > "$TMP/filters" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
frame = min(r["frame"] for r in rows)
parts = []
for row in rows:
    if row["frame"] != frame or row["model"] not in ("objects", "emotions"):
        continue
    color = "yellow" if row["model"] == "objects" else "lime"
    for d in row["detections"]:
        b = d["box"]
        x, y, w, h = (int(round(b[k])) for k in ("x", "y", "width", "height"))
        text = f'{d["label"]} {d["score"]:.2f}'.replace(":", r"\:")
        ty = y + 8 if row["model"] == "objects" else max(0, y - 44)
        parts.append(f"drawbox=x={x}:y={y}:w={w}:h={h}:color={color}:t=6")
        parts.append(f"drawtext=fontfile={sys.argv[2]}:text='{text}':x={x + 8}:y={ty}:fontsize=36:fontcolor={color}:box=1:boxcolor=black@0.6")
print(",".join(parts + ["scale=960:-2"]))
PY
ffmpeg -nostdin -v error -y -ss "$T" -i fixtures/samsungfun.mp4 -frames:v 1 -vf "$(cat "$TMP/filters")" -q:v 4 docs/analysis-frame.jpg
echo "docs/analysis-frame.jpg: frame at ${T}s"
