#!/usr/bin/env python3
"""Frame extractor with the command line of the Pachyderm frame-extraction demo's extract_frames.py.

Writes every frame of each video in --input to --output-dir/<video file name>/<frame index, 10 digits>.jpg,
using the ffmpeg CLI (no OpenCV needed). --threaded is accepted for compatibility; ffmpeg is multi-threaded.
Run it through Reel with the demo's unchanged spec: reel pipeline create -f frames.json (beside this file).
"""
import argparse
import os
import subprocess
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--input", required=True, help="file or directory of videos")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--threaded", action="store_true")
    args = parser.parse_args()

    if os.path.isdir(args.input):
        videos = sorted(os.path.join(root, name) for root, _, names in os.walk(args.input) for name in names)
    else:
        videos = [args.input]
    for video in videos:
        target = os.path.join(args.output_dir, os.path.basename(video))
        os.makedirs(target, exist_ok=True)
        # passthrough: one image per decoded frame, none duplicated or dropped to fit a frame rate.
        result = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", video, "-map", "0:v:0", "-fps_mode", "passthrough",
             "-q:v", "2", "-start_number", "0", os.path.join(target, "%010d.jpg")])
        if result.returncode != 0:
            print(f"extract_frames.py: ffmpeg failed on {video}", file=sys.stderr)
            return 1
        print(f"{video}: {len(os.listdir(target))} frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
