using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Reel.Media;
using Reel.Media.Extraction;
using Reel.Media.Sampling;
using Reel.Operators.Analysis;

namespace Reel.Server.Analysis;

/// <summary>
/// Live analyses: each one gets its own RTMP endpoint, an <c>ffmpeg -listen</c> process that takes the pushed
/// stream and cuts it, without re-encoding, into short segments at keyframes (and keeps the whole recording for
/// frame images). Each segment is analyzed as soon as the next one starts, so results appear while the stream is
/// live; the analysis completes when the stream ends. Streams are independent, so several can run at once. The
/// endpoint's URL ends in a random stream key that a push must name; each stream has a size and a duration cap.
/// </summary>
public sealed class LiveStreams(AnalysisStore store, AnalysisJobs jobs, ServerOptions options, ILogger<LiveStreams> logger) : IDisposable
{
    /// <summary>How long an endpoint waits for a stream before the analysis fails.</summary>
    private static readonly TimeSpan WaitForStream = TimeSpan.FromMinutes(10);

    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<Guid, Listener> _listeners = new();
    private readonly Lock _slots = new();
    private int _open;

    /// <summary>The port the next endpoint takes (tests hand one that is taken); a free one otherwise.</summary>
    internal Func<IPAddress, int> PortFor { get; set; } = FreePort;

    /// <summary>
    /// Opens an endpoint on <paramref name="address"/> and starts watching it; returns its rtmp:// URL for
    /// <paramref name="host"/> once ffmpeg listens, so a client may push at once. The URL's last part is a random
    /// stream key: a push to any other path is refused, and the endpoint keeps waiting for the right one.
    /// </summary>
    /// <exception cref="RequestRefusedException">Too many streams are open (429), or the endpoint cannot open (503); nothing is left behind.</exception>
    public async Task<string> OpenAsync(AnalysisRecord analysis, IPAddress address, string host, CancellationToken cancellationToken)
    {
        lock (_slots)
        {
            // The slot is taken here, under the lock, and given back when the stream ends: no two requests race past the cap.
            if (_open >= options.MaxLiveStreams)
            {
                throw new RequestRefusedException(
                    $"{options.MaxLiveStreams} live streams are already open; try again when one ends", StatusCodes.Status429TooManyRequests);
            }
            _open++;
        }
        var directory = jobs.Directory(analysis.Id);
        var key = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        Listener? listener = null;
        try
        {
            var port = PortFor(address);
            listener = Listener.Start(address, port, key, directory, WaitForStream);
            _listeners[analysis.Id] = listener;
            await WaitUntilListeningAsync(port, listener.Process, cancellationToken);
            _ = Task.Run(() => WatchAsync(analysis, listener, _stopping.Token), CancellationToken.None);
            var shownHost = host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]" : host;
            return $"rtmp://{shownHost}:{port}/live/{key}";
        }
        catch (Exception e)
        {
            _listeners.TryRemove(analysis.Id, out _);
            listener?.Stop();
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
            ReleaseSlot();
            if (e is OperationCanceledException)
            {
                throw;
            }
            logger.LogWarning("live endpoint for {Id} did not open: {Reason}", analysis.Id, e.Message);
            throw new RequestRefusedException($"the RTMP endpoint could not be opened: {e.Message.Split('\n')[0]}", StatusCodes.Status503ServiceUnavailable);
        }
    }

    private void ReleaseSlot()
    {
        lock (_slots)
        {
            _open--;
        }
    }

    private async Task WatchAsync(AnalysisRecord analysis, Listener listener, CancellationToken cancellationToken)
    {
        var next = 0;
        var frameOffset = 0;
        var timeOffset = 0.0;
        string? capped = null;
        try
        {
            var deadline = DateTimeOffset.UtcNow + WaitForStream;
            while (true)
            {
                var verdict = await listener.Verdict.WaitAsync(cancellationToken);
                if (verdict == Verdict.Accepted)
                {
                    break;
                }
                if (verdict == Verdict.Ended || DateTimeOffset.UtcNow >= deadline)
                {
                    await listener.Process.WaitForExitAsync(cancellationToken);
                    var reason = listener.LastError;
                    await store.SetStatusAsync(analysis.Id, AnalysisStatus.Failed,
                        "no stream was received" + (reason is null ? "" : $": {reason}"), CancellationToken.None);
                    return;
                }
                // A push to another path than the stream key: drop what it sent and listen again for the right one.
                logger.LogWarning("live analysis {Id}: refused a push with the wrong stream key", analysis.Id);
                listener.Stop();
                await listener.Process.WaitForExitAsync(cancellationToken);
                listener.DeleteRecording();
                listener = listener.Restart(deadline - DateTimeOffset.UtcNow);
                _listeners[analysis.Id] = listener;
                await WaitUntilListeningAsync(listener.Port, listener.Process, cancellationToken);
            }

            var segments = listener.Segments;
            var recording = Path.Combine(jobs.Directory(analysis.Id), "source.ts");
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (true)
            {
                var ended = listener.Process.HasExited;
                if (!ended && capped is null)
                {
                    if (File.Exists(recording) && new FileInfo(recording).Length > options.MaxLiveBytes)
                    {
                        capped = $"the stream went over the {options.MaxLiveBytes}-byte limit";
                    }
                    else if (clock.Elapsed > options.MaxLiveDuration)
                    {
                        capped = $"the stream went over the {options.MaxLiveDuration:g} limit";
                    }
                    if (capped is not null)
                    {
                        listener.Stop();
                        await listener.Process.WaitForExitAsync(cancellationToken);
                        ended = true;
                    }
                }
                var files = Directory.EnumerateFiles(segments, "*.ts").Order(StringComparer.Ordinal).ToList();
                // A segment is complete once a later one exists, or once the stream has ended.
                var complete = ended ? files.Count : files.Count - 1;
                for (; next < complete; next++)
                {
                    if (next == 0)
                    {
                        await store.SetStatusAsync(analysis.Id, AnalysisStatus.Processing, null, cancellationToken);
                    }
                    try
                    {
                        (frameOffset, timeOffset) = await AnalyzeSegmentAsync(analysis, files[next], frameOffset, timeOffset, cancellationToken);
                    }
                    catch (Exception e) when (capped is not null && next == complete - 1 && e is MediaException or IOException)
                    {
                        // The listener was stopped at the cap while it wrote this last segment: what it holds is cut off.
                    }
                }
                if (ended)
                {
                    break;
                }
                await Task.Delay(200, cancellationToken);
            }
            await listener.Process.WaitForExitAsync(cancellationToken);
            if (next == 0)
            {
                await store.SetStatusAsync(analysis.Id, AnalysisStatus.Failed,
                    capped ?? ("no stream was received" + (listener.LastError is { } reason ? $": {reason}" : "")), CancellationToken.None);
                return;
            }
            await store.SetStatusAsync(analysis.Id, capped is null ? AnalysisStatus.Completed : AnalysisStatus.Failed,
                capped is null ? null : $"{capped}; analyzed up to frame {frameOffset - 1}", CancellationToken.None);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The server is stopping; a restarted server analyzes what was recorded.
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "live analysis {Id} failed", analysis.Id);
            listener.Stop();
            await store.SetStatusAsync(analysis.Id, AnalysisStatus.Failed, e.Message.Split('\n')[0], CancellationToken.None);
        }
        finally
        {
            _listeners.TryRemove(new KeyValuePair<Guid, Listener>(analysis.Id, listener));
            ReleaseSlot();
        }
    }

    private enum Verdict
    {
        /// <summary>A stream with the right key is coming in.</summary>
        Accepted,

        /// <summary>A push to another path: ffmpeg only warns ("Unexpected stream", "App field don't match up") and would record it.</summary>
        WrongKey,

        /// <summary>The listener ended without a stream (timeout, error).</summary>
        Ended,
    }

    /// <summary>One <c>ffmpeg -listen</c> process, and what its log says about the push it took.</summary>
    private sealed class Listener
    {
        private readonly TaskCompletionSource<Verdict> _verdict = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly IPAddress _address;
        private readonly int _port;
        private readonly string _key;
        private readonly string _directory;

        private Listener(IPAddress address, int port, string key, string directory, Process process)
        {
            (_address, _port, _key, _directory, Process) = (address, port, key, directory, process);
            _ = Task.Run(ReadLogAsync);
        }

        public Process Process { get; }

        public int Port => _port;

        public Task<Verdict> Verdict => _verdict.Task;

        public string Segments => Path.Combine(_directory, "live");

        /// <summary>The last line ffmpeg logged, for a failure's reason.</summary>
        public string? LastError { get; private set; }

        public static Listener Start(IPAddress address, int port, string key, string directory, TimeSpan wait)
        {
            var segments = Path.Combine(directory, "live");
            Directory.CreateDirectory(segments);
            var start = Media.ChildGuard.StartInfo("ffmpeg",
            [
                "-nostdin", "-hide_banner", "-nostats", "-v", "info",
                "-listen", "1", "-timeout", ((int)Math.Max(1, wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture),
                // FLV names its codec up front: half a second of probing, not the default five, before the first segment is cut.
                "-analyzeduration", "500000",
                "-i", $"rtmp://{(address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString())}:{port}/live/{key}",
                "-map", "0:v:0", "-c", "copy", "-f", "segment", "-segment_time", "1", "-segment_format", "mpegts", "-reset_timestamps", "1",
                Path.Combine(segments, "%06d.ts"),
                "-map", "0:v:0", "-c", "copy", "-f", "mpegts", Path.Combine(directory, "source.ts"),
            ]);
            start.RedirectStandardError = true;
            return new Listener(address, port, key, directory, Process.Start(start)!);
        }

        public Listener Restart(TimeSpan wait) => Start(_address, _port, _key, _directory, wait);

        public void Stop()
        {
            try
            {
                Process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }

        /// <summary>Removes what a refused push left: its segments and recording.</summary>
        public void DeleteRecording()
        {
            foreach (var file in Directory.EnumerateFiles(Segments))
            {
                File.Delete(file);
            }
            File.Delete(Path.Combine(_directory, "source.ts"));
        }

        /// <summary>
        /// The key check happens while ffmpeg opens its input, before it describes the input ("Input #0"): a push is
        /// accepted only once that line comes without a warning about the path before it.
        /// </summary>
        private async Task ReadLogAsync()
        {
            string? line;
            while ((line = await Process.StandardError.ReadLineAsync()) is not null)
            {
                if (line.Contains("Unexpected stream", StringComparison.Ordinal) || line.Contains("App field don't match up", StringComparison.Ordinal))
                {
                    _verdict.TrySetResult(LiveStreams.Verdict.WrongKey);
                }
                else if (line.StartsWith("Input #0", StringComparison.Ordinal))
                {
                    _verdict.TrySetResult(LiveStreams.Verdict.Accepted);
                }
                if (line.Contains("error", StringComparison.OrdinalIgnoreCase) || line.Contains("timed out", StringComparison.OrdinalIgnoreCase))
                {
                    LastError = line.Trim();
                }
            }
            _verdict.TrySetResult(LiveStreams.Verdict.Ended);
        }
    }

    /// <summary>Analyzes one segment; its frames are numbered on from the segments before it, and every frameStep-th is kept.</summary>
    private async Task<(int Frames, double Seconds)> AnalyzeSegmentAsync(
        AnalysisRecord analysis, string segment, int frameOffset, double timeOffset, CancellationToken cancellationToken)
    {
        var probe = VideoProbe.Probe(segment, cancellationToken);
        var output = Path.Combine(Path.GetDirectoryName(segment)!, Path.GetFileNameWithoutExtension(segment));
        var options = jobs.AnalyzeOptionsFor(analysis, output, FrameSampling.AllFrames);
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
            .Where(r => SeedApi.IsAnalyzed(r.Frame, analysis.FrameStep))
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
    /// Waits for the port to appear as listening in /proc/net/tcp(6), on a socket of the listener's own processes (so
    /// a port someone else holds does not pass for ours). Connecting to find out would take the one connection
    /// <c>ffmpeg -listen 1</c> accepts.
    /// </summary>
    private static async Task WaitUntilListeningAsync(int port, Process listener, CancellationToken cancellationToken)
    {
        var portHex = $":{port:X4} ";
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10) && !listener.HasExited)
        {
            var sockets = SocketsOf(listener.Id);
            foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
            {
                if (File.Exists(table) && File.ReadLines(table).Skip(1).Any(line =>
                {
                    var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return fields.Length > 9 && (fields[1] + " ").EndsWith(portHex, StringComparison.Ordinal) && fields[3] == "0A" && sockets.Contains(fields[9]);
                }))
                {
                    return;
                }
            }
            await Task.Delay(20, cancellationToken);
        }
        throw new IOException(listener.HasExited ? $"ffmpeg could not listen on port {port}" : $"ffmpeg did not start listening on port {port}");
    }

    /// <summary>The socket inodes open in a process and its children (ffmpeg runs under reel-guard).</summary>
    private static HashSet<string> SocketsOf(int pid)
    {
        var sockets = new HashSet<string>(StringComparer.Ordinal);
        var processes = new List<int> { pid };
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var id)
                    && File.ReadAllText(Path.Combine(directory, "stat")) is var stat
                    && stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1] == pid.ToString(CultureInfo.InvariantCulture))
                {
                    processes.Add(id);
                }
            }
            catch (IOException)
            {
                // Gone meanwhile.
            }
        }
        foreach (var process in processes)
        {
            try
            {
                foreach (var fd in Directory.EnumerateFileSystemEntries($"/proc/{process}/fd"))
                {
                    if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("socket:[", StringComparison.Ordinal))
                    {
                        sockets.Add(target[8..^1]);
                    }
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Gone meanwhile.
            }
        }
        return sockets;
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
        foreach (var listener in _listeners.Values)
        {
            listener.Stop();
        }
        _stopping.Dispose();
    }
}
