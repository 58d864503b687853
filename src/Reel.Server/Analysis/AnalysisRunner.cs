using System.Threading.Channels;
using Reel.Data;
using Reel.Media;
using Reel.Media.Extraction;
using Reel.Media.Sampling;
using Reel.Operators.Analysis;
using Reel.Pipelines.Jobs;

namespace Reel.Server.Analysis;

/// <summary>
/// Runs requested analyses in the background, several at once (bounded): fetch the video (within its timeouts),
/// check its limits, analyze every <c>frameStep</c>-th frame with the requested models, then store the rows.
/// Results, progress and the greatest frame's image are stored in batches as frames finish (<see cref="StreamedResults"/>). Analyses a stopped server left pending or
/// half done start again when it starts.
/// </summary>
public sealed class AnalysisRunner(AnalysisStore store, VideoFetcher fetcher, ServerOptions options, ServerData data, ILogger<AnalysisRunner> logger)
    : BackgroundService
{
    private readonly Channel<Guid> _queue = Channel.CreateUnbounded<Guid>();

    public string Directory(Guid id) => Path.Combine(options.DataDirectory, "analyses", id.ToString("D"));

    /// <summary>The fetched source video of an analysis, once there.</summary>
    public string? SourceOf(Guid id) => System.IO.Directory.Exists(Directory(id))
        ? System.IO.Directory.EnumerateFiles(Directory(id), "source.*").FirstOrDefault()
        : null;

    /// <summary>How an analysis of an uploaded video names it: <c>upload:&lt;file name&gt;</c>.</summary>
    public const string UploadScheme = "upload:";

    public void Enqueue(Guid id) => _queue.Writer.TryWrite(id);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var unfinished in (await store.ListAsync(null, stoppingToken)).Where(a => a.Status is AnalysisStatus.Pending or AnalysisStatus.Processing))
        {
            if (unfinished.VideoUrl.StartsWith("rtmp://", StringComparison.Ordinal))
            {
                // Its stream went with the server that received it.
                await store.SetStatusAsync(unfinished.Id, AnalysisStatus.Failed, "the server stopped during the live stream", stoppingToken);
                continue;
            }
            Enqueue(unfinished.Id);
        }
        await ReportSelfAsync(stoppingToken);
        // Several analyses at once, so a slow or stalled download never holds up the others; the analyzing itself
        // (every core but one) goes one at a time.
        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, options.MaxConcurrentAnalyses)).Select(_ => Task.Run(() => WorkAsync(stoppingToken), CancellationToken.None)));
    }

    private readonly SemaphoreSlim _analyzing = new(1, 1);
    private readonly Lock _counters = new();

    private async Task WorkAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var id in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                await RunOneAsync(id, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task RunOneAsync(Guid id, CancellationToken stoppingToken)
    {
        if (await store.GetAsync(id, stoppingToken) is not { } analysis)
        {
            return;
        }
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Interlocked.Increment(ref _running);
        try
        {
            await store.SetStatusAsync(id, AnalysisStatus.Processing, null, stoppingToken);
            await ReportSelfAsync(stoppingToken);
            Interlocked.Add(ref _frames, await RunAsync(analysis, stoppingToken));
            await store.SetStatusAsync(id, AnalysisStatus.Completed, null, stoppingToken);
            Interlocked.Increment(ref _done);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            var reason = e is RequestRefusedException or MediaException or IOException or HttpRequestException ? e.Message : e.ToString();
            logger.LogWarning("analysis {Id} failed: {Reason}", id, reason);
            if (await store.GetAsync(id, CancellationToken.None) is not null)
            {
                await store.SetStatusAsync(id, AnalysisStatus.Failed, reason.Split('\n')[0], CancellationToken.None);
            }
            Interlocked.Increment(ref _failed);
        }
        finally
        {
            Interlocked.Decrement(ref _running);
        }
        lock (_counters)
        {
            _busySeconds += clock.Elapsed.TotalSeconds;
        }
        await ReportSelfAsync(CancellationToken.None);
    }

    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private long _done;
    private int _running;
    private long _failed;
    private long _frames;
    private double _busySeconds;

    /// <summary>Tells the server's data how the analysis worker stands, for <c>/api/v1/workers</c> and the dashboard.</summary>
    private async Task ReportSelfAsync(CancellationToken cancellationToken)
    {
        var (host, address) = PipelineStore.ThisMachine();
        await using var opened = await data.OpenAsync(cancellationToken);
        var pipelines = await PipelineStore.OpenAsync(opened, cancellationToken);
        await pipelines.ReportWorkerAsync(
            new WorkerInfo($"{host}/{Environment.ProcessId}/analyses", "analyses", host, address, Math.Max(1, options.MaxConcurrentAnalyses),
                Volatile.Read(ref _running), Interlocked.Read(ref _done), Interlocked.Read(ref _failed), Interlocked.Read(ref _frames), _busySeconds, _started,
                DateTimeOffset.UtcNow),
            cancellationToken);
    }

    /// <returns>How many frames were analyzed.</returns>
    private async Task<int> RunAsync(AnalysisRecord analysis, CancellationToken cancellationToken)
    {
        var directory = Directory(analysis.Id);
        if (System.IO.Directory.Exists(Path.Combine(directory, "out")))
        {
            System.IO.Directory.Delete(Path.Combine(directory, "out"), recursive: true);
        }
        System.IO.Directory.CreateDirectory(directory);
        string source;
        if (analysis.VideoUrl.StartsWith(UploadScheme, StringComparison.Ordinal))
        {
            source = SourceOf(analysis.Id) ?? throw new IOException("the uploaded video is gone");
        }
        else
        {
            var url = fetcher.Parse(analysis.VideoUrl);
            var extension = Path.GetExtension(url.AbsolutePath) is { Length: > 1 and <= 6 } e ? e : ".mp4";
            source = Path.Combine(directory, "source" + extension);
            await fetcher.FetchAsync(url, source, cancellationToken);
        }
        var probe = VideoProbe.Probe(source, cancellationToken);
        var duration = TimeSpan.FromSeconds(probe.RelativeSeconds(probe.EndPts));
        if (duration > options.MaxVideoDuration)
        {
            File.Delete(source);
            throw new RequestRefusedException($"the video lasts {duration:g}, over the {options.MaxVideoDuration:g} limit");
        }
        await _analyzing.WaitAsync(cancellationToken);
        try
        {
            return await AnalyzeAsync(analysis, source, probe, directory, cancellationToken);
        }
        finally
        {
            _analyzing.Release();
        }
    }

    /// <summary>The folder of an analysis's kept frame images (<c>{n}.jpg</c>, seed frame numbers).</summary>
    public string FramesDirectory(Guid id) => Path.Combine(Directory(id), "frames");

    private async Task<int> AnalyzeAsync(AnalysisRecord analysis, string source, VideoSource probe, string directory, CancellationToken cancellationToken)
    {
        // A run starts from nothing: what a stopped server stored of it goes.
        await store.ClearResultsAsync(analysis.Id, cancellationToken);
        if (System.IO.Directory.Exists(FramesDirectory(analysis.Id)))
        {
            System.IO.Directory.Delete(FramesDirectory(analysis.Id), recursive: true);
        }
        var analyzeOptions = AnalyzeOptionsFor(analysis, Path.Combine(directory, "out"), SeedApi.Sampling(probe, analysis.FrameStep));
        await using var streamed = new StreamedResults(store, analysis.Id, FramesDirectory(analysis.Id), cancellationToken);
        var result = (await new VideoAnalyzer(analyzeOptions, streamed).RunAsync([source], cancellationToken)).Single();
        await streamed.CompleteAsync();
        if (result.Outcome == VideoOutcome.Failed)
        {
            throw new IOException(result.Error ?? "the analysis failed");
        }
        // The written results are the whole run's (a still image is not streamed): they replace what was streamed.
        var rows = ResultRows.Read(Path.Combine(result.OutputDirectory, ResultRows.FileName));
        await store.SaveResultsAsync(analysis.Id, rows, replace: true, cancellationToken);
        await store.SetProgressAsync(analysis.Id, rows.Count == 0 ? -1 : rows.Max(r => r.Frame), cancellationToken);
        await store.SetCountsAsync(analysis.Id, result.FramesPlanned, result.FramesWritten, cancellationToken);
        return result.FramesWritten;
    }

    /// <summary>Reel's analysis options for an analysis's models.</summary>
    internal AnalyzeOptions AnalyzeOptionsFor(AnalysisRecord analysis, string outputDirectory, FrameSampling sampling) => new()
    {
        OutputDirectory = outputDirectory,
        Models = analysis.Models.Select(m => SeedModels.TryGetReelModel(m, out var reel) ? reel : m).ToList(),
        Sampling = sampling,
        ObjectModel = options.ObjectModel,
        EmotionModel = options.EmotionModel,
        Overwrite = true,
        ColorCount = SeedApi.ColorCount,
        // One core stays free for requests: a server busy analyzing still answers status calls at once.
        Workers = Math.Max(1, Environment.ProcessorCount - 1),
    };
}
