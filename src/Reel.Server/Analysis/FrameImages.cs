using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using OpenCvSharp;
using Reel.Media;
using Reel.Media.Decoding;
using Reel.Media.Imaging;
using Reel.Operators;
using Reel.Operators.Analysis;
using Reel.Operators.Filters;

namespace Reel.Server.Analysis;

/// <summary>
/// One frame of an analyzed video as JPEG at the size the analysis saw it (640 pixels on the longer side at most),
/// with the boxes and labels of its results drawn on it. Decoded in-process: a seek to the frame's keyframe, then only
/// that group of pictures. Probes and drawn frames are cached, identical requests in flight share one render (given up
/// once no request waits for it), and at most <see cref="ServerOptions.MaxConcurrentFrameRenders"/> render at once.
/// </summary>
public sealed class FrameImages(ServerOptions options) : IDisposable
{
    private const int ProbesKept = 32;

    /// <summary>The longer side the server's analyses decode to (AnalyzeOptions' default): frame images have the same size.</summary>
    private static readonly int AnalysisSize = new AnalyzeOptions { OutputDirectory = "-" }.AnalysisSize;
    private const long ImageBytesKept = 64L << 20;

    private readonly SemaphoreSlim _renders = new(Math.Max(1, options.MaxConcurrentFrameRenders));
    private readonly ConcurrentDictionary<string, Lazy<Task<VideoSource>>> _probes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Render> _inFlight = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _images = new(StringComparer.Ordinal);
    private readonly Queue<string> _imageOrder = new();
    private readonly Lock _imagesLock = new();
    private long _imageBytes;
    private int _rendering;
    private int _peakRendering;

    /// <summary>The most renders that ran at the same moment (for tests of the bound).</summary>
    internal int PeakRendering => Volatile.Read(ref _peakRendering);

    /// <summary>The render slots (for tests that hold them to queue renders).</summary>
    internal SemaphoreSlim RenderSlots => _renders;

    /// <summary>Renders started and not yet finished or given up.</summary>
    internal int InFlight => _inFlight.Count;

    /// <summary>How many frames were decoded (cache hits and shared renders decode nothing).</summary>
    internal int Decoded => Volatile.Read(ref _decoded);

    private int _decoded;

    /// <returns>The JPEG, or null when the video has no frame <paramref name="frame"/>.</returns>
    /// <exception cref="MediaException">The video cannot be read (yet).</exception>
    public async Task<byte[]?> RenderAsync(string video, int frame, IReadOnlyList<AnalysisRow> rows, CancellationToken cancellationToken)
    {
        var file = new FileInfo(video);
        var version = $"{video}|{file.Length}|{file.LastWriteTimeUtc.Ticks}";
        var key = $"{version}|{frame}|{Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', rows.Select(r => r.Results)))))}";
        lock (_imagesLock)
        {
            if (_images.TryGetValue(key, out var cached))
            {
                return cached;
            }
        }
        while (true)
        {
            var render = _inFlight.GetOrAdd(key, _ => new Render(this, key, version, video, frame, rows));
            if (!render.TryJoin())
            {
                // It was just given up by its last request: start a fresh one.
                _inFlight.TryRemove(new KeyValuePair<string, Render>(key, render));
                continue;
            }
            try
            {
                return await render.Task.WaitAsync(cancellationToken);
            }
            finally
            {
                render.Leave();
            }
        }
    }

    /// <summary>One render, shared by every request for it; cancelled when the last of them goes away.</summary>
    private sealed class Render
    {
        private readonly CancellationTokenSource _abandoned = new();
        private readonly Lock _lock = new();
        private readonly Lazy<Task<byte[]?>> _task;
        private int _waiting;

        public Render(FrameImages owner, string key, string version, string video, int frame, IReadOnlyList<AnalysisRow> rows) =>
            _task = new(() => owner.RenderOnceAsync(this, key, version, video, frame, rows, _abandoned.Token));

        public Task<byte[]?> Task => _task.Value;

        public bool TryJoin()
        {
            lock (_lock)
            {
                if (_abandoned.IsCancellationRequested)
                {
                    return false;
                }
                _waiting++;
                return true;
            }
        }

        public void Leave()
        {
            lock (_lock)
            {
                if (--_waiting == 0 && !_task.Value.IsCompleted)
                {
                    _abandoned.Cancel();
                }
            }
        }
    }

    private async Task<byte[]?> RenderOnceAsync(
        Render self, string key, string version, string video, int frame, IReadOnlyList<AnalysisRow> rows, CancellationToken cancellationToken)
    {
        try
        {
            var source = await ProbeAsync(version, video);
            if (frame < 0 || frame >= source.Frames.Count)
            {
                return null;
            }
            await _renders.WaitAsync(cancellationToken);
            byte[]? jpeg;
            try
            {
                InterlockedMax(ref _peakRendering, Interlocked.Increment(ref _rendering));
                jpeg = await Task.Run(() => Draw(source, frame, rows, cancellationToken), cancellationToken);
            }
            finally
            {
                Interlocked.Decrement(ref _rendering);
                _renders.Release();
            }
            if (jpeg is not null)
            {
                Keep(key, jpeg);
            }
            return jpeg;
        }
        finally
        {
            _inFlight.TryRemove(new KeyValuePair<string, Render>(key, self));
        }
    }

    private Task<VideoSource> ProbeAsync(string version, string video)
    {
        if (_probes.Count > ProbesKept)
        {
            _probes.Clear();
        }
        var probe = _probes.GetOrAdd(version, _ => new Lazy<Task<VideoSource>>(() => Task.Run(() => VideoProbe.Probe(video))));
        if (probe.Value.IsFaulted)
        {
            // A file still being written may read as damaged now and whole later.
            _probes.TryRemove(new KeyValuePair<string, Lazy<Task<VideoSource>>>(version, probe));
        }
        return probe.Value;
    }

    private byte[]? Draw(VideoSource source, int frame, IReadOnlyList<AnalysisRow> rows, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        using var image = Decode(source, frame);
        if (image is null)
        {
            return null;
        }
        Interlocked.Increment(ref _decoded);
        return DrawAndEncode(image, rows, (double)image.Width / source.UprightWidth);
    }

    /// <summary>
    /// Draws the boxes and labels of a frame's rows (in source pixels, times <paramref name="scale"/> for a picture of
    /// another size) on <paramref name="image"/> and encodes it as JPEG.
    /// </summary>
    public static byte[] DrawAndEncode(Mat image, IReadOnlyList<AnalysisRow> rows, double scale)
    {
        var s = (float)scale;
        var detections = new List<Detection>();
        foreach (var row in rows)
        {
            using var results = JsonDocument.Parse(row.Results);
            foreach (var item in results.RootElement.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("coordinates", out var c))
                {
                    detections.Add(new Detection(
                        item.GetProperty("label").GetString() ?? "", item.GetProperty("probability").GetSingle(),
                        new Box(c[0].GetSingle() * s, c[1].GetSingle() * s, c[2].GetSingle() * s, c[3].GetSingle() * s)));
                }
            }
        }
        new BoxesFilter(new BoxesOptions { Labels = true, Keypoints = false }).Apply(image, 0, detections);
        return image.ImEncode(".jpg", new ImageEncodingParam(ImwriteFlags.JpegQuality, 90));
    }

    /// <summary>Frame <paramref name="frame"/> (presentation order, as Reel numbers frames), upright, as BGR: decoded from its keyframe.</summary>
    private static Mat? Decode(VideoSource source, int frame)
    {
        var segment = SegmentPlanner.Plan(source, [frame], 1).Single();
        using var decoder = new VideoDecoder();
        var segmentDecoder = decoder.Start(segment, decoderThreads: 1);
        if (!segmentDecoder.TryNext(out _))
        {
            return null;
        }
        // The size the analysis saw, so every frame image of an analysis has one size, kept or decoded here.
        var scale = Math.Min(1.0, (double)AnalysisSize / Math.Max(source.UprightWidth, source.UprightHeight));
        using var coded = new FrameImage(PixelLayout.Bgr24, Math.Max(2, (int)Math.Round(source.Width * scale)), Math.Max(2, (int)Math.Round(source.Height * scale)));
        segmentDecoder.Convert(coded);
        using var view = PictureMats.View(coded);
        if (source.Rotation == 0)
        {
            return view.Clone();
        }
        var upright = new Mat();
        Cv2.Rotate(view, upright, source.Rotation switch
        {
            90 => RotateFlags.Rotate90Clockwise,
            180 => RotateFlags.Rotate180,
            _ => RotateFlags.Rotate90Counterclockwise,
        });
        return upright;
    }

    /// <summary>Keeps a drawn frame, forgetting the oldest ones past the memory budget.</summary>
    private void Keep(string key, byte[] jpeg)
    {
        lock (_imagesLock)
        {
            if (!_images.TryAdd(key, jpeg))
            {
                return;
            }
            _imageOrder.Enqueue(key);
            _imageBytes += jpeg.Length;
            while (_imageBytes > ImageBytesKept && _imageOrder.TryDequeue(out var oldest))
            {
                if (_images.Remove(oldest, out var removed))
                {
                    _imageBytes -= removed.Length;
                }
            }
        }
    }

    /// <summary>Forgets everything cached of one video (when its analysis is deleted).</summary>
    public void Forget(string directory)
    {
        foreach (var probe in _probes.Keys.Where(k => k.StartsWith(directory, StringComparison.Ordinal)))
        {
            _probes.TryRemove(probe, out _);
        }
        lock (_imagesLock)
        {
            foreach (var image in _images.Keys.Where(k => k.StartsWith(directory, StringComparison.Ordinal)).ToList())
            {
                _imageBytes -= _images[image].Length;
                _images.Remove(image);
            }
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    public void Dispose() => _renders.Dispose();
}
