using Reel.Media;
using Reel.Media.Decoding;
using Reel.Media.Extraction;
using Reel.Media.Imaging;
using Reel.Media.Sampling;
using Reel.Operators.Analysis;
using Reel.Operators.Faces;
using Reel.Operators.Filters;
using Reel.Operators.Rendering;

namespace Reel.Pipelines.Specs;

/// <summary>
/// One of Reel's own steps in a pipeline's <c>transform.steps</c>, run on every video (or image) of a datum with
/// the options of the matching command: <c>extract</c> (<c>reel extract</c>), <c>analyze</c> (<c>reel analyze</c>)
/// and <c>render</c> (<c>reel render</c>). Options are checked when the spec is read, not when a datum runs.
/// </summary>
public abstract record BuiltInStep(string Name)
{
    /// <summary>
    /// Runs the step on <paramref name="inputs"/>; a video that fails makes the datum fail with its reason. Returns the
    /// frames it processed (written, analysed or rendered), for the node's frames-per-second meter. A step that writes
    /// many files may tell <paramref name="outputDone"/> each one it has finished with, which the caller may then take
    /// away (store) while the step goes on.
    /// </summary>
    public abstract Task<long> RunAsync(
        IReadOnlyList<string> inputs, string outputDirectory, int workers, Action<string>? outputDone, CancellationToken cancellationToken);

    internal static BuiltInStep Parse(SpecNode node)
    {
        var (name, options) = node.Single();
        BuiltInStep step = name.ToLowerInvariant() switch
        {
            "extract" => ExtractStep.Read(options),
            "analyze" => AnalyzeStep.Read(options),
            "render" => RenderStep.Read(options),
            _ => throw node.Error(name, "is not a step; the steps are extract, analyze and render"),
        };
        var unread = options.Unread().ToList();
        return unread.Count == 0 ? step : throw new SpecException($"unknown step option {unread[0]}");
    }

    /// <summary>fps, every, keyframes, start, end, as the commands' sampling options.</summary>
    internal static FrameSampling ReadSampling(SpecNode options)
    {
        var fpsText = options.String("fps");
        var every = options.Int("every", 1);
        var keyframes = options.Bool("keyframes");
        if ((fpsText is not null ? 1 : 0) + (every is not null ? 1 : 0) + (keyframes ? 1 : 0) > 1)
        {
            throw options.Error("fps", "every and keyframes exclude each other; choose one");
        }
        var sampling = new FrameSampling { Start = options.Number("start"), End = options.Number("end") };
        if (fpsText is not null)
        {
            return Rational.TryParse(fpsText, out var fps) && fps.Numerator > 0
                ? sampling with { Mode = SamplingMode.Fps, Fps = fps }
                : throw options.Error("fps", $"must be a positive rate such as 1, 0.5 or 30000/1001, not '{fpsText}'");
        }
        return every is { } n ? sampling with { Mode = SamplingMode.Every, Step = n }
            : keyframes ? sampling with { Mode = SamplingMode.Keyframes }
            : sampling;
    }

    internal static FaceModel ReadFaceModel(SpecNode options)
    {
        try
        {
            return FaceDetectors.Parse(options.String("face_model") ?? "short", "face_model");
        }
        catch (ArgumentException e)
        {
            throw options.Invalid(e.Message);
        }
    }

    /// <summary>The frames the run processed; throws for the first video that failed.</summary>
    internal static async Task<long> ThrowOnFailureAsync(string step, Task<IReadOnlyList<VideoResult>> run)
    {
        var results = await run;
        var failed = results.FirstOrDefault(r => r.Outcome == VideoOutcome.Failed);
        if (failed is not null)
        {
            throw new StepFailedException($"{step} {Path.GetFileName(failed.Input)}: {failed.Error}");
        }
        return results.Sum(r => (long)r.FramesWritten);
    }

    /// <summary>
    /// The pieces <paramref name="input"/> splits into with <paramref name="slots"/> free slots (<see cref="Datums.DatumSplit"/>):
    /// none when it is better run whole, or is no video a step can read (running it whole then says why).
    /// </summary>
    internal static IReadOnlyList<FramePiece> PlanPieces(string input, FrameSampling sampling, int slots, CancellationToken cancellationToken) =>
        PlanPieces(input, slots, (source, tasks) => SegmentPlanner.Spread(source, sampling.Select(source), tasks), cancellationToken);

    /// <summary>As above, the video cut into at most a number of tasks by <paramref name="spread"/>.</summary>
    internal static IReadOnlyList<FramePiece> PlanPieces(
        string input, int slots, Func<VideoSource, int, IReadOnlyList<FramePiece>> spread, CancellationToken cancellationToken)
    {
        VideoSource source;
        try
        {
            source = VideoProbe.Probe(input, cancellationToken);
        }
        catch (MediaException)
        {
            return [];
        }
        var tasks = Datums.DatumSplit.Tasks(source.RelativeSeconds(source.EndPts), slots);
        var pieces = tasks > 1 ? spread(source, tasks) : [];
        return pieces.Count > 1 ? pieces : [];
    }

    internal static T Checked<T>(SpecNode options, Func<T> create, Action<T> validate)
    {
        var value = create();
        try
        {
            validate(value);
        }
        catch (ArgumentException e)
        {
            throw options.Invalid(e.Message);
        }
        return value;
    }
}

/// <summary>
/// A step that can run one long video as keyframe-aligned pieces on several machines and a merge (<see cref="Datums.DatumSplit"/>),
/// giving the very bytes a run in one task gives.
/// </summary>
public interface ISplittableStep
{
    /// <summary>The pieces <paramref name="input"/> splits into with <paramref name="slots"/> free slots; none to run it whole.</summary>
    IReadOnlyList<FramePiece> Plan(string input, int slots, CancellationToken cancellationToken);

    /// <summary>
    /// Runs one piece: what goes into the datum's output as it is to <paramref name="outputDirectory"/>, what only the merge
    /// reads to <paramref name="partialDirectory"/>. <paramref name="outputDone"/> as in <see cref="BuiltInStep.RunAsync"/>.
    /// </summary>
    /// <returns>The frames the piece processed.</returns>
    Task<long> RunPieceAsync(
        string input, FramePiece piece, string outputDirectory, string partialDirectory, int workers, Action<string>? outputDone, CancellationToken cancellationToken);

    /// <summary>Writes the rest of the output once all pieces are done, from their partial directories in frame order.</summary>
    void Merge(string input, string outputDirectory, IReadOnlyList<string> pieceDirectories, CancellationToken cancellationToken);
}

/// <summary>A step that ran and failed on the datum's input; the datum fails with this message.</summary>
public sealed class StepFailedException(string message) : Exception(message);

/// <summary><c>extract</c>: frames as images, as <c>reel extract</c> writes them (one folder per video).</summary>
public sealed record ExtractStep(FrameSampling Sampling, ImageFormat Format, int Quality, int? Width, int? Height) : BuiltInStep("extract"), ISplittableStep
{
    internal static ExtractStep Read(SpecNode options)
    {
        var formatText = options.String("format") ?? "jpg";
        var step = new ExtractStep(
            ReadSampling(options),
            ImageFormats.TryParse(formatText, out var format) ? format : throw options.Error("format", $"must be jpg, png or webp, not '{formatText}'"),
            options.Int("quality", 1) ?? ExtractOptions.DefaultQuality,
            options.Int("width", 1),
            options.Int("height", 1));
        Checked(options, () => step.Options("out", 1), o => o.Validate());
        return step;
    }

    /// <summary>Tells <paramref name="outputDone"/> of each frame as it is written, so a pipeline stores frames while it extracts the rest.</summary>
    public override Task<long> RunAsync(
        IReadOnlyList<string> inputs, string outputDirectory, int workers, Action<string>? outputDone, CancellationToken cancellationToken) =>
        ThrowOnFailureAsync(Name, new FrameExtractor(Options(outputDirectory, workers) with { FrameDone = outputDone }).RunAsync(inputs, cancellationToken));

    public IReadOnlyList<FramePiece> Plan(string input, int slots, CancellationToken cancellationToken) =>
        PlanPieces(input, Sampling, slots, cancellationToken);

    /// <summary>Writes the frames of one piece of <paramref name="input"/> straight to the output; it needs no partial results.</summary>
    public Task<long> RunPieceAsync(
        string input, FramePiece piece, string outputDirectory, string partialDirectory, int workers, Action<string>? outputDone,
        CancellationToken cancellationToken) =>
        ThrowOnFailureAsync(
            Name, new FrameExtractor(Options(outputDirectory, workers) with { Piece = piece, FrameDone = outputDone }).RunAsync([input], cancellationToken));

    /// <summary>What a run in one piece writes beside the frames (the manifest and settings), byte for byte.</summary>
    public void Merge(string input, string outputDirectory, IReadOnlyList<string> pieceDirectories, CancellationToken cancellationToken)
    {
        try
        {
            FrameExtractor.WriteManifest(Options(outputDirectory, 1), input, cancellationToken);
        }
        catch (Exception e) when (e is MediaException or IOException)
        {
            throw new StepFailedException($"{Name} {Path.GetFileName(input)}: {e.Message}");
        }
    }

    private ExtractOptions Options(string outputDirectory, int workers) => new()
    {
        // Outputs are stored by content: the record must not name this machine's scratch path or the file's mtime.
        PortableRecord = true,
        OutputDirectory = outputDirectory,
        Sampling = Sampling,
        Format = Format,
        Quality = Quality,
        Width = Width,
        Height = Height,
        Workers = workers,
        Overwrite = true,
    };
}

/// <summary><c>analyze</c>: the models' results per video, as <c>reel analyze</c> writes them.</summary>
public sealed record AnalyzeStep(
    IReadOnlyList<string> Models, FrameSampling Sampling, FaceModel FaceModel, string? ObjectModel, string? ObjectLabels, string? EmotionModel)
    : BuiltInStep("analyze"), ISplittableStep
{
    internal static AnalyzeStep Read(SpecNode options)
    {
        var models = options.Strings("models").SelectMany(m => m.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToList();
        var faceModel = ReadFaceModel(options);
        var step = new AnalyzeStep(
            models.Count == 0 ? ["faces"] : models, ReadSampling(options), faceModel,
            options.String("object_model"), options.String("object_labels"), options.String("emotion_model"))
        {
            ColorCount = options.Int("colors", 1) ?? DefaultColors,
            Timings = options.Bool("timings"),
        };
        Checked(options, () => step.Options("out", 1), o => o.Validate());
        return step;
    }

    private static readonly int DefaultColors = new AnalyzeOptions { OutputDirectory = "-" }.ColorCount;

    /// <summary>Dominant colors the <c>colors</c> model reports (<c>colors</c>; the command's default when not given).</summary>
    public int ColorCount { get; init; } = DefaultColors;

    /// <summary>
    /// Keeps each model's inference time in <c>results.jsonl</c> (<c>timings: true</c>). Off by default: timings differ
    /// between runs, so outputs with them are not byte-identical and a rerun is never recognised as the same.
    /// </summary>
    public bool Timings { get; init; }

    public override Task<long> RunAsync(
        IReadOnlyList<string> inputs, string outputDirectory, int workers, Action<string>? outputDone, CancellationToken cancellationToken) =>
        RunAsync(inputs, outputDirectory, workers, (IFrameObserver?)null, cancellationToken);

    /// <summary>As <see cref="BuiltInStep.RunAsync"/>, with <paramref name="observer"/> seeing each frame as it is analyzed.</summary>
    public Task<long> RunAsync(
        IReadOnlyList<string> inputs, string outputDirectory, int workers, IFrameObserver? observer, CancellationToken cancellationToken) =>
        ThrowOnFailureAsync(Name, new VideoAnalyzer(Options(outputDirectory, workers), observer).RunAsync(inputs, cancellationToken));

    public IReadOnlyList<FramePiece> Plan(string input, int slots, CancellationToken cancellationToken) =>
        PlanPieces(input, Sampling, slots, cancellationToken);

    /// <summary>Analyzes one piece's frames; its rows and the sequence models' frame descriptions go to the merge, not the output.</summary>
    public Task<long> RunPieceAsync(
        string input, FramePiece piece, string outputDirectory, string partialDirectory, int workers, Action<string>? outputDone,
        CancellationToken cancellationToken) =>
        RunPieceAsync(input, piece, partialDirectory, workers, null, cancellationToken);

    /// <summary>As <see cref="RunPieceAsync(string, FramePiece, string, string, int, Action{string}?, CancellationToken)"/>, with <paramref name="observer"/> seeing each frame as it is analyzed.</summary>
    public Task<long> RunPieceAsync(
        string input, FramePiece piece, string partialDirectory, int workers, IFrameObserver? observer, CancellationToken cancellationToken) =>
        ThrowOnFailureAsync(Name, new VideoAnalyzer(Options(partialDirectory, workers) with { Piece = piece }, observer).RunAsync([input], cancellationToken));

    /// <summary>Puts the pieces' results together in frame order, comparing across their boundaries: what a run in one piece writes.</summary>
    public void Merge(string input, string outputDirectory, IReadOnlyList<string> pieceDirectories, CancellationToken cancellationToken)
    {
        try
        {
            VideoAnalyzer.MergePieces(Options(outputDirectory, 1), input, pieceDirectories, cancellationToken);
        }
        catch (Exception e) when (e is MediaException or IOException or InvalidDataException or System.Text.Json.JsonException)
        {
            throw new StepFailedException($"{Name} {Path.GetFileName(input)}: {e.Message}");
        }
    }

    private AnalyzeOptions Options(string outputDirectory, int workers) => new()
    {
        // Outputs are stored by content: no scratch path, and no timings unless asked for.
        PortableResults = !Timings,
        ColorCount = ColorCount,
        OutputDirectory = outputDirectory,
        Models = Models,
        Sampling = Sampling,
        FaceModel = FaceModel,
        ObjectModel = ObjectModel,
        ObjectLabels = ObjectLabels,
        EmotionModel = EmotionModel,
        Workers = workers,
        Overwrite = true,
    };
}

/// <summary><c>render</c>: each video with the filters applied, as <c>reel render</c> writes it, named after the source.</summary>
public sealed record RenderStep(IReadOnlyList<string> Filters, FaceModel FaceModel, string Container) : BuiltInStep("render"), ISplittableStep
{
    internal static RenderStep Read(SpecNode options)
    {
        var filters = options.Strings("filters");
        if (filters.Count == 0)
        {
            throw options.Error("filters", $"needs at least one filter: {string.Join(", ", FilterSpec.Known)}");
        }
        foreach (var filter in filters)
        {
            try
            {
                (FilterSpec.Parse(filter) as IDisposable)?.Dispose();
            }
            catch (ArgumentException e)
            {
                throw options.Error("filters", e.Message);
            }
        }
        var faceModel = ReadFaceModel(options);
        var container = (options.String("container") ?? "mp4").TrimStart('.');
        Checked(options, () => new RenderOptions { Output = "out." + container }, o => o.Validate());
        return new RenderStep(filters, faceModel, container);
    }

    public override async Task<long> RunAsync(
        IReadOnlyList<string> inputs, string outputDirectory, int workers, Action<string>? outputDone, CancellationToken cancellationToken)
    {
        long frames = 0;
        foreach (var input in inputs.Where(i => !MediaInputs.IsImage(i)))
        {
            frames += await WithRendererAsync(input, outputDirectory, workers, renderer => renderer.RenderAsync(input, cancellationToken));
        }
        return frames;
    }

    /// <summary>Pieces of whole render units (<see cref="VideoRenderer.PlanPieces"/>), so the joined pieces are the one-task bytes.</summary>
    public IReadOnlyList<FramePiece> Plan(string input, int slots, CancellationToken cancellationToken) =>
        PlanPieces(input, slots, VideoRenderer.PlanPieces, cancellationToken);

    /// <summary>Encodes one piece's units; the merge joins them, so they go to the partial directory.</summary>
    public Task<long> RunPieceAsync(
        string input, FramePiece piece, string outputDirectory, string partialDirectory, int workers, Action<string>? outputDone,
        CancellationToken cancellationToken) =>
        WithRendererAsync(input, outputDirectory, workers, renderer => renderer.RenderPieceAsync(input, piece, partialDirectory, cancellationToken));

    /// <summary>Joins the pieces' units without re-encoding and copies in the source's audio: the one-task output.</summary>
    public void Merge(string input, string outputDirectory, IReadOnlyList<string> pieceDirectories, CancellationToken cancellationToken) =>
        WithRendererAsync(input, outputDirectory, 1, renderer => Task.FromResult(renderer.JoinPieces(input, pieceDirectories, cancellationToken)))
            .GetAwaiter().GetResult();

    /// <summary>Runs <paramref name="render"/> with a renderer of this step's filters writing <paramref name="input"/>'s output; its frames.</summary>
    private async Task<long> WithRendererAsync(string input, string outputDirectory, int workers, Func<VideoRenderer, Task<VideoResult>> render)
    {
        var parsed = Filters.Select(FilterSpec.Parse).ToList();
        try
        {
            var options = new RenderOptions
            {
                Output = Path.Combine(outputDirectory, Path.GetFileNameWithoutExtension(input) + "." + Container),
                Filters = parsed,
                FaceModel = FaceModel,
                Workers = workers,
                Overwrite = true,
            };
            var result = await render(new VideoRenderer(options));
            return result.Outcome == VideoOutcome.Failed
                ? throw new StepFailedException($"{Name} {Path.GetFileName(input)}: {result.Error}")
                : result.FramesWritten;
        }
        finally
        {
            foreach (var filter in parsed.OfType<IDisposable>())
            {
                filter.Dispose();
            }
        }
    }
}
