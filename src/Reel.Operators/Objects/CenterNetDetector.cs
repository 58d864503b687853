using System.Diagnostics;
using System.Numerics;
using OpenCvSharp;
using Reel.Operators.Faces;
using Reel.Operators.Onnx;
using Reel.Operators.Tfjs;

namespace Reel.Operators.Objects;

/// <summary>
/// The bundled <c>objects</c> model: CenterNet (MobileNetV3, COCO-80) converted from TensorFlow.js and run by ONNX
/// Runtime. The network is fully convolutional, so Reel converts it for an input of the frame's shape rather than
/// the exported 512 × 512 square: longer side <see cref="LongSide"/>, shorter side in proportion (a 1080p frame is
/// fed as 640 × 352, RGB 0..255). That is 86% of the square's pixels, about a quarter less CPU per frame, and people
/// keep their proportions (the square stretched them 1.8× in height), which finds more of them in team.jpg. The
/// network gives a class heatmap and box extents on a grid of a quarter of the input, and Reel decodes them as the
/// graph's own decoder does (3 × 3 local maxima, best 100, box = centre × 4 ∓ extents), then applies the confidence
/// threshold and class-wise non-maximum suppression and maps the boxes to frame pixels.
/// </summary>
public sealed class CenterNetDetector : IFrameAnalyzer
{
    /// <summary>The exported input's side (the square the TensorFlow.js graph takes).</summary>
    public const int InputSize = 512;

    /// <summary>The input's longer side as Reel runs the model.</summary>
    public const int LongSide = 640;

    /// <summary>Peaks the model's own decoder keeps (its TopK).</summary>
    public const int TopK = 100;

    /// <summary>The graph's outputs Reel runs: class heatmap [1, H/4, W/4, 80] (sigmoid) and box extents [1, H/4, W/4, 4].</summary>
    internal static readonly string[] Outputs = ["tower_0/keypoints", "tower_0/wh"];

    /// <summary>Input pixels per cell of the output grid.</summary>
    internal const int Stride = 4;

    private readonly CenterNetOptions _options;
    private readonly string _json;
    private readonly int? _side;
    private readonly Mat _resized = new();
    private OnnxModel _model;
    private Size _input;

    /// <exception cref="FileNotFoundException">The model is not installed.</exception>
    /// <exception cref="InvalidDataException">The model cannot be converted or read.</exception>
    public CenterNetDetector(CenterNetOptions? options = null)
        : this(options, LongSide)
    {
    }

    /// <param name="options">Settings.</param>
    /// <param name="side">The input's longer side, the shorter following the picture's shape; null: the exported
    /// 512 × 512 square, every picture stretched to it (the reference check against TensorFlow.js runs that).</param>
    internal CenterNetDetector(CenterNetOptions? options, int? side)
    {
        _options = options ?? new CenterNetOptions();
        _options.Validate();
        _json = _options.ModelPath ?? ModelFiles.Find("centernet.json", ModelFiles.HumanModels);
        _side = side;
        // Made for 16:9 up front, so a model that cannot be converted fails here; other shapes load on their first frame.
        _input = side is null ? new Size(InputSize, InputSize) : InputFor(1920, 1080, side.Value);
        _model = Load(_input);
    }

    private OnnxModel Load(Size input)
    {
        var model = OnnxModel.Load(ConvertedModels.Onnx(_json, Outputs, _side is null ? null : (input.Width, input.Height)), Outputs);
        try
        {
            model.Bind([1, 3, input.Height, input.Width]);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>The input for a picture: the longer side <paramref name="side"/>, the shorter in proportion rounded to a multiple of 32 (the network's coarsest stride).</summary>
    internal static Size InputFor(int width, int height, int side)
    {
        static int Shorter(int side, int longer, int shorter) => Math.Clamp((int)Math.Round((double)side * shorter / longer / 32) * 32, 32, side);
        return width >= height ? new Size(side, Shorter(side, width, height)) : new Size(Shorter(side, height, width), side);
    }

    public string Model => "objects";

    /// <summary>
    /// Called after each forward pass with copies of the input tensor (NCHW, RGB 0..255) and the raw outputs
    /// (<see cref="Outputs"/> order): the reference check runs the same tensors through TensorFlow.js.
    /// </summary>
    internal Action<float[], float[][]>? Inspect { get; set; }

    public FrameResult Analyze(AnalysisFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var started = Stopwatch.GetTimestamp();
        var detections = Detect(frame.Bgr);
        return new FrameResult
        {
            Frame = frame.Index,
            Time = frame.Time,
            Model = Model,
            Detections = detections,
            InferenceMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds,
        };
    }

    /// <summary>Detections in <paramref name="bgr"/>'s pixels, best first.</summary>
    internal IReadOnlyList<Detection> Detect(Mat bgr)
    {
        if (_side is { } side && InputFor(bgr.Width, bgr.Height, side) is var input && input != _input)
        {
            // A new picture shape (once per video): the model for its input.
            var model = Load(input);
            _model.Dispose();
            (_model, _input) = (model, input);
        }
        FillInput(bgr, _model.Input, _resized, _input);
        var (gridWidth, gridHeight) = (_input.Width / Stride, _input.Height / Stride);
        List<YoloCandidate> candidates;
        using (var outputs = _model.Run())
        {
            var heat = outputs[0].GetTensorDataAsSpan<float>();
            var wh = outputs[1].GetTensorDataAsSpan<float>();
            if (heat.Length != gridWidth * gridHeight * CocoLabels.All.Count || wh.Length != gridWidth * gridHeight * 4)
            {
                throw new InvalidDataException($"{_model.Path}: unexpected output sizes {heat.Length} and {wh.Length}");
            }
            Inspect?.Invoke(_model.Input.ToArray(), [heat.ToArray(), wh.ToArray()]);
            candidates = Decode(heat, wh, _options.Confidence, gridWidth, gridHeight);
        }
        var kept = YoloLayout.SuppressClassWise(candidates, _options.Iou, _options.MaxDetections);
        var sx = (float)bgr.Width / _input.Width;
        var sy = (float)bgr.Height / _input.Height;
        return kept.Select(c =>
        {
            var left = Math.Clamp(c.Box.X * sx, 0, bgr.Width);
            var top = Math.Clamp(c.Box.Y * sy, 0, bgr.Height);
            var right = Math.Clamp(c.Box.Right * sx, 0, bgr.Width);
            var bottom = Math.Clamp(c.Box.Bottom * sy, 0, bgr.Height);
            return new Detection(CocoLabels.All[c.ClassId], c.Score, new Box(left, top, right - left, bottom - top));
        }).ToArray();
    }

    /// <summary>Resizes an 8-bit BGR picture to <paramref name="size"/> into an NCHW RGB tensor of 0..255 values.</summary>
    internal static unsafe void FillInput(Mat bgr, Span<float> tensor, Mat resized, Size size)
    {
        if (bgr.Type() != MatType.CV_8UC3)
        {
            throw new ArgumentException($"expected an 8-bit BGR picture, got {bgr.Type()}", nameof(bgr));
        }
        var source = bgr;
        if (bgr.Width != size.Width || bgr.Height != size.Height)
        {
            // Area averaging where the picture shrinks (a photo to 640 pixels); a video frame analyzed at 640 × 360 only
            // loses its 8 lines to 352, where bilinear is as good and took a third of the time (0.8 against 2.2-3 ms).
            var slight = size.Width <= bgr.Width && size.Height <= bgr.Height && size.Width >= bgr.Width * 0.9 && size.Height >= bgr.Height * 0.9;
            Cv2.Resize(bgr, resized, size, interpolation: slight ? InterpolationFlags.Linear : InterpolationFlags.Area);
            source = resized;
        }
        var plane = size.Width * size.Height;
        if (tensor.Length != 3 * plane)
        {
            throw new ArgumentException($"expected a tensor of {3 * plane} values, got {tensor.Length}", nameof(tensor));
        }
        // OpenCV's vectorised split and conversion, straight into the tensor's planes (R, G, B): a per-pixel loop in C#
        // cost about as much as the heatmap's decoding.
        var channels = Cv2.Split(source);
        try
        {
            fixed (float* data = tensor)
            {
                for (var c = 0; c < 3; c++)
                {
                    using var target = Mat.FromPixelData(size.Height, size.Width, MatType.CV_32FC1, (IntPtr)(data + ((2 - c) * plane)));
                    channels[c].ConvertTo(target, MatType.CV_32FC1);
                }
            }
        }
        finally
        {
            foreach (var channel in channels)
            {
                channel.Dispose();
            }
        }
    }

    /// <summary>
    /// The graph's own decoder (the nodes after <c>tower_0/keypoints</c>): a heatmap cell counts when it equals the
    /// maximum of its 3 × 3 neighbourhood in its class; the best <see cref="TopK"/> such cells become boxes
    /// (cx × 4 − w0, cy × 4 − w1, cx × 4 + w2, cy × 4 + w3) in input pixels. Cells under <paramref name="confidence"/>
    /// are dropped; the result is best first.
    /// </summary>
    internal static List<YoloCandidate> Decode(ReadOnlySpan<float> heatmap, ReadOnlySpan<float> extents, float confidence, int gridWidth, int gridHeight)
    {
        var classes = CocoLabels.All.Count;
        var peaks = new List<(float Score, int Index)>();
        var width = Vector<float>.Count;
        var threshold = new Vector<float>(confidence);
        var skip = confidence > 0;
        for (var i = 0; i < heatmap.Length; i++)
        {
            // Nearly every cell is under the threshold: skip a vector's worth at a time.
            if (skip && i % width == 0 && i + width <= heatmap.Length && Vector.LessThanAll(new Vector<float>(heatmap.Slice(i, width)), threshold))
            {
                i += width - 1;
                continue;
            }
            var score = heatmap[i];
            if (score < confidence || score <= 0)
            {
                continue;
            }
            var c = i % classes;
            var cell = i / classes;
            var x = cell % gridWidth;
            var y = cell / gridWidth;
            var peak = true;
            for (var dy = -1; dy <= 1 && peak; dy++)
            {
                var ny = y + dy;
                if (ny < 0 || ny >= gridHeight)
                {
                    continue;
                }
                for (var dx = -1; dx <= 1; dx++)
                {
                    var nx = x + dx;
                    if (nx >= 0 && nx < gridWidth && heatmap[(((ny * gridWidth) + nx) * classes) + c] > score)
                    {
                        peak = false;
                        break;
                    }
                }
            }
            if (peak)
            {
                peaks.Add((score, i));
            }
        }
        // Best first; equal scores keep the lower index, as TopK does.
        peaks.Sort((a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Index.CompareTo(b.Index));
        var result = new List<YoloCandidate>(Math.Min(peaks.Count, TopK));
        foreach (var (score, index) in peaks.Take(TopK))
        {
            var cell = index / classes;
            var cx = (float)(cell % gridWidth * Stride);
            var cy = (float)(cell / gridWidth * Stride);
            var e = extents.Slice(cell * 4, 4);
            var x1 = cx - e[0];
            var y1 = cy - e[1];
            result.Add(new YoloCandidate(index % classes, score, new Box(x1, y1, cx + e[2] - x1, cy + e[3] - y1)));
        }
        return result;
    }

    public void Dispose()
    {
        _resized.Dispose();
        _model.Dispose();
    }
}
