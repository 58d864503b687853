using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Reel.Media;
using Reel.Media.Extraction;
using Reel.Media.Sampling;
using Reel.Operators.Analysis;

namespace Reel.Server.Analysis;

/// <summary>
/// Live analyses: each one gets its own RTMP endpoint, an <c>ffmpeg -listen</c> process that takes the pushed
/// stream and cuts it, without re-encoding, into short segments at keyframes (and keeps the whole recording for
/// frame images). Each segment is analyzed as soon as the next one starts, so results appear while the stream is
/// live; the analysis completes when the stream ends. Streams are independent, so several can run at once.
/// </summary>
public sealed class LiveStreams(AnalysisStore store, AnalysisRunner runner, ServerOptions options, ILogger<LiveStreams> logger) : IDisposable
{
    /// <summary>How long an endpoint waits for a stream before the analysis fails.</summary>
    private static readonly TimeSpan WaitForStream = TimeSpan.FromMinutes(10);

    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Process> _listeners = [];

    /// <summary>
    /// Opens an endpoint on <paramref name="address"/> and starts watching it; returns its rtmp:// URL for
    /// <paramref name="host"/> once ffmpeg listens, so a client may push at once.
    /// </summary>
    public async Task<string> OpenAsync(AnalysisRecord analysis, IPAddress address, string host, CancellationToken cancellationToken)
    {
        lock (_listeners)
        {
            _listeners.RemoveAll(l => l.HasExited);
            if (_listeners.Count >= options.MaxLiveStreams)
            {
                throw new RequestRefusedException(
                    $"{options.MaxLiveStreams} live streams are already open; try again when one ends", StatusCodes.Status429TooManyRequests);
            }
        }
        var port = FreePort(address);
        var directory = runner.Directory(analysis.Id);
        var segments = Path.Combine(directory, "live");
        Directory.CreateDirectory(segments);
        var path = $"live/{analysis.Id:D}";
        var start = Media.ChildGuard.StartInfo("ffmpeg",
        [
            "-nostdin", "-v", "error", "-listen", "1", "-timeout", ((int)WaitForStream.TotalSeconds).ToString(CultureInfo.InvariantCulture),
            "-i", $"rtmp://{(address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString())}:{port}/{path}",
            "-map", "0:v:0", "-c", "copy", "-f", "segment", "-segment_time", "1", "-segment_format", "mpegts", "-reset_timestamps", "1",
            Path.Combine(segments, "%06d.ts"),
            "-map", "0:v:0", "-c", "copy", "-f", "mpegts", Path.Combine(directory, "source.ts"),
        ]);
        start.RedirectStandardError = true;
        start.RedirectStandardInput = true;
        var listener = Process.Start(start)!;
        lock (_listeners)
        {
            _listeners.Add(listener);
        }
        _ = Task.Run(() => WatchAsync(analysis, listener, segments, _stopping.Token));
        await WaitUntilListeningAsync(port, listener, cancellationToken);
        var shownHost = host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]" : host;
        return $"rtmp://{shownHost}:{port}/{path}";
    }

    private async Task WatchAsync(AnalysisRecord analysis, Process listener, string segments, CancellationToken cancellationToken)
    {
        var error = listener.StandardError.ReadToEndAsync(cancellationToken);
        var next = 0;
        var frameOffset = 0;
        var timeOffset = 0.0;
        try
        {
            while (true)
            {
                var ended = listener.HasExited;
                var files = Directory.EnumerateFiles(segments, "*.ts").Order(StringComparer.Ordinal).ToList();
                // A segment is complete once a later one exists, or once the stream has ended.
                var complete = ended ? files.Count : files.Count - 1;
                for (; next < complete; next++)
                {
                    if (next == 0)
                    {
                        await store.SetStatusAsync(analysis.Id, AnalysisStatus.Processing, null, cancellationToken);
                    }
                    (frameOffset, timeOffset) = await AnalyzeSegmentAsync(analysis, files[next], frameOffset, timeOffset, cancellationToken);
                }
                if (ended)
                {
                    break;
                }
                await Task.Delay(200, cancellationToken);
            }
            await listener.WaitForExitAsync(cancellationToken);
            if (next == 0)
            {
                var reason = (await error).Trim();
                await store.SetStatusAsync(analysis.Id, AnalysisStatus.Failed,
                    "no stream was received" + (reason.Length > 0 ? $": {reason.Split('\n')[^1]}" : ""), CancellationToken.None);
                return;
            }
            await store.SetStatusAsync(analysis.Id, AnalysisStatus.Completed, null, CancellationToken.None);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The server is stopping; a restarted server analyzes what was recorded.
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "live analysis {Id} failed", analysis.Id);
            await store.SetStatusAsync(analysis.Id, AnalysisStatus.Failed, e.Message.Split('\n')[0], CancellationToken.None);
            listener.Kill(entireProcessTree: true);
        }
    }

    /// <summary>Analyzes one segment; its frames are numbered on from the segments before it, and every frameStep-th is kept.</summary>
    private async Task<(int Frames, double Seconds)> AnalyzeSegmentAsync(
        AnalysisRecord analysis, string segment, int frameOffset, double timeOffset, CancellationToken cancellationToken)
    {
        var probe = VideoProbe.Probe(segment, cancellationToken);
        var output = Path.Combine(Path.GetDirectoryName(segment)!, Path.GetFileNameWithoutExtension(segment));
        var options = runner.AnalyzeOptionsFor(analysis, output, FrameSampling.AllFrames);
        var result = (await new VideoAnalyzer(options).RunAsync([segment], cancellationToken)).Single();
        if (result.Outcome == VideoOutcome.Failed)
        {
            throw new IOException($"segment {Path.GetFileName(segment)}: {result.Error}");
        }
        var all = ResultRows.Read(Path.Combine(result.OutputDirectory, ResultRows.FileName));
        // Segments carry the stream's timestamps with a muxer's offset: times count from the segment's first frame.
        var first = all.Count == 0 ? 0 : all.Min(r => r.Timestamp);
        var rows = all
            .Select(r => r with { Frame = r.Frame + frameOffset, Timestamp = r.Timestamp - first + timeOffset })
            .Where(r => r.Frame % analysis.FrameStep == 0)
            .ToList();
        await store.SaveResultsAsync(analysis.Id, rows, replace: false, cancellationToken);
        if (rows.Count > 0)
        {
            await store.SetProgressAsync(analysis.Id, rows.Max(r => r.Frame), cancellationToken);
        }
        var frames = probe.Frames.Count;
        var seconds = frames / ((double)probe.FrameRate.Numerator / probe.FrameRate.Denominator);
        return (frameOffset + frames, timeOffset + seconds);
    }

    /// <summary>
    /// Waits for the port to appear as listening in /proc/net/tcp(6). Connecting to find out would take the one
    /// connection <c>ffmpeg -listen 1</c> accepts.
    /// </summary>
    private static async Task WaitUntilListeningAsync(int port, Process listener, CancellationToken cancellationToken)
    {
        var portHex = $":{port:X4} ";
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10) && !listener.HasExited)
        {
            foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
            {
                if (File.Exists(table) && File.ReadLines(table).Skip(1).Any(line =>
                {
                    var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return fields.Length > 3 && (fields[1] + " ").EndsWith(portHex, StringComparison.Ordinal) && fields[3] == "0A";
                }))
                {
                    return;
                }
            }
            await Task.Delay(20, cancellationToken);
        }
        throw new IOException($"ffmpeg did not start listening on port {port}");
    }

    private static int FreePort(IPAddress address)
    {
        using var probe = new TcpListener(address, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    public void Dispose()
    {
        _stopping.Cancel();
        lock (_listeners)
        {
            foreach (var listener in _listeners.Where(l => !l.HasExited))
            {
                listener.Kill(entireProcessTree: true);
            }
        }
        _stopping.Dispose();
    }
}
