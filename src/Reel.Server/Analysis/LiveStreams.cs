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
/// frame images). Each segment is committed to the analysis's input repo as soon as the next one starts, and the
/// engine analyzes it as a datum of the analysis's pipeline, so results appear while the stream is live (each job's,
/// as it ends); the analysis completes when the stream ends and the last segment's job has. Streams are independent, so several can run at once. The
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
        var job = new SegmentJob(analysis, jobs, store);
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
            // The caps are watched on their own: committing segments and collecting results must not delay a cut-off.
            var caps = WatchCapsAsync(listener, recording, cancellationToken);
            while (true)
            {
                // The watch ends when the listener does, by itself or cut off at a cap.
                var ended = caps.IsCompleted;
                if (ended)
                {
                    capped = await caps;
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
                        await job.AddAsync(files[next], cancellationToken);
                    }
                    catch (Exception e) when (capped is not null && next == complete - 1 && e is MediaException or IOException)
                    {
                        // The listener was stopped at the cap while it wrote this last segment: what it holds is cut off.
                    }
                }
                await job.CollectAsync(capped is not null, cancellationToken);
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
            await job.CollectAllAsync(capped is not null, cancellationToken);
            await store.SetStatusAsync(analysis.Id, capped is null ? AnalysisStatus.Completed : AnalysisStatus.Failed,
                capped is null ? null : $"{capped}; analyzed up to frame {job.Frames - 1}", CancellationToken.None);
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

    /// <summary>Stops the listener once the recording passes the size cap or the stream the duration cap, and says which; null when the stream ended by itself.</summary>
    private async Task<string?> WatchCapsAsync(Listener listener, string recording, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        while (!listener.Process.HasExited)
        {
            var capped = File.Exists(recording) && new FileInfo(recording).Length > options.MaxLiveBytes
                ? $"the stream went over the {options.MaxLiveBytes}-byte limit"
                : clock.Elapsed > options.MaxLiveDuration ? $"the stream went over the {options.MaxLiveDuration:g} limit"
                : null;
            if (capped is not null)
            {
                listener.Stop();
                await listener.Process.WaitForExitAsync(cancellationToken);
                return capped;
            }
            await Task.Delay(100, cancellationToken);
        }
        return null;
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

    /// <summary>
    /// A live analysis's segments as datums of its pipeline's jobs: each complete segment is committed to the input repo
    /// (one commit each; the engine runs a job for the commits that came in since its last), and each job's results are
    /// collected in segment order, their frames numbered on from the segments before and every frameStep-th kept.
    /// </summary>
    private sealed class SegmentJob(AnalysisRecord analysis, AnalysisJobs jobs, AnalysisStore store)
    {
        private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

        private readonly List<(string Name, int FrameOffset, double TimeOffset)> _segments = [];
        private int _collected;
        private string? _lastCommit;
        private double _seconds;

        /// <summary>The frames of the segments committed so far.</summary>
        public int Frames { get; private set; }

        /// <summary>Commits a complete segment; the first one creates the pipeline (every frame analyzed: the step is applied across segments).</summary>
        public async Task AddAsync(string segment, CancellationToken cancellationToken)
        {
            var probe = VideoProbe.Probe(segment, cancellationToken);
            jobs.MarkLive(analysis.Id);
            _lastCommit = await jobs.CommitAsync(analysis.Id, segment, cancellationToken);
            if (_segments.Count == 0)
            {
                await jobs.CreatePipelineAsync(analysis, FrameSampling.AllFrames, cancellationToken);
            }
            _segments.Add((Path.GetFileName(segment), Frames, _seconds));
            var frames = probe.Frames.Count;
            Frames += frames;
            _seconds += frames / ((double)probe.FrameRate.Numerator / probe.FrameRate.Denominator);
        }

        /// <summary>Stores the results of segments whose datums a finished job holds; true once every committed segment's are stored.</summary>
        /// <param name="capped">The stream was cut off at a cap: its last segment may be cut short, and its failure is no failure.</param>
        /// <exception cref="IOException">A segment's datum failed.</exception>
        public async Task<bool> CollectAsync(bool capped, CancellationToken cancellationToken)
        {
            if (_collected == _segments.Count || await jobs.LatestFinishedJobAsync(analysis.Id, cancellationToken) is not { } finished)
            {
                return _collected == _segments.Count;
            }
            for (; _collected < _segments.Count; _collected++)
            {
                var (name, frameOffset, timeOffset) = _segments[_collected];
                if (await jobs.ReadRowsAsync(finished.Outputs, name, cancellationToken) is not { } all)
                {
                    if (finished.Failed is { } failed && failed.Files.Any(f => f.Path == "/" + name))
                    {
                        if (capped && _collected == _segments.Count - 1)
                        {
                            continue;
                        }
                        throw new IOException($"segment {name}: {failed.Error}");
                    }
                    break;
                }
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
            }
            if (_collected < _segments.Count && finished.Job.Inputs.Values.Contains(_lastCommit))
            {
                // The job of the last segment ended without some segment's results and without saying why in a datum.
                throw new IOException($"segment {_segments[_collected].Name}: job {finished.Job.Id[..12]} ended {finished.Job.State}"
                    + (finished.Job.Error is { } error ? $": {error}" : ""));
            }
            return _collected == _segments.Count;
        }

        /// <summary>Once the stream has ended: waits for the job that holds the last segment, and stores every segment's results.</summary>
        public async Task CollectAllAsync(bool capped, CancellationToken cancellationToken)
        {
            while (!await CollectAsync(capped, cancellationToken))
            {
                await Task.Delay(PollInterval, cancellationToken);
            }
        }
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
