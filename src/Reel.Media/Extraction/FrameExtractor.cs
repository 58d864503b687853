using Reel.Media.Decoding;
using Reel.Media.Imaging;
using Reel.Media.Scheduling;

namespace Reel.Media.Extraction;

/// <summary>
/// Writes the selected frames of many videos as images. Each video is cut into keyframe-aligned segments;
/// the workers (<see cref="SegmentScheduler{TState}"/>) take segments from all videos, decode them and encode the frames,
/// so every core stays busy whatever the mix. A video's manifest is committed only when all its frames are on disk.
/// </summary>
public sealed class FrameExtractor
{
    private readonly ExtractOptions _options;
    private readonly IVideoProgress? _observer;
    private readonly TimeProvider _time;

    public FrameExtractor(ExtractOptions options, IVideoProgress? observer = null, TimeProvider? time = null)
    {
        options.Validate();
        _options = options;
        _observer = observer;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Extracts every input; one video's failure never stops the others.</summary>
    /// <returns>One result per input, in input order.</returns>
    public Task<IReadOnlyList<VideoResult>> RunAsync(IReadOnlyList<string> inputs, CancellationToken cancellationToken = default) =>
        Task.Run(new ExtractionRun(this, inputs, cancellationToken).Run, CancellationToken.None);

    /// <summary>
    /// The merge of a video extracted in pieces (<see cref="ExtractOptions.Piece"/>): writes its <c>extract.json</c> and
    /// <c>frames.jsonl</c>, the same bytes a run in one piece writes, once every piece's frames are done.
    /// </summary>
    /// <returns>The video's output folder.</returns>
    public static string WriteManifest(ExtractOptions options, string input, CancellationToken cancellationToken = default)
    {
        options.Validate();
        var source = VideoProbe.Probe(input, cancellationToken);
        var folder = new OutputFolder(options.OutputDirectory, input);
        folder.Prepare();
        Commit(options, folder, source, options.Sampling.Select(source).Select(i => source.Frames[i]).ToList());
        return folder.Path;
    }

    private static void Commit(ExtractOptions options, OutputFolder folder, VideoSource source, IReadOnlyList<SourceFrame> planned)
    {
        var extension = options.Format.Extension();
        folder.Commit(
            Record(options, folder.Input, planned.Count),
            planned.Select(f => new ManifestEntry(f.Index, f.Pts, Math.Round(source.Seconds(f.Pts), 6), f.IsKeyframe, $"{f.Index:D10}.{extension}")));
    }

    private static ExtractionRecord Record(ExtractOptions options, string input, int frames)
    {
        var file = new FileInfo(input);
        return options.PortableRecord
            ? new ExtractionRecord(Path.GetFileName(input), file.Length, 0, options.Fingerprint(), frames)
            : new ExtractionRecord(
                Path.GetFullPath(input), file.Length, new DateTimeOffset(file.LastWriteTimeUtc).ToUnixTimeMilliseconds(), options.Fingerprint(), frames);
    }

    private sealed class ExtractionRun
    {
        private readonly FrameExtractor _owner;
        private readonly CancellationToken _cancellation;
        private readonly List<VideoJob> _jobs = [];
        private readonly List<VideoJob> _toPlan = [];
        private readonly SegmentScheduler<ImageWriter> _scheduler;

        public ExtractionRun(FrameExtractor owner, IReadOnlyList<string> inputs, CancellationToken cancellation)
        {
            _owner = owner;
            _cancellation = cancellation;
            _scheduler = new SegmentScheduler<ImageWriter>(owner._options.Workers, () => new ImageWriter(Options.Format, Options.Quality));
            var byFolder = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var input in inputs)
            {
                var job = new VideoJob(input, new OutputFolder(owner._options.OutputDirectory, input));
                _jobs.Add(job);
                if (byFolder.TryAdd(job.Folder.Path, input))
                {
                    _toPlan.Add(job);
                }
                else
                {
                    job.Result = new VideoResult(
                        input, job.Folder.Path, VideoOutcome.Failed, 0, 0, TimeSpan.Zero,
                        $"its output folder is already used by {byFolder[job.Folder.Path]} in this run");
                }
            }
        }

        private ExtractOptions Options => _owner._options;

        public IReadOnlyList<VideoResult> Run()
        {
            using (_scheduler)
            {
                try
                {
                    // Videos are planned on the workers, several at once; their segments run before the next video is planned.
                    _scheduler.Run(_toPlan.Select(job => WorkTask<ImageWriter>.Whole((_, _) => Plan(job))), _cancellation);
                }
                catch (OperationCanceledException) when (_cancellation.IsCancellationRequested)
                {
                    // Reported below, per video.
                }
            }
            foreach (var job in _jobs.Where(j => j.Result is null))
            {
                job.Result = Result(job, VideoOutcome.Failed, job.Written, "interrupted before it finished");
                _owner._observer?.VideoFinished(job.Result);
            }
            return _jobs.Select(j => j.Result!).ToList();
        }

        private void Plan(VideoJob job)
        {
            job.StartedAt = _owner._time.GetTimestamp();
            var folder = job.Folder;
            try
            {
                if (folder.ReadFinished() is { } finished && !Options.Overwrite)
                {
                    if (finished == Record(job.Input, finished.Frames))
                    {
                        job.Planned = new SourceFrame[finished.Frames];
                        job.Result = Result(job, VideoOutcome.AlreadyDone, finished.Frames, null);
                    }
                    else
                    {
                        job.Result = Result(job, VideoOutcome.Failed, 0,
                            $"{folder.Path} holds frames extracted with other settings or from another version of the file; "
                            + "pass --overwrite to replace them");
                    }
                    _owner._observer?.VideoFinished(job.Result);
                    return;
                }

                var source = VideoProbe.Probe(job.Input, _cancellation);
                var selected = Options.Sampling.Select(source);
                if (Options.Piece is { } piece)
                {
                    // One task's share of a split video: the other pieces' frames may be in the same folder.
                    selected = selected.Where(piece.Contains).ToList();
                }
                else
                {
                    folder.Clear();
                }
                folder.Prepare();
                job.Source = source;
                job.Planned = selected.Select(i => source.Frames[i]).ToList();
                var (width, height) = CodedSize(source);
                job.Converter = new FrameConverter(Options.Format, width, height);
                var segments = SegmentPlanner.Plan(source, selected, Options.Workers * 3);
                // Too few segments to share the cores: the decoders use threads of their own instead.
                var decoderThreads = segments.Count >= Options.Workers ? 1 : Math.Min(Options.Workers, 1 + (Options.Workers / Math.Max(1, segments.Count)));
                job.Hold(segments.Count);
                _owner._observer?.VideoStarted(job.Input, job.Planned.Count);
                foreach (var segment in segments.OrderByDescending(s => s.DecodeCost))
                {
                    _scheduler.Add(WorkTask<ImageWriter>.Frames(segment, new SegmentOfJob(this, job), decoderThreads));
                }
            }
            catch (Exception e) when (e is MediaException or IOException or UnauthorizedAccessException)
            {
                job.Fail(e.Message);
            }
            catch (OperationCanceledException)
            {
                job.Fail("interrupted");
            }
            if (job.Release())
            {
                Complete(job);
            }
        }

        /// <summary>A segment's frames, decoded for their video's images.</summary>
        private sealed class SegmentOfJob(ExtractionRun run, VideoJob job) : ISegmentWork<ImageWriter, FrameImage>
        {
            public FrameImage Take(SegmentDecoder decoder, SourceFrame frame)
            {
                var image = decoder.Convert(job.Converter!);
                job.Hold();
                return image;
            }

            public void Process(Worker<ImageWriter> worker, SourceFrame frame, FrameImage taken) => run.Encode(worker.State, job, frame, taken);

            public void Ended(IReadOnlyList<SourceFrame> missing, Exception? error)
            {
                if (error is not null)
                {
                    job.Fail(error.Message);
                }
                job.AddMissing(missing);
                if (job.Release())
                {
                    run.Complete(job);
                }
            }
        }

        private void Encode(ImageWriter writer, VideoJob job, SourceFrame frame, FrameImage image)
        {
            try
            {
                var rotation = job.Source!.Rotation;
                if (rotation != 0)
                {
                    var upright = Rotation.Rotate(image, rotation);
                    image.Dispose();
                    image = upright;
                }
                var path = job.Folder.FramePath(frame.Index, Options.Format.Extension());
                writer.Write(image, path);
                job.FrameWritten();
                Options.FrameDone?.Invoke(path);
                _owner._observer?.FramesDone(job.Input, 1);
            }
            catch (Exception e) when (e is MediaException or IOException or UnauthorizedAccessException)
            {
                job.Fail($"cannot write frame {frame.Index}: {e.Message}");
            }
            finally
            {
                image.Dispose();
            }
            if (job.Release())
            {
                Complete(job);
            }
        }

        /// <summary>Runs once per video, on the thread that finished its last piece of work.</summary>
        private void Complete(VideoJob job)
        {
            if (_cancellation.IsCancellationRequested)
            {
                return;
            }
            var reason = job.FailureReason();
            if (reason is null && Options.Piece is null)
            {
                try
                {
                    Commit(Options, job.Folder, job.Source!, job.Planned);
                }
                catch (IOException e)
                {
                    reason = $"cannot write the manifest: {e.Message}";
                }
            }
            job.Result = Result(job, reason is null ? VideoOutcome.Completed : VideoOutcome.Failed, job.Written, reason);
            _owner._observer?.VideoFinished(job.Result);
        }

        private VideoResult Result(VideoJob job, VideoOutcome outcome, int written, string? error) =>
            new(job.Input, job.Folder.Path, outcome, written, job.Planned.Count, _owner._time.GetElapsedTime(job.StartedAt), error);

        private ExtractionRecord Record(string input, int frames) => FrameExtractor.Record(Options, input, frames);

        /// <summary>The size to scale decoded (coded, not yet rotated) pictures to, or nulls to keep theirs.</summary>
        private (int? Width, int? Height) CodedSize(VideoSource source)
        {
            if (Options.Width is null && Options.Height is null)
            {
                return (null, null);
            }
            double uw = source.UprightWidth, uh = source.UprightHeight;
            var width = Options.Width ?? Math.Max(1, (int)Math.Round(Options.Height!.Value * uw / uh));
            var height = Options.Height ?? Math.Max(1, (int)Math.Round(Options.Width!.Value * uh / uw));
            return source.Rotation is 90 or 270 ? (height, width) : (width, height);
        }
    }
}
