using System.Diagnostics;
using OpenCvSharp;
using Reel.Operators.Objects;

using Reel.Operators.Onnx;

namespace Reel.Operators.Emotions;

/// <summary>
/// The <c>emotions</c> model: finds faces with an <see cref="IFaceDetector"/>, crops each (with a margin), and
/// classifies the crop with an ONNX model. One detection per face, in the detector's order: the face box, the top
/// emotion and its probability, and every label's probability.
/// </summary>
public sealed class EmotionClassifier : IFrameAnalyzer
{
    /// <summary>The default input side when the model leaves it dynamic (FER+'s).</summary>
    public const int DefaultInputSize = 64;

    private readonly EmotionOptions _options;
    private readonly IFaceDetector _faceDetector;
    private readonly OnnxModel _model;
    private readonly IReadOnlyList<string> _labels;
    private readonly float[] _gain = new float[3];
    private readonly float[] _offset = new float[3];
    private readonly Mat _resized = new();
    private readonly Mat _gray = new();

    /// <param name="options">The model and its pre-processing.</param>
    /// <param name="faceDetector">Finds the faces to classify; the caller keeps ownership (it is not disposed here).</param>
    /// <exception cref="FileNotFoundException">The model or labels file is missing.</exception>
    /// <exception cref="InvalidDataException">The model cannot be read, or its input or output does not fit the options.</exception>
    public EmotionClassifier(EmotionOptions options, IFaceDetector faceDetector)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(faceDetector);
        options.Validate();
        _options = options;
        _faceDetector = faceDetector;
        _labels = options.Labels ?? (options.LabelsPath is null ? FerPlusLabels : LabelFile.Read(options.LabelsPath));
        if (_labels.Distinct(StringComparer.Ordinal).Count() != _labels.Count)
        {
            throw new ArgumentException("Emotion labels must be distinct.", nameof(options));
        }
        _model = OnnxModel.Load(options.ModelPath);
        try
        {
            var input = _model.InputShape;
            if (input.Count != 4 || input[0] is not (1 or -1) || input[1] is not (1 or 3 or -1))
            {
                throw new InvalidDataException(
                    $"{_model.Path}: expected an image input [1, 1 or 3, height, width], found {OnnxModel.FormatShape(input)}");
            }
            Channels = input[1] > 0 ? input[1] : options.Grayscale == false ? 3 : 1;
            Grayscale = options.Grayscale ?? Channels == 1;
            if (Channels == 1 && !Grayscale)
            {
                throw new InvalidDataException($"{_model.Path}: the model takes one channel, so Grayscale cannot be false");
            }
            if (Channels == 1 && (options.Mean.Count != 1 || options.Std.Count != 1))
            {
                throw new InvalidDataException($"{_model.Path}: the model takes one channel, so Mean and Std take one value each");
            }
            InputHeight = input[2] > 0 ? input[2] : DefaultInputSize;
            InputWidth = input[3] > 0 ? input[3] : DefaultInputSize;
            for (var c = 0; c < 3; c++)
            {
                var mean = options.Mean[Math.Min(c, options.Mean.Count - 1)];
                var std = options.Std[Math.Min(c, options.Std.Count - 1)];
                _gain[c] = options.Scale / std;
                _offset[c] = -mean / std;
            }
            _model.Bind([1, Channels, InputHeight, InputWidth]);
            var output = _model.OutputShape;
            if (output.Count > 0 && output.All(d => d > 0))
            {
                CheckOutputCount(output.Select(d => (long)d).ToArray());
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>FER+'s output order.</summary>
    public static IReadOnlyList<string> FerPlusLabels { get; } =
        ["neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt"];

    public string Model => "emotions";

    /// <summary>
    /// Called after each forward pass with copies of the input tensor and the raw output: the reference check runs the
    /// same tensors through the model's original runtime.
    /// </summary>
    internal Action<float[], float[]>? Inspect { get; set; }

    internal int Channels { get; }

    internal bool Grayscale { get; }

    internal int InputWidth { get; }

    internal int InputHeight { get; }

    public FrameResult Analyze(AnalysisFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var started = Stopwatch.GetTimestamp();
        var faces = _faceDetector.Detect(frame.Bgr);
        var detections = new List<Detection>(faces.Count);
        var probabilities = new float[_labels.Count];
        foreach (var face in faces)
        {
            var crop = CropRect(face.Box, _options.Margin, frame.Width, frame.Height);
            if (crop.Width < 1 || crop.Height < 1)
            {
                continue;
            }
            using (var pixels = new Mat(frame.Bgr, crop))
            {
                FillInput(pixels);
            }
            using (var outputs = _model.Run())
            {
                var output = outputs[0];
                CheckOutputCount(output.GetTensorTypeAndShape().Shape);
                Inspect?.Invoke(_model.Input.ToArray(), output.GetTensorDataAsSpan<float>().ToArray());
                ToProbabilities(output.GetTensorDataAsSpan<float>(), probabilities);
            }
            var best = 0;
            var scores = new Dictionary<string, float>(_labels.Count, StringComparer.Ordinal);
            for (var i = 0; i < probabilities.Length; i++)
            {
                scores[_labels[i]] = probabilities[i];
                if (probabilities[i] > probabilities[best])
                {
                    best = i;
                }
            }
            detections.Add(new Detection(_labels[best], probabilities[best], face.Box) { Keypoints = face.Keypoints, Scores = scores });
        }
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
        _gray.Dispose();
        _resized.Dispose();
        _model.Dispose();
    }

    /// <summary>The face box grown by <paramref name="margin"/> of its size on every side, in whole pixels, clipped to the frame.</summary>
    internal static Rect CropRect(Box box, float margin, int frameWidth, int frameHeight)
    {
        var left = (int)Math.Floor(Math.Clamp(box.X - (margin * box.Width), 0, frameWidth));
        var top = (int)Math.Floor(Math.Clamp(box.Y - (margin * box.Height), 0, frameHeight));
        var right = (int)Math.Ceiling(Math.Clamp(box.Right + (margin * box.Width), 0, frameWidth));
        var bottom = (int)Math.Ceiling(Math.Clamp(box.Bottom + (margin * box.Height), 0, frameHeight));
        return new Rect(left, top, Math.Max(0, right - left), Math.Max(0, bottom - top));
    }

    /// <summary>
    /// Scores as probabilities: kept when they already are (none negative, summing to 1 within 1e-3), otherwise
    /// treated as logits and passed through softmax.
    /// </summary>
    internal static void ToProbabilities(ReadOnlySpan<float> scores, Span<float> probabilities)
    {
        var sum = 0.0;
        var negative = false;
        var max = float.NegativeInfinity;
        foreach (var score in scores)
        {
            sum += score;
            negative |= score < 0;
            max = Math.Max(max, score);
        }
        if (!negative && Math.Abs(sum - 1) <= 1e-3)
        {
            scores.CopyTo(probabilities);
            return;
        }
        var total = 0.0;
        for (var i = 0; i < scores.Length; i++)
        {
            var e = Math.Exp(scores[i] - max);
            probabilities[i] = (float)e;
            total += e;
        }
        for (var i = 0; i < scores.Length; i++)
        {
            probabilities[i] = (float)(probabilities[i] / total);
        }
    }

    private void CheckOutputCount(long[] shape)
    {
        var count = shape.Aggregate(1L, (product, dim) => product * dim);
        if (shape.Length == 0 || shape[0] != 1 || count != _labels.Count)
        {
            throw new InvalidDataException(
                $"{_model.Path}: the output shape {OnnxModel.FormatShape(shape)} does not give one score for each of the {_labels.Count} labels");
        }
    }

    private unsafe void FillInput(Mat bgr)
    {
        var interpolation = bgr.Width > InputWidth || bgr.Height > InputHeight ? InterpolationFlags.Area : InterpolationFlags.Linear;
        Cv2.Resize(bgr, _resized, new Size(InputWidth, InputHeight), interpolation: interpolation);
        var plane = InputWidth * InputHeight;
        var tensor = _model.Input.AsSpan();
        if (Grayscale)
        {
            Cv2.CvtColor(_resized, _gray, ColorConversionCodes.BGR2GRAY);
            for (var y = 0; y < InputHeight; y++)
            {
                var pixels = (byte*)_gray.Ptr(y);
                for (var c = 0; c < Channels; c++)
                {
                    var row = tensor.Slice((c * plane) + (y * InputWidth), InputWidth);
                    for (var x = 0; x < InputWidth; x++)
                    {
                        row[x] = (pixels[x] * _gain[c]) + _offset[c];
                    }
                }
            }
            return;
        }
        for (var y = 0; y < InputHeight; y++)
        {
            var pixels = (byte*)_resized.Ptr(y);
            for (var c = 0; c < 3; c++)
            {
                // Planes are R, G, B; the picture is B, G, R.
                var source = 2 - c;
                var row = tensor.Slice((c * plane) + (y * InputWidth), InputWidth);
                for (var x = 0; x < InputWidth; x++)
                {
                    row[x] = (pixels[(3 * x) + source] * _gain[c]) + _offset[c];
                }
            }
        }
    }
}
