# Shared by ./reel and ./test.sh: installs the Debian packages Reel needs and builds it when sources changed.
# Sourced, not run.

REEL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REEL_BUILD="$REEL_ROOT/.reel-build"
# Run time: ffmpeg/ffprobe and the libav* libraries, libjpeg-turbo, GTK (OpenCV's native library may load it),
# opencv-data (the Haar face cascade).
# Build time: the libav* headers, pkg-config, gcc. (npm, for the face detection models, is checked below.)
REEL_PACKAGES=(ffmpeg libturbojpeg0 libgtk-3-0 opencv-data libavcodec-dev libavformat-dev libavutil-dev libswscale-dev pkg-config gcc)

reel_missing_packages() {
    local missing=() pkg
    for pkg in "${REEL_PACKAGES[@]}" "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
    done
    echo "${missing[@]}"
}

# Installs missing Debian packages (as root), or says exactly what to run (otherwise). Extra packages may be named.
reel_ensure_packages() {
    local stamp="$REEL_BUILD/packages.ok" wanted="${REEL_PACKAGES[*]} $*"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
        return 0
    fi
    local missing
    missing="$(reel_missing_packages "$@")"
    if [[ -n "$missing" ]]; then
        if [[ "$(id -u)" != 0 ]]; then
            echo "reel: missing Debian packages; install them with:" >&2
            echo "  sudo apt-get update && sudo apt-get install -y $missing" >&2
            return 1
        fi
        echo "reel: installing $missing (first run only)..." >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        # shellcheck disable=SC2086
        apt-get install -y -qq --no-install-recommends $missing >&2
    fi
    if ! command -v dotnet >/dev/null; then
        echo "reel: the .NET 10 SDK (dotnet) is required: https://dotnet.microsoft.com/download" >&2
        return 1
    fi
    mkdir -p "$REEL_BUILD"
    echo "$wanted" > "$stamp"
}

# Models come from npm packages (package.json), never from a hub at run time: BlazeFace from @mediapipe/face_detection,
# CenterNet and the emotion classifier from @vladmandic/human; @tensorflow/tfjs-{core,backend-cpu,converter} run the reference check in tests.
reel_ensure_models() {
    local wanted=(@mediapipe/face_detection/face_detection_short_range.tflite @vladmandic/human/models/centernet.bin
        @vladmandic/human/models/emotion.bin @tensorflow/tfjs-converter/package.json) file missing=0
    for file in "${wanted[@]}"; do
        [[ -f "$REEL_ROOT/node_modules/$file" ]] || missing=1
    done
    if (( missing )); then
        if ! command -v npm >/dev/null; then
            if [[ "$(id -u)" != 0 ]]; then
                echo "reel: npm is needed once to install the models: sudo apt-get install -y npm" >&2
                return 1
            fi
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >&2
        fi
        echo "reel: installing the models (npm, about 130 MB, first run only)..." >&2
        (cd "$REEL_ROOT" && npm ci --no-audit --no-fund --loglevel=error >&2)
    fi
}

# Builds the CLI into .reel-build/bin unless it is newer than every source file.
reel_ensure_built() {
    reel_ensure_models
    local binary="$REEL_BUILD/bin/reel" stamp="$REEL_BUILD/build.stamp"
    if [[ -x "$binary" && -f "$stamp" ]] && [[ -z "$(find "$REEL_ROOT/src" "$REEL_ROOT"/Directory.*.props -newer "$stamp" -type f \
            \( -name '*.cs' -o -name '*.c' -o -name '*.csproj' -o -name '*.props' \) -print -quit 2>/dev/null)" ]]; then
        return 0
    fi
    echo "reel: building (Release)..." >&2
    touch "$stamp.new"
    dotnet build "$REEL_ROOT/src/Reel.Cli/Reel.Cli.csproj" -c Release -o "$REEL_BUILD/bin" -nologo -v quiet >&2
    mv "$stamp.new" "$stamp"
}
