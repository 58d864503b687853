using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.CompilerServices;
using OpenCvSharp;
using Reel.Media;
using Reel.Media.Decoding;
using Reel.Media.Encoding;
using Reel.Media.Extraction;
using Reel.Media.Imaging;
using Reel.Operators.Faces;

namespace Reel.Operators.Rendering;

/// <summary>
/// Renders a video through filters, keeping every frame, the frame rate and the original audio. The video is cut
/// into keyframe-aligned segments rendered in parallel: each is decoded at full size to upright BGR, its faces
/// found when a filter needs them, filtered, and piped as raw frames into its own ffmpeg (libx264) that writes a
/// piece of video; the pieces are then joined without re-encoding, every frame at its source time, and the source's audio copied
/// beside them.
/// </summary>
public sealed class VideoRenderer
{
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

    /// <summary>Renders <paramref name="input"/> to the options' output; failures come back as a failed result, never half a file.</summary>
    public async Task<VideoResult> RenderAsync(string input, CancellationToken cancellationToken = default)
    {
        // Parallelism comes from segments; OpenCV's own threads would only compete with them.
        Cv2.SetNumThreads(1);
        var result = await Task.Run(() => RenderOne(input, cancellationToken), CancellationToken.None).ConfigureAwait(false);
        _progress?.VideoFinished(result);
        return result;
    }

    private VideoResult RenderOne(string input, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var output = Path.GetFullPath(_options.Output);
        if (File.Exists(output) && !_options.Overwrite)
        {
            return Failed(input, started, $"{output} already exists; pass --overwrite to replace it");
        }
        if (Directory.Exists(output))
        {
            return Failed(input, started, $"{output} is a directory");
        }
        if (File.Exists(input) && string.Equals(Path.GetFullPath(input), output, StringComparison.Ordinal))
        {
            return Failed(input, started, "the output would replace the input");
        }

        var directory = Path.GetDirectoryName(output)!;
        var unique = Guid.NewGuid().ToString("N")[..12];
        var work = Path.Combine(directory, $".{Path.GetFileName(output)}.reel-{unique}");
        var partial = Path.Combine(directory, $".{Path.GetFileNameWithoutExtension(output)}.reel-{unique}.partial{Extension(output)}");
        var planned = 0;
        try
        {
            var source = VideoProbe.Probe(input, cancellationToken);
            if (source.Damage is not null)
            {
                return Failed(input, started, $"{source.Damage}; nothing rendered");
            }
            planned = source.Frames.Count;
            Directory.CreateDirectory(directory);
            Directory.CreateDirectory(work);
            _progress?.VideoStarted(input, planned);

            // Two pieces per worker: keyframes rarely fall evenly, and smaller pieces let workers even out.
            var segments = SegmentPlanner.Plan(source, Enumerable.Range(0, planned).ToList(), _options.Workers * 2);
            var pieces = segments.Select((s, i) => (Segment: s, Path: Path.Combine(work, $"{i:D5}.mp4"))).ToList();
            RenderSegments(source, pieces, cancellationToken);
            Join(source, pieces.Select(p => p.Path).ToList(), work, partial, cancellationToken);
            File.Move(partial, output, overwrite: _options.Overwrite);
            return new VideoResult(input, output, VideoOutcome.Completed, planned, planned, _time.GetElapsedTime(started), null);
        }
        catch (OperationCanceledException)
        {
            return Failed(input, started, "interrupted before it finished", planned);
        }
        catch (AggregateException e) when (e.InnerExceptions.All(x => x is OperationCanceledException))
        {
            return Failed(input, started, "interrupted before it finished", planned);
        }
        catch (Exception e) when (e is MediaException or IOException or UnauthorizedAccessException or OpenCVException or InvalidOperationException)
        {
            return Failed(input, started, e.Message, planned);
        }
        finally
        {
            TryDelete(() => File.Delete(partial));
            TryDelete(() => Directory.Delete(work, recursive: true));
        }
    }

    private void RenderSegments(VideoSource source, List<(Segment Segment, string Path)> pieces, CancellationToken cancellationToken)
    {
        var needsFaces = _options.Filters.Any(f => f.NeedsFaces);
        var errors = new ConcurrentQueue<string>();
        using var decoders = new ThreadLocal<VideoDecoder>(() => new VideoDecoder(), trackAllValues: true);
        using var detectors = new ThreadLocal<IFaceDetector?>(
            () => needsFaces ? FaceDetectors.Create(_options.FaceModel, FaceTiling.Squares) : null,
            trackAllValues: true);
        try
        {
            Parallel.ForEach(
                pieces.OrderByDescending(p => p.Segment.DecodeCost),
                new ParallelOptions { MaxDegreeOfParallelism = _options.Workers, CancellationToken = cancellationToken },
                (piece, state) =>
                {
                    try
                    {
                        RenderSegment(source, piece.Segment, piece.Path, decoders.Value!, detectors.Value, cancellationToken);
                    }
                    catch (Exception e) when (e is MediaException or OpenCVException or InvalidOperationException or IOException)
                    {
                        errors.Enqueue(e.Message);
                        state.Stop();
                    }
                });
        }
        finally
        {
            foreach (var decoder in decoders.Values)
            {
                decoder.Dispose();
            }
            foreach (var detector in detectors.Values)
            {
                detector?.Dispose();
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (errors.TryPeek(out var first))
        {
            throw new InvalidOperationException(first);
        }
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
            "-pix_fmt", "yuv420p",
            "-f", "mp4", "-y", path,
        ]);
        return arguments;
    }

    /// <summary>
    /// Joins the pieces in order without re-encoding, every frame at its source time, then adds the source's audio,
    /// into <paramref name="partial"/>.
    /// </summary>
    private static void Join(VideoSource source, List<string> pieces, string work, string partial, CancellationToken cancellationToken)
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

    private VideoResult Failed(string input, long started, string error, int planned = 0) =>
        new(input, Path.GetFullPath(_options.Output), VideoOutcome.Failed, 0, planned, _time.GetElapsedTime(started), error);
}
