using Reel.Media.Decoding;
using Reel.Media.Sampling;
using Reel.Operators.Faces;

namespace Reel.Operators.Analysis;

/// <summary>What <see cref="VideoAnalyzer"/> runs and where it writes.</summary>
public sealed record AnalyzeOptions
{
    /// <summary>The models Reel knows, in the order results list them.</summary>
    public static readonly IReadOnlyList<string> KnownModels = ["faces", "objects", "emotions", "colors", "motion", "scenes"];

    /// <summary>Results go to <c>OutputDirectory/&lt;input file name&gt;/</c>.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Models to run, from <see cref="KnownModels"/>.</summary>
    public IReadOnlyList<string> Models { get; init; } = ["faces"];

    /// <summary>Which frames to analyze; every frame by default.</summary>
    public FrameSampling Sampling { get; init; } = FrameSampling.AllFrames;

    /// <summary>BlazeFace network for faces (and the faces emotions are read from).</summary>
    public FaceModel FaceModel { get; init; } = FaceModel.ShortRange;

    /// <summary>
    /// Where faces are also looked for besides the whole frame; null chooses: squares for video (a wide frame is
    /// searched at the scale of a frame-tall square, for its small faces: one network input about 1.7 times the
    /// size of a square for 16:9), dense tiles for still images. None is about 1.5 times faster on 16:9 video but
    /// misses faces smaller than about a sixth of the frame height.
    /// </summary>
    public FaceTiling? FaceTiling { get; init; }

    /// <summary>A YOLO ONNX file for the objects model; null runs the bundled CenterNet (COCO-80, from @vladmandic/human).</summary>
    public string? ObjectModel { get; init; }

    /// <summary>Labels for a YOLO <see cref="ObjectModel"/>, one per line; null uses COCO's 80.</summary>
    public string? ObjectLabels { get; init; }

    /// <summary>An emotion classifier ONNX file (FER+ style); null runs the bundled 7-class classifier (from @vladmandic/human).</summary>
    public string? EmotionModel { get; init; }

    /// <summary>
    /// Video frames are decoded straight to this size on their longer side (never enlarged). The detectors see
    /// 128-640 pixel inputs (YOLO's 640 letterbox, BlazeFace's 128 squares), so a larger frame only costs conversion
    /// time. Results are in source pixels regardless. Still images are analyzed at full size.
    /// </summary>
    public int AnalysisSize { get; init; } = 640;

    /// <summary>How many dominant colors the colors model reports (k of its k-means).</summary>
    public int ColorCount { get; init; } = 5;

    /// <summary>Worker threads; defaults to the number of cores.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>Replace results a previous run finished.</summary>
    public bool Overwrite { get; init; }

    /// <summary>
    /// For results stored by content (pipeline outputs): leave out timings and the input's full path, so the same input
    /// always gives the same bytes, on any machine. <c>reel analyze</c> keeps both.
    /// </summary>
    public bool PortableResults { get; init; }

    /// <summary>
    /// Analyze only these frames of a video and write the piece's partial results, for
    /// <see cref="VideoAnalyzer.MergePieces"/> once every piece is done; null analyzes the whole input.
    /// </summary>
    public FramePiece? Piece { get; init; }

    /// <exception cref="ArgumentException">An option is out of range or a required model file is missing.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputDirectory))
        {
            throw new ArgumentException("an output directory is required");
        }
        if (Models.Count == 0)
        {
            throw new ArgumentException($"choose at least one model: {string.Join(", ", KnownModels)}");
        }
        foreach (var model in Models.Where(m => !KnownModels.Contains(m)))
        {
            throw new ArgumentException($"unknown model '{model}'; the models are {string.Join(", ", KnownModels)}");
        }
        if (ObjectModel is not null)
        {
            RequireFile(ObjectModel, "--object-model");
        }
        if (ObjectLabels is not null)
        {
            if (ObjectModel is null)
            {
                throw new ArgumentException("--object-labels names the classes of a YOLO --object-model; the bundled CenterNet has COCO's");
            }
            RequireFile(ObjectLabels, "--object-labels");
        }
        if (EmotionModel is not null)
        {
            RequireFile(EmotionModel, "--emotion-model");
        }
        if (Workers < 1)
        {
            throw new ArgumentException($"workers must be at least 1, not {Workers}");
        }
        if (AnalysisSize < 64)
        {
            throw new ArgumentException($"the analysis size must be at least 64 pixels, not {AnalysisSize}");
        }
    }

    /// <summary>Everything that shapes the results; finished results are reused only when this matches.</summary>
    internal string Fingerprint() =>
        $"{string.Join(",", Models)}; {Sampling}; faces {FaceModel} {FaceTiling?.ToString() ?? "auto"}; objects {ObjectModel ?? "centernet"} {ObjectLabels ?? "-"}; "
        + $"emotions {EmotionModel ?? "bundled"}; size {AnalysisSize}" + (ColorCount == 5 ? "" : $"; colors {ColorCount}");

    private static void RequireFile(string path, string option)
    {
        if (!File.Exists(path))
        {
            throw new ArgumentException($"{option} {path}: file not found");
        }
    }
}
