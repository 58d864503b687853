using System.Diagnostics;
using OpenCvSharp;

using Reel.Operators.Onnx;

namespace Reel.Operators.Objects;

/// <summary>
/// The <c>objects</c> model: a YOLO detector run by ONNX Runtime on the whole frame. The frame is letterboxed into
/// the model's input, and boxes are mapped back to frame pixels and filtered by class-wise non-maximum suppression.
/// </summary>
public sealed class YoloDetector : IFrameAnalyzer
{
    /// <summary>The input side used when the model leaves it dynamic.</summary>
    public const int DefaultInputSize = 640;

    private readonly YoloOptions _options;
    private readonly OnnxModel _model;
    private readonly IReadOnlyList<string> _labels;
    private readonly string _labelsSource;
    private readonly Mat _resized = new();

    /// <exception cref="FileNotFoundException">The model or labels file is missing.</exception>
    /// <exception cref="InvalidDataException">The model cannot be read, or its input or output is not a YOLO detector's.</exception>
    public YoloDetector(YoloOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _labels = options.LabelsPath is null ? CocoLabels.All : LabelFile.Read(options.LabelsPath);
        _labelsSource = options.LabelsPath ?? "the built-in COCO list";
        _model = OnnxModel.Load(options.ModelPath);
        try
        {
            var input = _model.InputShape;
            if (input.Count != 4 || input[0] is not (1 or -1) || input[1] is not (3 or -1))
            {
                throw new InvalidDataException(
                    $"{_model.Path}: expected an image input [1, 3, height, width], found {OnnxModel.FormatShape(input)}");
            }
            InputHeight = input[2] > 0 ? input[2] : DefaultInputSize;
            InputWidth = input[3] > 0 ? input[3] : DefaultInputSize;
            _model.Bind([1, 3, InputHeight, InputWidth]);
            // Fail at start-up rather than on the first frame when the model states its output shape.
            var output = _model.OutputShape;
            if (output.Count > 0 && output.All(d => d > 0))
            {
                YoloLayout.Detect([.. output.Select(d => (long)d)], _labels.Count, _model.Path, _labelsSource);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Model => "objects";

    internal int InputWidth { get; }

    internal int InputHeight { get; }

    internal IReadOnlyList<string> Labels => _labels;

    public FrameResult Analyze(AnalysisFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var started = Stopwatch.GetTimestamp();
        var letterbox = Letterbox.Fill(frame.Bgr, InputWidth, InputHeight, _model.Input, _resized);
        List<YoloCandidate> candidates;
        using (var outputs = _model.Run())
        {
            var output = outputs[0];
            var layout = YoloLayout.Detect(output.GetTensorTypeAndShape().Shape, _labels.Count, _model.Path, _labelsSource);
            candidates = layout.Decode(output.GetTensorDataAsSpan<float>(), _options.Confidence, letterbox, frame.Width, frame.Height);
        }
        var kept = YoloLayout.SuppressClassWise(candidates, _options.Iou, _options.MaxDetections);
        var detections = kept.Select(c => new Detection(_labels[c.ClassId], c.Score, c.Box)).ToArray();
        return new FrameResult
        {
            Frame = frame.Index,
            Time = frame.Time,
            Model = Model,
            Detections = detections,
            InferenceMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds,
        };
    }

    public void Dispose()
    {
        _resized.Dispose();
        _model.Dispose();
    }
}
