using OpenCvSharp;
using Reel.Operators.Colors;
using Reel.Operators.Emotions;
using Reel.Operators.Faces;
using Reel.Operators.Motion;
using Reel.Operators.Objects;
using Reel.Operators.Scenes;

namespace Reel.Operators.Analysis;

/// <summary>
/// The models one worker thread runs, loaded once per thread (networks are not thread-safe). Faces are found
/// once per frame and shared by the faces and emotions models.
/// </summary>
internal sealed class ModelSet : IDisposable
{
    private readonly List<IDisposable> _owned = [];

    public ModelSet(AnalyzeOptions options, bool stillImage)
    {
        var wants = options.Models.ToHashSet(StringComparer.Ordinal);
        if (wants.Contains("faces") || wants.Contains("emotions"))
        {
            var detector = FaceDetectors.Create(options.FaceModel, options.FaceTiling ?? (stillImage ? FaceTiling.Dense : FaceTiling.Squares));
            _owned.Add(detector);
            Faces = new SharedFaces(detector);
        }
        foreach (var model in AnalyzeOptions.KnownModels.Where(wants.Contains))
        {
            switch (model)
            {
                case "faces":
                    FrameAnalyzers.Add(new FacesAnalyzer(Faces!));
                    break;
                case "objects":
                    FrameAnalyzers.Add(options.ObjectModel is null
                        ? new CenterNetDetector()
                        : new YoloDetector(new YoloOptions { ModelPath = options.ObjectModel, LabelsPath = options.ObjectLabels }));
                    break;
                case "emotions":
                    var emotions = options.EmotionModel is null ? BundledEmotionModel.Options() : new EmotionOptions { ModelPath = options.EmotionModel };
                    FrameAnalyzers.Add(new EmotionClassifier(emotions, Faces!));
                    break;
                case "colors":
                    FrameAnalyzers.Add(new ColorsAnalyzer(new ColorsOptions { K = options.ColorCount }));
                    break;
                case "motion":
                    SequenceAnalyzers.Add(new MotionAnalyzer());
                    break;
                case "scenes":
                    SequenceAnalyzers.Add(new ScenesAnalyzer());
                    break;
                default:
                    throw new ArgumentException($"model '{model}' is not available in this build");
            }
        }
        foreach (var analyzer in FrameAnalyzers)
        {
            _owned.Add(analyzer);
        }
    }

    public SharedFaces? Faces { get; }

    public List<IFrameAnalyzer> FrameAnalyzers { get; } = [];

    public List<ISequenceAnalyzer> SequenceAnalyzers { get; } = [];

    public void Dispose()
    {
        foreach (var item in _owned)
        {
            item.Dispose();
        }
    }
}

/// <summary>Remembers the faces of the last picture it was asked about, so several models pay for one detection.</summary>
internal sealed class SharedFaces(IFaceDetector detector) : IFaceDetector
{
    private nint _picture;
    private IReadOnlyList<Detection> _faces = [];

    public double LastMilliseconds { get; private set; }

    public IReadOnlyList<Detection> Detect(Mat bgr)
    {
        if (bgr.Data != _picture || _picture == 0)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            _faces = detector.Detect(bgr);
            LastMilliseconds = System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            _picture = bgr.Data;
        }
        return _faces;
    }

    /// <summary>Forgets the remembered picture (its memory may be reused for the next frame).</summary>
    public void Reset() => _picture = 0;

    public void Dispose()
    {
    }
}

/// <summary>The faces model: BlazeFace boxes, scores and keypoints.</summary>
internal sealed class FacesAnalyzer(SharedFaces faces) : IFrameAnalyzer
{
    public string Model => "faces";

    public FrameResult Analyze(AnalysisFrame frame)
    {
        var detections = faces.Detect(frame.Bgr);
        return new FrameResult
        {
            Frame = frame.Index,
            Time = frame.Time,
            Model = Model,
            Detections = detections,
            InferenceMs = faces.LastMilliseconds,
        };
    }

    public void Dispose()
    {
    }
}
