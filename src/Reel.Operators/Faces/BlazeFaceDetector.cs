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

    private const int MaxStripSquares = 16;

    private static readonly Lock LoadLock = new();

    private readonly Net _net;
    private readonly int _input;
    private readonly bool _full;
    private readonly float _threshold;
    private readonly float _suppression;
    private readonly FaceTiling _tiling;
    private readonly float _tileThreshold;
    private readonly string[] _outputs;
    private readonly Mat[] _outputMats = [new(), new()];
    private readonly Dictionary<Size, InputBuffers> _inputs = [];

    public BlazeFaceDetector(FaceDetectorOptions? options = null)
    {
        options ??= new FaceDetectorOptions();
        _full = options.Model == FaceModel.FullRange;
        var path = options.ModelPath ?? ModelFiles.Find(_full ? "face_detection_full_range.tflite" : "face_detection_short_range.tflite");
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
        _input = _full ? 192 : 128;
        _threshold = options.ScoreThreshold ?? (_full ? 0.6f : 0.5f);
        _suppression = options.SuppressionThreshold;
        _tiling = options.Tiling;
        _tileThreshold = Math.Max(_threshold, options.TileScoreThreshold);
        // Output names differ between the two models; the box regressors are the output with 16 values per anchor.
        var names = _net.GetUnconnectedOutLayersNames().Select(n => n!).ToArray();
        _outputs = names.Length == 2 && names[1].Contains("regress", StringComparison.OrdinalIgnoreCase) ? [names[1], names[0]] : names;
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
        var found = new List<Detection>();
        foreach (var pass in Passes(bgr.Width, bgr.Height))
        {
            DetectIn(bgr, pass, found);
        }
        return Suppression.Weighted(found, _suppression);
    }

    /// <summary>
    /// Where the network looks: the whole picture in one square input (None, and pictures less than 1.5 times as
    /// wide as tall), the picture at the scale of squares as tall as it is (Squares; for 16:9 video this is the
    /// only pass), then tiles a quarter and a sixth of the longer side (Dense, at least three network inputs),
    /// each overlapping its neighbour by a third or more so every face lies whole in some tile.
    /// </summary>
    private List<Pass> Passes(int width, int height)
    {
        var whole = new Rect(0, 0, width, height);
        var longer = Math.Max(width, height);
        var shorter = Math.Min(width, height);
        var passes = new List<Pass>();
        var strip = _tiling != FaceTiling.None && longer >= shorter * 1.5;
        // Squares already show every face the whole picture would, larger; Dense keeps the whole picture for faces
        // too large for its tiles.
        if (!strip || _tiling == FaceTiling.Dense)
        {
            passes.Add(new Pass(whole, new Size(_input, _input), _threshold));
        }
        var stripThreshold = _tiling == FaceTiling.Squares ? _threshold : _tileThreshold;
        if (strip && !_full)
        {
            // The short-range network is convolutional up to its output reshape, so one input as tall as a square
            // and as wide as the scaled picture equals the overlapping squares (at about 1.7 instead of 3 squares'
            // cost for 16:9) and never cuts a face at a square's edge. Sides are the nearest multiples of its largest
            // stride; where that is shorter the picture is scaled a few percent smaller (16:9 at 360: 224, not 240).
            // A sliver of a picture (a 4097x17 strip) would become a network input tens of thousands of pixels long;
            // past 16 squares the strip is scaled smaller, as faces in it could not be found at full scale anyway.
            var scale = Math.Min((double)_input / shorter, _input * MaxStripSquares / (double)longer);
            passes.Add(new Pass(whole, new Size(Stride16(width * scale), Stride16(height * scale)), stripThreshold));
        }
        var sides = new List<int>();
        if (strip && _full)
        {
            // The full-range network's upsampling joins feature maps of fixed sizes: it takes square inputs only.
            sides.Add(shorter);
        }
        if (_tiling == FaceTiling.Dense)
        {
            sides.AddRange(new[] { longer / 4, longer / 6 }.Select(s => Math.Max(_input * 3, s)).Where(s => s * 1.5 < longer));
        }
        foreach (var side in sides.Distinct())
        {
            var threshold = _tiling == FaceTiling.Squares ? _threshold : _tileThreshold;
            foreach (var top in Starts(height, side))
            {
                foreach (var left in Starts(width, side))
                {
                    var tile = new Rect(left, top, Math.Min(side, width - left), Math.Min(side, height - top));
                    passes.Add(new Pass(tile, new Size(_input, _input), threshold));
                }
            }
        }
        return passes;
    }

    private static int Stride16(double length) => Math.Max(16, (int)Math.Round(length / 16) * 16);

    /// <summary>Tile starts along one axis: evenly spread, first at 0, last flush with the end, overlapping by a third or more.</summary>
    private static IEnumerable<int> Starts(int length, int side) =>
        side >= length ? [0] : Spread(length, side, (int)Math.Ceiling((double)(length - side) / (side * 2 / 3)) + 1);

    /// <summary>Starts of <paramref name="count"/> tiles evenly spread over a length, the first at 0, the last flush with the end.</summary>
    private static IEnumerable<int> Spread(int length, int side, int count) =>
        count <= 1 ? [0] : Enumerable.Range(0, count).Select(i => (int)Math.Round((double)i * (length - side) / (count - 1)));

    private unsafe void DetectIn(Mat image, Pass pass, List<Detection> found)
    {
        if (!_inputs.TryGetValue(pass.Input, out var input))
        {
            input = new InputBuffers(pass.Input, _full);
            _inputs[pass.Input] = input;
        }
        var region = pass.Region;
        var (scale, padX, padY) = Letterbox(image, region, input.Picture);
        input.Fill();
        _net.SetInput(input.Blob);
        _net.Forward(_outputMats, _outputs);

        var anchors = input.Anchors;
        if (_outputMats[1].Total() != anchors.Length)
        {
            throw new InvalidOperationException($"face model gave {_outputMats[1].Total()} scores for {anchors.Length} anchors at {pass.Input}");
        }
        var perAnchor = (int)(_outputMats[0].Total() / anchors.Length);
        var boxes = (float*)_outputMats[0].Data;
        var scores = (float*)_outputMats[1].Data;
        // Compare raw scores with the threshold's logit: the sigmoid is needed only for the few that pass.
        var logit = MathF.Log(pass.Threshold / (1 - pass.Threshold));
        for (var i = 0; i < anchors.Length; i++)
        {
            if (scores[i] < logit)
            {
                continue;
            }
            var score = 1 / (1 + MathF.Exp(-Math.Clamp(scores[i], -100f, 100f)));
            if (score < pass.Threshold)
            {
                continue;
            }
            var raw = boxes + ((long)i * perAnchor);
            var a = anchors[i];
            // Offsets are in input pixels relative to the anchor centre.
            float X(float value) => ((value + a.X - padX) / scale) + region.X;
            float Y(float value) => ((value + a.Y - padY) / scale) + region.Y;
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
    /// Scales a region to fit the input and centres it on black in the reused input picture, as MediaPipe's FIT
    /// mode does. Bilinear: area averaging at these fractional ratios costs more than the network itself.
    /// </summary>
    private static (float Scale, int PadX, int PadY) Letterbox(Mat image, Rect region, Mat picture)
    {
        var scale = Math.Min((float)picture.Width / region.Width, (float)picture.Height / region.Height);
        var w = Math.Clamp((int)Math.Round(region.Width * scale), 1, picture.Width);
        var h = Math.Clamp((int)Math.Round(region.Height * scale), 1, picture.Height);
        var padX = (picture.Width - w) / 2;
        var padY = (picture.Height - h) / 2;
        picture.SetTo(Scalar.All(0));
        using (var roi = new Mat(image, region))
        using (var target = new Mat(picture, new Rect(padX, padY, w, h)))
        {
            Cv2.Resize(roi, target, new Size(w, h), interpolation: InterpolationFlags.Linear);
        }
        return (scale, padX, padY);
    }

    public void Dispose()
    {
        _net.Dispose();
        foreach (var input in _inputs.Values)
        {
            input.Dispose();
        }
        foreach (var mat in _outputMats)
        {
            mat.Dispose();
        }
    }

    /// <summary>One network pass: a region of the picture, the input size it is scaled into, the minimum score.</summary>
    private readonly record struct Pass(Rect Region, Size Input, float Threshold);

    /// <summary>The reused input picture and blob of one input size, and its anchors.</summary>
    private sealed class InputBuffers : IDisposable
    {
        private readonly Size _size;

        public InputBuffers(Size size, bool full)
        {
            _size = size;
            Picture = new Mat(size, MatType.CV_8UC3);
            Blob = new Mat([1, 3, size.Height, size.Width], MatType.CV_32FC1);
            Anchors = full ? Anchor.Generate(size, [4], interpolated: false) : Anchor.Generate(size, [8, 16, 16, 16], interpolated: true);
        }

        public Mat Picture { get; }

        public Mat Blob { get; }

        public Anchor[] Anchors { get; }

        /// <summary>Writes the picture into the blob: RGB planes scaled to [-1, 1].</summary>
        public unsafe void Fill()
        {
            var (width, height) = (_size.Width, _size.Height);
            var plane = width * height;
            var pixels = (byte*)Picture.Data;
            var step = Picture.Step();
            var blob = (float*)Blob.Data;
            for (var y = 0; y < height; y++)
            {
                var row = pixels + (y * step);
                for (var x = 0; x < width; x++)
                {
                    var i = (y * width) + x;
                    blob[i] = (row[(3 * x) + 2] / 127.5f) - 1;
                    blob[plane + i] = (row[(3 * x) + 1] / 127.5f) - 1;
                    blob[(2 * plane) + i] = (row[3 * x] / 127.5f) - 1;
                }
            }
        }

        public void Dispose()
        {
            Picture.Dispose();
            Blob.Dispose();
        }
    }

    /// <summary>An SSD anchor centre in input pixels (MediaPipe's SsdAnchorsCalculator with fixed anchor size).</summary>
    private readonly record struct Anchor(float X, float Y)
    {
        public static Anchor[] Generate(Size input, int[] strides, bool interpolated)
        {
            var anchors = new List<Anchor>();
            var layer = 0;
            while (layer < strides.Length)
            {
                // Consecutive layers with the same stride share one grid: two anchors per layer per cell
                // (aspect ratio 1, plus the interpolated scale when enabled). Outputs list cells row by row.
                var perCell = 0;
                var last = layer;
                while (last < strides.Length && strides[last] == strides[layer])
                {
                    perCell += interpolated ? 2 : 1;
                    last++;
                }
                var columns = (int)Math.Ceiling((double)input.Width / strides[layer]);
                var rows = (int)Math.Ceiling((double)input.Height / strides[layer]);
                for (var y = 0; y < rows; y++)
                {
                    for (var x = 0; x < columns; x++)
                    {
                        for (var n = 0; n < perCell; n++)
                        {
                            anchors.Add(new Anchor((x + 0.5f) * input.Width / columns, (y + 0.5f) * input.Height / rows));
                        }
                    }
                }
                layer = last;
            }
            return [.. anchors];
        }
    }
}
