using System.Diagnostics;
using OpenCvSharp;
using OpenCvSharp.Dnn;

namespace Reel.Operators.Faces;

/// <summary>
/// MediaPipe BlazeFace through OpenCV's DNN module: letterbox to the network's square input, decode the SSD
/// anchors into boxes and six keypoints, keep scores above the threshold, merge with weighted suppression.
/// One instance per thread.
/// </summary>
public sealed class BlazeFaceDetector : IFaceDetector, IFrameAnalyzer
{
    /// <summary>Keypoint names in BlazeFace's order; "right" is the person's right (the left of the picture).</summary>
    public static readonly IReadOnlyList<string> KeypointNames = ["right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear", "left_ear"];

    private static readonly Lock LoadLock = new();

    private readonly Net _net;
    private readonly int _input;
    private readonly float _threshold;
    private readonly float _suppression;
    private readonly FaceTiling _tiling;
    private readonly float _tileThreshold;
    private readonly Anchor[] _anchors;
    private readonly string[] _outputs;
    private readonly Mat[] _outputMats = [new(), new()];
    private readonly Mat _square;
    private readonly Mat _blob;

    public BlazeFaceDetector(FaceDetectorOptions? options = null)
    {
        options ??= new FaceDetectorOptions();
        var full = options.Model == FaceModel.FullRange;
        var path = options.ModelPath ?? ModelFiles.Find(full ? "face_detection_full_range.tflite" : "face_detection_short_range.tflite");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"face model not found: {path}", path);
        }
        // OpenCV's TFLite importer sets itself up on first use without a lock: load one network at a time.
        lock (LoadLock)
        {
            _net = CvDnn.ReadNet(path);
        }
        _net.SetPreferableBackend(Backend.OPENCV);
        _input = full ? 192 : 128;
        _threshold = options.ScoreThreshold ?? (full ? 0.6f : 0.5f);
        _suppression = options.SuppressionThreshold;
        _tiling = options.Tiling;
        _tileThreshold = Math.Max(_threshold, options.TileScoreThreshold);
        // Output names differ between the two models; the box regressors are the output with 16 values per anchor.
        var names = _net.GetUnconnectedOutLayersNames().Select(n => n!).ToArray();
        _outputs = names.Length == 2 && names[1].Contains("regress", StringComparison.OrdinalIgnoreCase) ? [names[1], names[0]] : names;
        _square = new Mat(_input, _input, MatType.CV_8UC3);
        _blob = new Mat([1, 3, _input, _input], MatType.CV_32FC1);
        _anchors = full ? Anchor.Generate(192, [4], interpolated: false) : Anchor.Generate(128, [8, 16, 16, 16], interpolated: true);
    }

    public string Model => "faces";

    public FrameResult Analyze(AnalysisFrame frame)
    {
        var started = Stopwatch.GetTimestamp();
        var faces = Detect(frame.Bgr);
        return new FrameResult
        {
            Frame = frame.Index,
            Time = frame.Time,
            Model = Model,
            Detections = faces,
            InferenceMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds,
        };
    }

    public IReadOnlyList<Detection> Detect(Mat bgr)
    {
        var passes = new List<(Rect Region, float Threshold)>();
        var tiles = Tiles(bgr.Width, bgr.Height);
        // Frame-tall squares that cover the picture show every face the whole picture would, larger; it adds nothing.
        if (_tiling != FaceTiling.Squares || tiles.Count == 0)
        {
            passes.Add((new Rect(0, 0, bgr.Width, bgr.Height), _threshold));
        }
        passes.AddRange(tiles.Select(t => (t, _tiling == FaceTiling.Squares ? _threshold : _tileThreshold)));

        var found = new List<Detection>();
        // One forward pass per region: the model's graph fixes its batch size at one.
        foreach (var (region, threshold) in passes)
        {
            DetectIn(bgr, region, threshold, found);
        }
        return Suppression.Weighted(found, _suppression);
    }

    /// <summary>
    /// Overlapping square tiles: as tall as the picture (Squares), then a quarter and a sixth of the longer side
    /// (Dense, at least three network inputs). Frame-tall squares are as few as cover the picture (two for 16:9,
    /// overlapping by an eighth of their side or more, a fifth for 16:9): a face at the seam is still mostly inside one of them, and each square
    /// is a forward pass on every frame. The small Dense tiles overlap by a third or more, so every face of a group
    /// photo lies whole in some tile.
    /// </summary>
    private List<Rect> Tiles(int width, int height)
    {
        if (_tiling == FaceTiling.None)
        {
            return [];
        }
        var longer = Math.Max(width, height);
        var shorter = Math.Min(width, height);
        var sides = new List<(int Side, double MinOverlap)>();
        if (longer >= shorter * 1.5)
        {
            sides.Add((shorter, 1.0 / 8));
        }
        if (_tiling == FaceTiling.Dense)
        {
            sides.AddRange(new[] { longer / 4, longer / 6 }.Select(s => Math.Max(_input * 3, s)).Where(s => s * 1.5 < longer).Select(s => (s, 1.0 / 3)));
        }
        var tiles = new List<Rect>();
        foreach (var (side, overlap) in sides.Distinct())
        {
            foreach (var top in Starts(height, side, overlap))
            {
                foreach (var left in Starts(width, side, overlap))
                {
                    tiles.Add(new Rect(left, top, Math.Min(side, width - left), Math.Min(side, height - top)));
                }
            }
        }
        return tiles;
    }

    /// <summary>Tile starts along one axis: evenly spread, first at 0, last flush with the end, neighbours overlapping by at least <paramref name="minOverlap"/> of a side.</summary>
    private static IEnumerable<int> Starts(int length, int side, double minOverlap) =>
        side >= length ? [0] : Spread(length, side, (int)Math.Ceiling((length - side) / (side * (1 - minOverlap))) + 1);

    /// <summary>Starts of <paramref name="count"/> tiles evenly spread over a length, the first at 0, the last flush with the end.</summary>
    private static IEnumerable<int> Spread(int length, int side, int count) =>
        count <= 1 ? [0] : Enumerable.Range(0, count).Select(i => (int)Math.Round((double)i * (length - side) / (count - 1)));

    private unsafe void DetectIn(Mat image, Rect region, float threshold, List<Detection> found)
    {
        var (scale, padX, padY) = Letterbox(image, region);
        FillInput();
        _net.SetInput(_blob);
        _net.Forward(_outputMats, _outputs);

        var perAnchor = (int)(_outputMats[0].Total() / _anchors.Length);
        var boxes = (float*)_outputMats[0].Data;
        var scores = (float*)_outputMats[1].Data;
        for (var i = 0; i < _anchors.Length; i++)
        {
            var score = 1 / (1 + MathF.Exp(-Math.Clamp(scores[i], -100f, 100f)));
            if (score < threshold)
            {
                continue;
            }
            var raw = boxes + ((long)i * perAnchor);
            var a = _anchors[i];
            // Offsets are in input pixels relative to the anchor centre; anchors have unit size.
            float X(float value) => ((((value / _input) + a.X) * _input) - padX) / scale + region.X;
            float Y(float value) => ((((value / _input) + a.Y) * _input) - padY) / scale + region.Y;
            var cx = X(raw[0]);
            var cy = Y(raw[1]);
            var bw = raw[2] / scale;
            var bh = raw[3] / scale;
            var keypoints = new Keypoint[KeypointNames.Count];
            for (var k = 0; k < keypoints.Length; k++)
            {
                keypoints[k] = new Keypoint(KeypointNames[k], X(raw[4 + (2 * k)]), Y(raw[5 + (2 * k)]));
            }
            found.Add(new Detection("face", score, new Box(cx - (bw / 2), cy - (bh / 2), bw, bh)) { Keypoints = keypoints });
        }
    }

    /// <summary>
    /// Scales a region's longer side to the input and centres it on black in the reused square, as MediaPipe's FIT
    /// mode does. Bilinear: area averaging at these fractional ratios costs more than the network itself.
    /// </summary>
    private (float Scale, int PadX, int PadY) Letterbox(Mat image, Rect region)
    {
        var scale = (float)_input / Math.Max(region.Width, region.Height);
        var w = Math.Max(1, (int)Math.Round(region.Width * scale));
        var h = Math.Max(1, (int)Math.Round(region.Height * scale));
        var padX = (_input - w) / 2;
        var padY = (_input - h) / 2;
        _square.SetTo(Scalar.All(0));
        using (var roi = new Mat(image, region))
        using (var target = new Mat(_square, new Rect(padX, padY, w, h)))
        {
            Cv2.Resize(roi, target, new Size(w, h), interpolation: InterpolationFlags.Linear);
        }
        return (scale, padX, padY);
    }

    /// <summary>Writes the square into the reused input blob: RGB planes scaled to [-1, 1].</summary>
    private unsafe void FillInput()
    {
        var plane = _input * _input;
        var blob = (float*)_blob.Data;
        for (var y = 0; y < _input; y++)
        {
            var row = (byte*)_square.Ptr(y);
            for (var x = 0; x < _input; x++)
            {
                var i = (y * _input) + x;
                blob[i] = (row[(3 * x) + 2] / 127.5f) - 1;
                blob[plane + i] = (row[(3 * x) + 1] / 127.5f) - 1;
                blob[(2 * plane) + i] = (row[3 * x] / 127.5f) - 1;
            }
        }
    }

    public void Dispose()
    {
        _net.Dispose();
        _square.Dispose();
        _blob.Dispose();
        foreach (var mat in _outputMats)
        {
            mat.Dispose();
        }
    }

    /// <summary>An SSD anchor centre in 0-1 input coordinates (MediaPipe's SsdAnchorsCalculator with fixed anchor size).</summary>
    private readonly record struct Anchor(float X, float Y)
    {
        public static Anchor[] Generate(int inputSize, int[] strides, bool interpolated)
        {
            var anchors = new List<Anchor>();
            var layer = 0;
            while (layer < strides.Length)
            {
                // Consecutive layers with the same stride share one grid: two anchors per layer per cell
                // (aspect ratio 1, plus the interpolated scale when enabled).
                var perCell = 0;
                var last = layer;
                while (last < strides.Length && strides[last] == strides[layer])
                {
                    perCell += interpolated ? 2 : 1;
                    last++;
                }
                var grid = (int)Math.Ceiling((double)inputSize / strides[layer]);
                for (var y = 0; y < grid; y++)
                {
                    for (var x = 0; x < grid; x++)
                    {
                        for (var n = 0; n < perCell; n++)
                        {
                            anchors.Add(new Anchor((x + 0.5f) / grid, (y + 0.5f) / grid));
                        }
                    }
                }
                layer = last;
            }
            return [.. anchors];
        }
    }
}
