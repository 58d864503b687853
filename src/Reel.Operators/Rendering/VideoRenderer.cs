using System.Globalization;
using System.Runtime.CompilerServices;
using OpenCvSharp;
using Reel.Media;
using Reel.Media.Decoding;
using Reel.Media.Encoding;
using Reel.Media.Extraction;
using Reel.Media.Imaging;
using Reel.Media.Scheduling;
using Reel.Operators.Faces;

namespace Reel.Operators.Rendering;

/// <summary>
/// Renders a video through filters, keeping every frame, the frame rate and the original audio. The video is cut
/// into keyframe-aligned render units (<see cref="Units"/>) rendered in parallel: each is decoded at full size to upright
/// BGR, its faces found when a filter needs them, filtered, and piped as raw frames into its own ffmpeg (libx264) that
/// writes a piece of video; the pieces are then joined without re-encoding, every frame at its source time, and the
/// source's audio copied beside them. The units depend on the source alone and each encoder runs a fixed number of
/// threads, so a video renders to the same bytes on any machine, whole or as pieces on several
/// (<see cref="RenderPieceAsync"/>, then <see cref="JoinPieces"/>).
/// </summary>
public sealed class VideoRenderer
{
    /// <summary>
    /// Threads of each unit's x264 encoder. Fixed, because x264's output depends on its thread count; parallelism comes
    /// from rendering several units at once.
    /// </summary>
    internal const int EncoderThreads = 2;

    /// <summary>Units a short video is cut into at most (keyframes permitting), so that the cores can share it.</summary>
    internal const int ShortVideoUnits = 8;

    /// <summary>About how many seconds of video one unit of a long video holds.</summary>
    internal const double UnitSeconds = 10;

    private readonly RenderOptions _options;
    private readonly IVideoProgress? _progress;
    private readonly TimeProvider _time;

    public VideoRenderer(RenderOptions options, IVideoProgress? progress = null, TimeProvider? time = null)
    {
        options.Validate();
        _options = options;
        _progress = progress;
        _time = time ?? TimeProvider.System;
    }

    /// <summary>
    /// The keyframe-aligned units <paramref name="source"/> renders in: <see cref="ShortVideoUnits"/> or one per
    /// <see cref="UnitSeconds"/>, whichever is more, of about equal decoding work. They depend on the source alone.
    /// </summary>
    public static IReadOnlyList<Segment> Units(VideoSource source)
    {
        var count = Math.Max(ShortVideoUnits, (int)Math.Ceiling(source.RelativeSeconds(source.EndPts) / UnitSeconds));
        return SegmentPlanner.Plan(source, Enumerable.Range(0, source.Frames.Count).ToList(), count);
    }

    /// <summary>
    /// At most <paramref name="tasks"/> contiguous pieces of <paramref name="source"/>, each of whole units
    /// (<see cref="Units"/>), for <see cref="RenderPieceAsync"/> on different machines.
    /// </summary>
    public static IReadOnlyList<FramePiece> PlanPieces(VideoSource source, int tasks) => SegmentPlanner.Spread(Units(source), tasks);

    /// <summary>Renders <paramref name="input"/> to the options' output; failures come back as a failed result, never half a file.</summary>
    public Task<VideoResult> RenderAsync(string input, CancellationToken cancellationToken = default) =>
        RunAsync(() => WriteOutput(input, reportFrames: true, (source, work) => RenderUnits(source, Units(source), work, cancellationToken), cancellationToken));

    /// <summary>
    /// Renders the units of <paramref name="input"/> inside <paramref name="piece"/> (a piece of
    /// <see cref="PlanPieces"/>) into <paramref name="directory"/>, one video file per unit, for
    /// <see cref="JoinPieces"/>. The result's output is the directory.
    /// </summary>
    public Task<VideoResult> RenderPieceAsync(string input, FramePiece piece, string directory, CancellationToken cancellationToken = default) =>
        RunAsync(() =>
        {
            var started = _time.GetTimestamp();
            var planned = 0;
            return Guard(input, directory, started, () => planned, () =>
            {
                var source = Probe(input, cancellationToken);
                var units = Units(source).Where(u => piece.Contains(u.FirstFrame)).ToList();
                if (units.Count == 0 || units[0].FirstFrame != piece.First || units[^1].EndFrame != piece.End)
                {
                    throw new InvalidOperationException($"{piece} is not a piece of whole render units of this video");
                }
                planned = units.Sum(u => u.Selected.Count);
                Directory.CreateDirectory(directory);
                _progress?.VideoStarted(input, planned);
                RenderUnits(source, units, directory, cancellationToken);
                return new VideoResult(input, directory, VideoOutcome.Completed, planned, planned, _time.GetElapsedTime(started), null);
            });
        });

    /// <summary>
    /// Writes the options' output from the pieces <see cref="RenderPieceAsync"/> rendered into
    /// <paramref name="pieceDirectories"/> (in frame order): joined without re-encoding, with the source's audio. The
    /// same bytes as <see cref="RenderAsync"/>.
    /// </summary>
    public VideoResult JoinPieces(string input, IReadOnlyList<string> pieceDirectories, CancellationToken cancellationToken = default)
    {
        var result = WriteOutput(input, reportFrames: false, (_, _) => pieceDirectories
            .SelectMany(d => Directory.GetFiles(d, "*" + UnitExtension).Order(StringComparer.Ordinal))
            .ToList(), cancellationToken);
        _progress?.VideoFinished(result);
        return result;
    }

    private async Task<VideoResult> RunAsync(Func<VideoResult> run)
    {
        // Parallelism comes from units; OpenCV's own threads would only compete with them.
        Cv2.SetNumThreads(1);
        var result = await Task.Run(run, CancellationToken.None).ConfigureAwait(false);
        _progress?.VideoFinished(result);
        return result;
    }

    /// <summary>
    /// Writes the output under a temporary name from the unit files <paramref name="units"/> gives (in frame order),
    /// and renames it when complete.
    /// </summary>
    private VideoResult WriteOutput(
        string input, bool reportFrames, Func<VideoSource, string, IReadOnlyList<string>> units, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var output = Path.GetFullPath(_options.Output);
        if (File.Exists(output) && !_options.Overwrite)
        {
            return Failed(input, output, started, $"{output} already exists; pass --overwrite to replace it");
        }
        if (Directory.Exists(output))
        {
            return Failed(input, output, started, $"{output} is a directory");
        }
        if (File.Exists(input) && string.Equals(Path.GetFullPath(input), output, StringComparison.Ordinal))
        {
            return Failed(input, output, started, "the output would replace the input");
        }

        var directory = Path.GetDirectoryName(output)!;
        var unique = Guid.NewGuid().ToString("N")[..12];
        var work = Path.Combine(directory, $".{Path.GetFileName(output)}.reel-{unique}");
        var partial = Path.Combine(directory, $".{Path.GetFileNameWithoutExtension(output)}.reel-{unique}.partial{Extension(output)}");
        var planned = 0;
        try
        {
            return Guard(input, output, started, () => planned, () =>
            {
                var source = Probe(input, cancellationToken);
                planned = source.Frames.Count;
                Directory.CreateDirectory(directory);
                Directory.CreateDirectory(work);
                if (reportFrames)
                {
                    _progress?.VideoStarted(input, planned);
                }
                Join(source, units(source, work), work, partial, cancellationToken);
                File.Move(partial, output, overwrite: _options.Overwrite);
                return new VideoResult(input, output, VideoOutcome.Completed, planned, planned, _time.GetElapsedTime(started), null);
            });
        }
        finally
        {
            TryDelete(() => File.Delete(partial));
            TryDelete(() => Directory.Delete(work, recursive: true));
        }
    }

    /// <summary>Runs <paramref name="render"/>, turning the ways a render fails into a failed result with its reason.</summary>
    private VideoResult Guard(string input, string output, long started, Func<int> planned, Func<VideoResult> render)
    {
        try
        {
            return render();
        }
        catch (OperationCanceledException)
        {
            return Failed(input, output, started, "interrupted before it finished", planned());
        }
        catch (Exception e) when (e is MediaException or IOException or UnauthorizedAccessException or OpenCVException or InvalidOperationException)
        {
            return Failed(input, output, started, e.Message, planned());
        }
    }

    private static VideoSource Probe(string input, CancellationToken cancellationToken)
    {
        var source = VideoProbe.Probe(input, cancellationToken);
        return source.Damage is null ? source : throw new MediaException($"{source.Damage}; nothing rendered");
    }

    private const string UnitExtension = ".mp4";

    /// <summary>Renders <paramref name="units"/> into <paramref name="directory"/>, one file each, named so that name order is frame order.</summary>
    private IReadOnlyList<string> RenderUnits(VideoSource source, IReadOnlyList<Segment> units, string directory, CancellationToken cancellationToken)
    {
        var pieces = units.Select(u => (Segment: u, Path: Path.Combine(directory, $"{u.FirstFrame:D10}{UnitExtension}"))).ToList();
        RenderSegments(source, pieces, cancellationToken);
        return pieces.Select(p => p.Path).ToList();
    }

    private void RenderSegments(VideoSource source, List<(Segment Segment, string Path)> pieces, CancellationToken cancellationToken)
    {
        var needsFaces = _options.Filters.Any(f => f.NeedsFaces);
        using var scheduler = new SegmentScheduler<IFaceDetector?>(
            _options.Workers, () => needsFaces ? FaceDetectors.Create(_options.FaceModel, FaceTiling.Squares) : null);
        // A segment's frames go in order into its own encoder, so one worker renders it whole.
        scheduler.Run(
            pieces.OrderByDescending(p => p.Segment.DecodeCost).Select(p => WorkTask<IFaceDetector?>.Whole(
                (worker, stop) => RenderSegment(source, p.Segment, p.Path, worker.Decoder, worker.State, stop))),
            cancellationToken);
    }

    // Fully optimised from the first call: .NET 10's on-stack replacement of this loop hung the JIT (a tier-up
    // thread spinning, no frame ever written) on the development machine.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void RenderSegment(
        VideoSource source, Segment segment, string path, VideoDecoder videoDecoder, IFaceDetector? detector, CancellationToken cancellationToken)
    {
        var decoder = videoDecoder.Start(segment);
        using var coded = new FrameImage(PixelLayout.Bgr24, source.Width, source.Height);
        using var codedView = PictureMats.View(coded);
        using var rotated = new Mat();
        using var packed = new Mat();
        using var small = new Mat();
        using var encoder = FfmpegProcess.Start(SegmentArguments(source, path), input: true, cancellationToken);
        var stream = encoder.Input;
        var written = 0;
        while (decoder.TryNext(out var frame))
        {
            cancellationToken.ThrowIfCancellationRequested();
            decoder.Convert(coded);
            var upright = codedView;
            if (source.Rotation != 0)
            {
                Cv2.Rotate(codedView, rotated, source.Rotation switch
                {
                    90 => RotateFlags.Rotate90Clockwise,
                    180 => RotateFlags.Rotate180,
                    _ => RotateFlags.Rotate90Counterclockwise,
                });
                upright = rotated;
            }
            var faces = detector is null ? [] : DetectFaces(detector, upright, small);
            foreach (var filter in _options.Filters)
            {
                filter.Apply(upright, frame.Index, faces);
            }
            if (!upright.IsContinuous())
            {
                // ffmpeg reads packed lines; the decoded picture's lines are padded.
                upright.CopyTo(packed);
                upright = packed;
            }
            try
            {
                stream.Write(new ReadOnlySpan<byte>((void*)upright.Data, checked((int)(upright.Total() * upright.ElemSize()))));
            }
            catch (IOException)
            {
                cancellationToken.ThrowIfCancellationRequested();
                throw new InvalidOperationException($"ffmpeg stopped while encoding frame {frame.Index}: {encoder.Failure()}");
            }
            written++;
            _progress?.FramesDone(source.Path, 1);
        }
        if (decoder.Missing.Count > 0)
        {
            var earliest = decoder.Missing[0];
            throw new MediaException($"cannot decode frame {earliest.Index} ({source.Seconds(earliest.Pts):0.###}s) and {decoder.Missing.Count - 1} more");
        }
        if (written != segment.Selected.Count)
        {
            throw new MediaException($"decoded {written} of the {segment.Selected.Count} frames from frame {segment.FirstFrame}");
        }
        encoder.Finish($"encoding frames {segment.FirstFrame}-{segment.Selected[^1].Index}");
    }

    /// <summary>
    /// Faces found on a copy at most <see cref="RenderOptions.DetectionSize"/> pixels on its longer side (as
    /// <c>reel analyze</c> does by default), in <paramref name="bgr"/>'s pixels.
    /// </summary>
    private IReadOnlyList<Detection> DetectFaces(IFaceDetector detector, Mat bgr, Mat small)
    {
        var longer = Math.Max(bgr.Width, bgr.Height);
        if (longer <= _options.DetectionSize)
        {
            return detector.Detect(bgr);
        }
        var scale = (double)_options.DetectionSize / longer;
        Cv2.Resize(bgr, small, new Size((int)Math.Round(bgr.Width * scale), (int)Math.Round(bgr.Height * scale)), interpolation: InterpolationFlags.Area);
        var f = (float)(1 / scale);
        return detector.Detect(small).Select(d => d with
        {
            Box = new Box(d.Box.X * f, d.Box.Y * f, d.Box.Width * f, d.Box.Height * f),
            Keypoints = d.Keypoints?.Select(k => k with { X = k.X * f, Y = k.Y * f }).ToList(),
        }).ToList();
    }

    /// <summary>
    /// ffmpeg's arguments for one piece: raw upright BGR frames on stdin, H.264 in an mp4 out. Raw frames carry no
    /// timestamps, so the piece runs at the nominal rate; <see cref="TimedJoin"/> gives each frame its source time.
    /// </summary>
    internal List<string> SegmentArguments(VideoSource source, string path)
    {
        var arguments = new List<string>
        {
            "-f", "rawvideo", "-pix_fmt", "bgr24",
            "-video_size", $"{source.UprightWidth}x{source.UprightHeight}",
            "-framerate", source.FrameRate.ToString(),
            "-i", "pipe:0",
            "-an",
        };
        if (source.UprightWidth % 2 != 0 || source.UprightHeight % 2 != 0)
        {
            // 4:2:0 needs even sizes: add a black column or row rather than lose one of the picture's.
            arguments.AddRange(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]);
        }
        arguments.AddRange([
            "-c:v", "libx264", "-preset", _options.Preset, "-crf", _options.Crf.ToString(CultureInfo.InvariantCulture),
            "-threads", EncoderThreads.ToString(CultureInfo.InvariantCulture),
            "-pix_fmt", "yuv420p",
            "-f", "mp4", "-y", path,
        ]);
        return arguments;
    }

    /// <summary>
    /// Joins the pieces in order without re-encoding, every frame at its source time, then adds the source's audio,
    /// into <paramref name="partial"/>.
    /// </summary>
    private static void Join(VideoSource source, IReadOnlyList<string> pieces, string work, string partial, CancellationToken cancellationToken)
    {
        var video = Path.Combine(work, "video.mp4");
        TimedJoin.Join(source, pieces, video);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            RunJoin(source, video, partial, audioCodec: "copy", cancellationToken);
        }
        catch (InvalidOperationException) when (source.AudioStreams > 0 && !cancellationToken.IsCancellationRequested)
        {
            // The output container cannot hold the source's audio as it is (Vorbis in mp4): encode it to AAC instead.
            RunJoin(source, video, partial, audioCodec: "aac", cancellationToken);
        }
    }

    private static void RunJoin(VideoSource source, string video, string partial, string audioCodec, CancellationToken cancellationToken)
    {
        var arguments = new List<string>();
        // The joined video starts at 0; shift it to where the source's first frame sits relative to its audio.
        var offset = source.RelativeSeconds(source.Frames[0].Pts);
        if (Math.Abs(offset) > 1e-9)
        {
            arguments.AddRange(["-itsoffset", offset.ToString("0.######", CultureInfo.InvariantCulture)]);
        }
        arguments.AddRange(["-i", video, "-i", source.Path, "-map", "0:v:0", "-map", "1:a?", "-c:v", "copy", "-c:a", audioCodec]);
        var extension = Path.GetExtension(partial).ToLowerInvariant();
        if (extension is ".mp4" or ".mov" or ".m4v")
        {
            arguments.AddRange(["-movflags", "+faststart"]);
        }
        arguments.AddRange(["-f", RenderOptions.Muxer(partial), "-y", partial]);
        using var join = FfmpegProcess.Start(arguments, input: false, cancellationToken);
        join.Finish("joining the rendered video and the audio");
        cancellationToken.ThrowIfCancellationRequested();
    }

    /// <summary>The output's extension, mp4 when it has none.</summary>
    private static string Extension(string output) => Path.GetExtension(output) is { Length: > 1 } extension ? extension : ".mp4";

    private static void TryDelete(Action delete)
    {
        try
        {
            delete();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover temporary name never looks like a finished output.
        }
    }

    private VideoResult Failed(string input, string output, long started, string error, int planned = 0) =>
        new(input, output, VideoOutcome.Failed, 0, planned, _time.GetElapsedTime(started), error);
}
