using Reel.Media.Decoding;
using Reel.Media.Imaging;

namespace Reel.Media.Extraction;

/// <summary>
/// Writes the selected frames of many videos as images. Each video is cut into keyframe-aligned segments;
/// a fixed set of worker threads pulls segments from all videos, decodes them and encodes the frames, so every
/// core stays busy whatever the mix. A video's manifest is committed only when all its frames are on disk.
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
        new ExtractionRun(this, inputs, cancellationToken).Start();

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
        private readonly object _gate = new();
        private readonly Queue<VideoJob> _toProbe = new();
        private readonly List<(VideoJob Job, Segment Segment)> _segments = [];
        private readonly Queue<(VideoJob Job, SourceFrame Frame, FrameImage Image)> _toEncode = new();
        private readonly TaskCompletionSource<IReadOnlyList<VideoResult>> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _busy;
        private int _runningWorkers;

        public ExtractionRun(FrameExtractor owner, IReadOnlyList<string> inputs, CancellationToken cancellation)
        {
            _owner = owner;
            _cancellation = cancellation;
            var byFolder = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var input in inputs)
            {
                var job = new VideoJob(input, new OutputFolder(owner._options.OutputDirectory, input));
                _jobs.Add(job);
                if (byFolder.TryAdd(job.Folder.Path, input))
                {
                    _toProbe.Enqueue(job);
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

        public Task<IReadOnlyList<VideoResult>> Start()
        {
            _runningWorkers = Options.Workers;
            for (var i = 0; i < Options.Workers; i++)
            {
                new Thread(Work) { IsBackground = true, Name = $"reel-extract-{i}" }.Start();
            }
            return _completion.Task;
        }

        private void Work()
        {
            try
            {
                using var writer = new ImageWriter(Options.Format, Options.Quality);
                using var decoder = new VideoDecoder();
                WorkLoop(writer, decoder);
            }
            catch (Exception e)
            {
                _completion.TrySetException(e);
            }
            finally
            {
                if (Interlocked.Decrement(ref _runningWorkers) == 0)
                {
                    Finish();
                }
            }
        }

        private void WorkLoop(ImageWriter writer, VideoDecoder decoder)
        {
            (VideoJob Job, SegmentDecoder Decoder)? current = null;
            while (!_cancellation.IsCancellationRequested)
            {
                // Encoding first keeps the queue, and so memory, short; a worker between segments helps the others.
                (VideoJob Job, SourceFrame Frame, FrameImage Image) encode = default;
                VideoJob? probe = null;
                (VideoJob Job, Segment Segment) next = default;
                lock (_gate)
                {
                    if (!_toEncode.TryDequeue(out encode) && current is null)
                    {
                        if (_segments.Count > 0)
                        {
                            next = _segments[0];
                            _segments.RemoveAt(0);
                            _busy++;
                        }
                        else if (_toProbe.TryDequeue(out probe))
                        {
                            _busy++;
                        }
                        else if (_busy == 0)
                        {
                            return;
                        }
                        else
                        {
                            Monitor.Wait(_gate, TimeSpan.FromMilliseconds(100));
                            continue;
                        }
                    }
                }

                if (encode.Job is not null)
                {
                    Encode(writer, encode.Job, encode.Frame, encode.Image);
                }
                else if (probe is not null)
                {
                    Plan(probe);
                    Idle();
                }
                else if (next.Job is not null)
                {
                    current = StartSegment(next.Job, next.Segment!, decoder);
                    if (current is null)
                    {
                        Idle();
                    }
                }
                else if (current is { } active && !Step(active.Job, active.Decoder))
                {
                    current = null;
                    Idle();
                }
            }
        }

        private void Idle()
        {
            lock (_gate)
            {
                _busy--;
                Monitor.PulseAll(_gate);
            }
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
                job.DecoderThreads = segments.Count >= Options.Workers ? 1 : Math.Min(Options.Workers, 1 + (Options.Workers / Math.Max(1, segments.Count)));
                job.Hold(segments.Count);
                _owner._observer?.VideoStarted(job.Input, job.Planned.Count);
                lock (_gate)
                {
                    _segments.AddRange(segments.OrderByDescending(s => s.DecodeCost).Select(s => (job, s)));
                    Monitor.PulseAll(_gate);
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

        private (VideoJob, SegmentDecoder)? StartSegment(VideoJob job, Segment segment, VideoDecoder decoder)
        {
            try
            {
                return (job, decoder.Start(segment, job.DecoderThreads));
            }
            catch (MediaException e)
            {
                job.Fail(e.Message);
                if (job.Release())
                {
                    Complete(job);
                }
                return null;
            }
        }

        /// <returns>False when the segment is finished.</returns>
        private bool Step(VideoJob job, SegmentDecoder decoder)
        {
            try
            {
                if (decoder.TryNext(out var frame))
                {
                    var image = decoder.Convert(job.Converter!);
                    job.Hold();
                    lock (_gate)
                    {
                        _toEncode.Enqueue((job, frame, image));
                        Monitor.PulseAll(_gate);
                    }
                    return true;
                }
                job.AddMissing(decoder.Missing);
            }
            catch (MediaException e)
            {
                job.Fail(e.Message);
            }
            if (job.Release())
            {
                Complete(job);
            }
            return false;
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

        private void Finish()
        {
            lock (_gate)
            {
                while (_toEncode.TryDequeue(out var left))
                {
                    left.Image.Dispose();
                }
            }
            foreach (var job in _jobs.Where(j => j.Result is null))
            {
                job.Result = Result(job, VideoOutcome.Failed, job.Written, "interrupted before it finished");
                _owner._observer?.VideoFinished(job.Result);
            }
            _completion.TrySetResult(_jobs.Select(j => j.Result!).ToList());
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
