using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using OpenCvSharp;
using Reel.Media;
using Reel.Media.Decoding;
using Reel.Media.Extraction;
using Reel.Media.Imaging;
using Reel.Media.Scheduling;

namespace Reel.Operators.Analysis;

/// <summary>
/// Runs models over videos and still images. A video's keyframe-aligned segments are decoded in parallel, each
/// frame once, straight to the analysis size, and every model looks at that one picture; models that compare
/// neighbouring frames get a small description per frame and compare them in order once all segments are done.
/// </summary>
public sealed class VideoAnalyzer
{
    private readonly AnalyzeOptions _options;
    private readonly IVideoProgress? _progress;
    private readonly TimeProvider _time;

    public VideoAnalyzer(AnalyzeOptions options, IVideoProgress? progress = null, TimeProvider? time = null)
    {
        options.Validate();
        _options = options;
        _progress = progress;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Analyzes every input in turn, each on all workers; one input's failure never stops the others.</summary>
    public async Task<IReadOnlyList<VideoResult>> RunAsync(IReadOnlyList<string> inputs, CancellationToken cancellationToken = default)
    {
        // Parallelism comes from frames; OpenCV's own threads would only compete with the workers.
        Cv2.SetNumThreads(1);
        var results = new List<VideoResult>();
        // Models load once per run and worker, not once per video: a folder of short clips would spend most of its
        // time loading networks.
        using var models = new RunModels(_options);
        using var scheduler = new SegmentScheduler<ModelSet>(_options.Workers, models.ForWorker);
        foreach (var input in inputs)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                results.Add(Failed(input, _time.GetTimestamp(), "interrupted before it started"));
                continue;
            }
            results.Add(await Task.Run(() => AnalyzeOne(input, models, scheduler, cancellationToken), CancellationToken.None).ConfigureAwait(false));
            _progress?.VideoFinished(results[^1]);
        }
        return results;
    }

    private VideoResult AnalyzeOne(string input, RunModels models, SegmentScheduler<ModelSet> scheduler, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var output = new ResultsFolder(_options.OutputDirectory, input);
        try
        {
            if (output.ReadFinished() is { } finished && !_options.Overwrite)
            {
                return finished.Settings == _options.Fingerprint() && finished.SourceBytes == new FileInfo(input).Length
                    ? new VideoResult(input, output.Path, VideoOutcome.AlreadyDone, finished.Frames, finished.Frames, _time.GetElapsedTime(started), null)
                    : Failed(input, started, $"{output.Path} holds results made with other settings or from another version of the file; "
                        + "pass --overwrite to replace them");
            }
            var run = MediaInputs.IsImage(input) && File.Exists(input)
                ? AnalyzeImage(input)
                : AnalyzeVideo(input, models, scheduler, cancellationToken);
            if (run.Error is not null)
            {
                return Failed(input, started, run.Error, run.Results.Select(r => r.Frame).Distinct().Count(), run.Planned);
            }
            if (run.Descriptions is { } descriptions)
            {
                output.CommitPiece(run, models.Comparer.SequenceAnalyzers, descriptions);
            }
            else
            {
                output.Commit(run, _options);
            }
            return new VideoResult(input, output.Path, VideoOutcome.Completed, run.Planned, run.Planned, _time.GetElapsedTime(started), null);
        }
        catch (OperationCanceledException)
        {
            return Failed(input, started, "interrupted before it finished");
        }
        catch (Exception e) when (e is MediaException or IOException or InvalidDataException or UnauthorizedAccessException or OpenCVException or ArgumentException)
        {
            return Failed(input, started, e.Message);
        }
    }

    private AnalysisRun AnalyzeImage(string path)
    {
        using var bgr = Cv2.ImRead(path, ImreadModes.Color);
        if (bgr.Empty())
        {
            throw new MediaException("cannot read the image");
        }
        _progress?.VideoStarted(path, 1);
        using var models = new ModelSet(_options, stillImage: true);
        var results = new List<FrameResult>();
        var frame = new AnalysisFrame(bgr.Clone(), 0, 0);
        using (frame)
        {
            results.AddRange(models.FrameAnalyzers.Select(a => a.Analyze(frame)));
            var descriptions = models.SequenceAnalyzers.Select(s => s.Describe(frame)).ToList();
            results.AddRange(models.SequenceAnalyzers.Select((s, i) => s.Compare(null, descriptions[i], 0, 0)));
        }
        _progress?.FramesDone(path, 1);
        return new AnalysisRun(path, results, 1, 1, bgr.Width, bgr.Height, null);
    }

    private AnalysisRun AnalyzeVideo(string path, RunModels models, SegmentScheduler<ModelSet> scheduler, CancellationToken cancellationToken)
    {
        // The first set of networks loads while the file is probed (CenterNet's session takes longer than the probe);
        // a model that cannot load still fails below, where the set is asked for.
        _ = Task.Run(() => models.Comparer, CancellationToken.None);
        var source = VideoProbe.Probe(path, cancellationToken);
        var selected = _options.Sampling.Select(source);
        if (_options.Piece is { } piece)
        {
            selected = selected.Where(piece.Contains).ToList();
        }
        var comparer = models.Comparer;
        var segments = SegmentPlanner.Plan(source, selected, _options.Workers * 2);
        _progress?.VideoStarted(path, selected.Count);

        var (codedWidth, codedHeight, toSource) = Geometry(source, _options.AnalysisSize);

        var frames = new FrameWork(this, source, codedWidth, codedHeight, toSource);
        string? error = null;
        try
        {
            // Workers take frames, not whole segments, so they finish together.
            scheduler.Run(segments.OrderByDescending(s => s.DecodeCost).Select(s => WorkTask<ModelSet>.Frames(s, frames)), cancellationToken);
        }
        catch (Exception e) when (e is MediaException or OpenCVException or InvalidOperationException)
        {
            error = e.Message;
        }
        var (results, descriptions, missing) = (frames.Results, frames.Descriptions, frames.Missing);

        // A piece keeps its descriptions, in frame order, for the merge to compare across the pieces' boundaries.
        List<IReadOnlyList<(int Frame, object Description)>>? kept = _options.Piece is null ? null : [];
        for (var m = 0; kept is not null && m < comparer.SequenceAnalyzers.Count; m++)
        {
            var model = m;
            kept.Add([.. selected.Where(i => descriptions.ContainsKey((model, i))).Select(i => (i, descriptions[(model, i)]))]);
        }

        // Sequence models compare each sampled frame with the previous one, in frame order.
        for (var m = 0; kept is null && m < comparer.SequenceAnalyzers.Count; m++)
        {
            object? previous = null;
            foreach (var frame in selected.Select(i => source.Frames[i]))
            {
                if (descriptions.TryRemove((m, frame.Index), out var current))
                {
                    results.Add(Scaled(
                        comparer.SequenceAnalyzers[m].Compare(previous, current, frame.Index, source.Seconds(frame.Pts)), toSource, source.UprightWidth, source.UprightHeight));
                    previous = current;
                }
            }
        }

        if (error is null && source.Damage is not null)
        {
            error = $"{source.Damage}; analyzed up to frame {selected.LastOrDefault()}";
        }
        if (error is null && !missing.IsEmpty)
        {
            var earliest = missing.MinBy(f => f.Index);
            error = $"cannot decode frame {earliest.Index} ({source.Seconds(earliest.Pts):0.###}s) and {missing.Count - 1} more";
        }
        return new AnalysisRun(path, [.. results], selected.Count, source.FrameRate.Value, source.UprightWidth, source.UprightHeight, error, kept);
    }

    /// <summary>One video's frames on the workers: decoded to the analysis size, then through every model of the worker.</summary>
    private sealed class FrameWork(VideoAnalyzer owner, VideoSource source, int codedWidth, int codedHeight, double toSource)
        : ISegmentWork<ModelSet, AnalysisFrame>
    {
        public ConcurrentBag<FrameResult> Results { get; } = [];

        public ConcurrentDictionary<(int Model, int Frame), object> Descriptions { get; } = new();

        public ConcurrentBag<SourceFrame> Missing { get; } = [];

        public AnalysisFrame Take(SegmentDecoder decoder, SourceFrame frame) => Decode(decoder, source, codedWidth, codedHeight, frame);

        public void Process(Worker<ModelSet> worker, SourceFrame frame, AnalysisFrame taken)
        {
            using var picture = taken;
            // Loaded on a worker's first frame, so a worker with nothing to do loads no networks.
            var models = worker.State;
            models.Faces?.Reset();
            var frameResults = new FrameResult[models.FrameAnalyzers.Count];
            for (var a = 0; a < frameResults.Length; a++)
            {
                frameResults[a] = Scaled(models.FrameAnalyzers[a].Analyze(picture), toSource, source.UprightWidth, source.UprightHeight);
                Results.Add(frameResults[a]);
            }
            (owner._progress as IFrameObserver)?.FrameAnalyzed(source.Path, picture, toSource, frameResults);
            for (var m = 0; m < models.SequenceAnalyzers.Count; m++)
            {
                Descriptions[(m, frame.Index)] = models.SequenceAnalyzers[m].Describe(picture);
            }
            owner._progress?.FramesDone(source.Path, 1);
        }

        public void Ended(IReadOnlyList<SourceFrame> missing, Exception? error)
        {
            // The video fails with the first error; the scheduler stops the other segments.
            if (error is not null)
            {
                ExceptionDispatchInfo.Throw(error);
            }
            foreach (var lost in missing)
            {
                Missing.Add(lost);
            }
        }
    }

    /// <summary>
    /// The merge of a video analyzed in pieces (<see cref="AnalyzeOptions.Piece"/>): the sequence models compare the pieces'
    /// descriptions in frame order, across the pieces' boundaries, and the results are written as a run in one piece
    /// writes them, byte for byte.
    /// </summary>
    /// <param name="options">The options the pieces ran with, without the piece.</param>
    /// <param name="input">The video.</param>
    /// <param name="pieceDirectories">Each piece's output directory, in frame order.</param>
    /// <param name="cancellationToken">Stops the merge.</param>
    /// <returns>The video's results folder.</returns>
    public static string MergePieces(AnalyzeOptions options, string input, IReadOnlyList<string> pieceDirectories, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var source = VideoProbe.Probe(input, cancellationToken);
        var selected = options.Sampling.Select(source);
        var (_, _, toSource) = Geometry(source, options.AnalysisSize);
        var pieces = pieceDirectories.Select(d => new ResultsFolder(d, input)).ToList();
        var results = pieces.SelectMany(p => p.ReadPieceRows()).ToList();
        using var models = new ModelSet(options, stillImage: false);
        foreach (var sequence in models.SequenceAnalyzers)
        {
            object? previous = null;
            foreach (var (frame, current) in pieces.SelectMany(p => p.ReadPieceDescriptions(sequence)))
            {
                cancellationToken.ThrowIfCancellationRequested();
                results.Add(Scaled(
                    sequence.Compare(previous, current, frame, source.Seconds(source.Frames[frame].Pts)), toSource, source.UprightWidth, source.UprightHeight));
                previous = current;
            }
        }
        var analyzed = results.Select(r => r.Frame).Distinct().Count();
        if (analyzed != selected.Count)
        {
            throw new InvalidDataException($"the pieces of {Path.GetFileName(input)} hold {analyzed} of its {selected.Count} selected frames");
        }
        var output = new ResultsFolder(options.OutputDirectory, input);
        output.Commit(new AnalysisRun(input, results, selected.Count, source.FrameRate.Value, source.UprightWidth, source.UprightHeight, null), options);
        return output.Path;
    }

    /// <summary>Frames are decoded straight to the analysis size; results are scaled back to source pixels by the factor.</summary>
    private static (int CodedWidth, int CodedHeight, double ToSource) Geometry(VideoSource source, int analysisSize)
    {
        var scale = Math.Min(1.0, (double)analysisSize / Math.Max(source.UprightWidth, source.UprightHeight));
        var codedWidth = Math.Max(2, (int)Math.Round(source.Width * scale));
        var codedHeight = Math.Max(2, (int)Math.Round(source.Height * scale));
        return (codedWidth, codedHeight, (double)source.UprightWidth / (source.Rotation is 90 or 270 ? codedHeight : codedWidth));
    }

    private static AnalysisFrame Decode(SegmentDecoder decoder, VideoSource source, int codedWidth, int codedHeight, SourceFrame frame)
    {
        var coded = new FrameImage(PixelLayout.Bgr24, codedWidth, codedHeight);
        try
        {
            decoder.Convert(coded, fast: true);
            if (source.Rotation == 0)
            {
                return new AnalysisFrame(coded, frame.Index, source.Seconds(frame.Pts));
            }
            using var view = PictureMats.View(coded);
            var upright = new Mat();
            Cv2.Rotate(view, upright, source.Rotation switch
            {
                90 => RotateFlags.Rotate90Clockwise,
                180 => RotateFlags.Rotate180,
                _ => RotateFlags.Rotate90Counterclockwise,
            });
            coded.Dispose();
            return new AnalysisFrame(upright, frame.Index, source.Seconds(frame.Pts));
        }
        catch
        {
            coded.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Maps a result from analysis pixels to source pixels, inside the source picture: the analysis size is rounded
    /// to whole pixels, so for a sliver such as 4097x17 (analyzed at 640x3) the factor alone would overshoot.
    /// </summary>
    internal static FrameResult Scaled(FrameResult result, double factor, int width, int height)
    {
        if (Math.Abs(factor - 1) < 1e-9)
        {
            return result;
        }
        var f = (float)factor;
        float X(float x) => Math.Clamp(x * f, 0, width);
        float Y(float y) => Math.Clamp(y * f, 0, height);
        return result with
        {
            Detections = result.Detections.Select(d => d with
            {
                Box = new Box(X(d.Box.X), Y(d.Box.Y), X(d.Box.X + d.Box.Width) - X(d.Box.X), Y(d.Box.Y + d.Box.Height) - Y(d.Box.Y)),
                Keypoints = d.Keypoints?.Select(k => k with { X = X(k.X), Y = Y(k.Y) }).ToList(),
            }).ToList(),
            Motion = result.Motion is { } motion ? motion with { Dx = motion.Dx * factor, Dy = motion.Dy * factor } : null,
        };
    }

    private VideoResult Failed(string input, long started, string error, int done = 0, int planned = 0) =>
        new(input, new ResultsFolder(_options.OutputDirectory, input).Path, VideoOutcome.Failed, done, planned, _time.GetElapsedTime(started), error);
}

/// <summary>
/// The models of one run: a set for in-order comparisons, and one set per worker, each loaded on first use. The
/// comparisons' set also serves the first worker (comparisons run only once the workers are done), so a run loads one
/// set of networks fewer.
/// </summary>
internal sealed class RunModels(AnalyzeOptions options) : IDisposable
{
    private readonly Lazy<ModelSet> _comparer = new(() => new ModelSet(options, stillImage: false));
    private int _comparerLent;

    /// <summary>Loaded before any decoding, so a bad model file is one clear error.</summary>
    public ModelSet Comparer => _comparer.Value;

    /// <summary>A worker's set; the worker's owner disposes it.</summary>
    public ModelSet ForWorker() =>
        _comparer.IsValueCreated && Interlocked.Exchange(ref _comparerLent, 1) == 0 ? _comparer.Value : new ModelSet(options, stillImage: false);

    public void Dispose()
    {
        if (_comparer.IsValueCreated && Volatile.Read(ref _comparerLent) == 0)
        {
            _comparer.Value.Dispose();
        }
    }
}

/// <summary>Everything one input produced, before it is written.</summary>
/// <param name="Descriptions">For a piece: per sequence model, its frames' descriptions in frame order, not yet compared.</param>
internal sealed record AnalysisRun(
    string Input, IReadOnlyList<FrameResult> Results, int Planned, double FrameRate, int Width, int Height, string? Error,
    IReadOnlyList<IReadOnlyList<(int Frame, object Description)>>? Descriptions = null);
