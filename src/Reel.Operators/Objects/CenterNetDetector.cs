using System.Diagnostics;
using OpenCvSharp;
using Reel.Operators.Faces;
using Reel.Operators.Onnx;
using Reel.Operators.Tfjs;

namespace Reel.Operators.Objects;

/// <summary>
/// The bundled <c>objects</c> model: CenterNet (MobileNetV3, COCO-80) converted from TensorFlow.js and run by ONNX
/// Runtime. The frame is stretched to the 512 × 512 input as the model's own runtime (Human) feeds it, RGB 0..255;
/// the network gives a class heatmap and box extents on a 128 × 128 grid, and Reel decodes them as the graph's own
/// decoder does (3 × 3 local maxima, best 100, box = centre × 4 ∓ extents), then applies the confidence threshold and
/// class-wise non-maximum suppression and maps the boxes to frame pixels.
/// </summary>
public sealed class CenterNetDetector : IFrameAnalyzer
{
    /// <summary>The input side.</summary>
    public const int InputSize = 512;

    /// <summary>Peaks the model's own decoder keeps (its TopK).</summary>
    public const int TopK = 100;

    /// <summary>The graph's outputs Reel runs: class heatmap [1, 128, 128, 80] (sigmoid) and box extents [1, 128, 128, 4].</summary>
    internal static readonly string[] Outputs = ["tower_0/keypoints", "tower_0/wh"];

    internal const int Grid = 128;
    internal const int Stride = InputSize / Grid;

    private readonly CenterNetOptions _options;
    private readonly OnnxModel _model;
    private readonly Mat _resized = new();

    /// <exception cref="FileNotFoundException">The model is not installed.</exception>
    /// <exception cref="InvalidDataException">The model cannot be converted or read.</exception>
    public CenterNetDetector(CenterNetOptions? options = null)
    {
        _options = options ?? new CenterNetOptions();
        _options.Validate();
        var json = _options.ModelPath ?? ModelFiles.Find("centernet.json", ModelFiles.HumanModels);
        _model = OnnxModel.Load(ConvertedModels.Onnx(json, Outputs), Outputs);
        try
        {
            _model.Bind([1, 3, InputSize, InputSize]);
        }
        catch
        {
            _model.Dispose();
            throw;
        }
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
        FillInput(bgr, _model.Input, _resized);
        List<YoloCandidate> candidates;
        using (var outputs = _model.Run())
        {
            var heat = outputs[0].GetTensorDataAsSpan<float>();
            var wh = outputs[1].GetTensorDataAsSpan<float>();
            if (heat.Length != Grid * Grid * CocoLabels.All.Count || wh.Length != Grid * Grid * 4)
            {
                throw new InvalidDataException($"{_model.Path}: unexpected output sizes {heat.Length} and {wh.Length}");
            }
            Inspect?.Invoke(_model.Input.ToArray(), [heat.ToArray(), wh.ToArray()]);
            candidates = Decode(heat, wh, _options.Confidence);
        }
        var kept = YoloLayout.SuppressClassWise(candidates, _options.Iou, _options.MaxDetections);
        var sx = (float)bgr.Width / InputSize;
        var sy = (float)bgr.Height / InputSize;
        return kept.Select(c =>
        {
            var left = Math.Clamp(c.Box.X * sx, 0, bgr.Width);
            var top = Math.Clamp(c.Box.Y * sy, 0, bgr.Height);
            var right = Math.Clamp(c.Box.Right * sx, 0, bgr.Width);
            var bottom = Math.Clamp(c.Box.Bottom * sy, 0, bgr.Height);
            return new Detection(CocoLabels.All[c.ClassId], c.Score, new Box(left, top, right - left, bottom - top));
        }).ToArray();
    }

    /// <summary>Stretches an 8-bit BGR picture to 512 × 512 into an NCHW RGB tensor of 0..255 values.</summary>
    internal static unsafe void FillInput(Mat bgr, Span<float> tensor, Mat resized)
    {
        if (bgr.Type() != MatType.CV_8UC3)
        {
            throw new ArgumentException($"expected an 8-bit BGR picture, got {bgr.Type()}", nameof(bgr));
        }
        var source = bgr;
        if (bgr.Width != InputSize || bgr.Height != InputSize)
        {
            Cv2.Resize(bgr, resized, new Size(InputSize, InputSize), interpolation: InterpolationFlags.Area);
            source = resized;
        }
        const int plane = InputSize * InputSize;
        var red = tensor[..plane];
        var green = tensor.Slice(plane, plane);
        var blue = tensor.Slice(2 * plane, plane);
        for (var y = 0; y < InputSize; y++)
        {
            var pixels = (byte*)source.Ptr(y);
            var row = y * InputSize;
            for (var x = 0; x < InputSize; x++)
            {
                blue[row + x] = pixels[3 * x];
                green[row + x] = pixels[(3 * x) + 1];
                red[row + x] = pixels[(3 * x) + 2];
            }
        }
    }

    /// <summary>
    /// The graph's own decoder (the nodes after <c>tower_0/keypoints</c>): a heatmap cell counts when it equals the
    /// maximum of its 3 × 3 neighbourhood in its class; the best <see cref="TopK"/> such cells become boxes
    /// (cx × 4 − w0, cy × 4 − w1, cx × 4 + w2, cy × 4 + w3) in input pixels. Cells under <paramref name="confidence"/>
    /// are dropped; the result is best first.
    /// </summary>
    internal static List<YoloCandidate> Decode(ReadOnlySpan<float> heatmap, ReadOnlySpan<float> extents, float confidence)
    {
        var classes = CocoLabels.All.Count;
        var peaks = new List<(float Score, int Index)>();
        for (var i = 0; i < heatmap.Length; i++)
        {
            var score = heatmap[i];
            if (score < confidence || score <= 0)
            {
                continue;
            }
            var c = i % classes;
            var cell = i / classes;
            var x = cell % Grid;
            var y = cell / Grid;
            var peak = true;
            for (var dy = -1; dy <= 1 && peak; dy++)
            {
                var ny = y + dy;
                if (ny < 0 || ny >= Grid)
                {
                    continue;
                }
                for (var dx = -1; dx <= 1; dx++)
                {
                    var nx = x + dx;
                    if (nx >= 0 && nx < Grid && heatmap[(((ny * Grid) + nx) * classes) + c] > score)
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
            var cx = (float)(cell % Grid * Stride);
            var cy = (float)(cell / Grid * Stride);
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
