using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Reel.Data;
using Reel.Media;
using Reel.Media.Sampling;
using Reel.Operators.Analysis;
using Reel.Pipelines.Execution;
using Reel.Pipelines.Jobs;
using Reel.Pipelines.Specs;

namespace Reel.Server.Analysis;

/// <summary>
/// Makes each requested analysis a job of the pipeline engine: the server fetches the video (within its timeouts) or
/// takes the upload, checks its limits, commits it to the analysis's input repo (<see cref="InputRepoOf"/>) and creates
/// the analysis's pipeline (<see cref="PipelineOf"/>: one built-in <c>analyze</c> step with its models and frame
/// sampling). The engine's workers run the job, here or on any node of a cluster, where pipeline jobs show
/// (<c>reel job list</c>, <c>/api/v1/jobs</c>, the dashboard); while this server's engine analyzes it, its rows stream
/// in (<see cref="AnalysisWatcher"/>). When the job ends, its output's <c>results.jsonl</c> becomes the analysis's
/// rows, or its failed datum's reason the analysis's error. Analyses a stopped server left unfetched are fetched again;
/// their jobs the engine resumes by itself.
/// </summary>
public sealed class AnalysisJobs(AnalysisStore store, VideoFetcher fetcher, ServerOptions options, ServerData data, ILogger<AnalysisJobs> logger)
    : BackgroundService
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>How the pipelines and input repos of analyses are named: <c>analysis-&lt;id&gt;</c> and <c>analysis-&lt;id&gt;.video</c>.</summary>
    private const string Prefix = "analysis-";

    private readonly Channel<Guid> _queue = Channel.CreateUnbounded<Guid>();

    public string Directory(Guid id) => AnalysisRetention.DirectoryOf(options.DataDirectory, id);

    /// <summary>The fetched source video of an analysis, once there.</summary>
    public string? SourceOf(Guid id) => System.IO.Directory.Exists(Directory(id))
        ? System.IO.Directory.EnumerateFiles(Directory(id), "source.*").FirstOrDefault(f => !f.EndsWith(".commit", StringComparison.Ordinal))
        : null;

    /// <summary>How an analysis of an uploaded video names it: <c>upload:&lt;file name&gt;</c>.</summary>
    public const string UploadScheme = "upload:";

    /// <summary>The pipeline that analyzes <paramref name="id"/>; its output repo has the same name.</summary>
    public static string PipelineOf(Guid id) => Prefix + id.ToString("N");

    /// <summary>The repo the analysis's video is committed to, the input of its pipeline.</summary>
    public static string InputRepoOf(Guid id) => PipelineOf(id) + ".video";

    /// <summary>The analysis a pipeline of <see cref="PipelineOf"/> analyzes.</summary>
    public static bool TryParsePipeline(string pipeline, out Guid id)
    {
        id = default;
        return pipeline.StartsWith(Prefix, StringComparison.Ordinal) && pipeline.Length == Prefix.Length + 32
            && Guid.TryParseExact(pipeline[Prefix.Length..], "N", out id);
    }

    public void Enqueue(Guid id) => _queue.Writer.TryWrite(id);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, bool> _live = new();

    /// <summary>Marks a live analysis: its segments' frames are numbered once each job ends, so its rows do not stream from the worker.</summary>
    internal void MarkLive(Guid id) => _live[id] = true;

    internal bool IsLive(Guid id) => _live.ContainsKey(id);

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
            if (!await HasPipelineAsync(unfinished.Id, stoppingToken))
            {
                // Not handed to the engine yet: fetch and submit again. One that was is the engine's to resume.
                Enqueue(unfinished.Id);
            }
        }
        // Several fetches at once, so a slow or stalled download never holds up the others.
        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, options.MaxConcurrentAnalyses))
            .Select(_ => Task.Run(() => SubmitLoopAsync(stoppingToken), CancellationToken.None))
            .Append(Task.Run(() => FollowLoopAsync(stoppingToken), CancellationToken.None)));
    }

    private async Task<bool> HasPipelineAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var opened = await data.OpenAsync(cancellationToken);
        return await (await PipelineStore.OpenAsync(opened, cancellationToken)).FindPipelineAsync(PipelineOf(id), cancellationToken) is not null;
    }

    private async Task SubmitLoopAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var id in _queue.Reader.ReadAllAsync(stoppingToken))
            {
                await SubmitOneAsync(id, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task SubmitOneAsync(Guid id, CancellationToken stoppingToken)
    {
        if (await store.GetAsync(id, stoppingToken) is not { } analysis)
        {
            return;
        }
        try
        {
            await store.SetStatusAsync(id, AnalysisStatus.Processing, null, stoppingToken);
            await SubmitAsync(analysis, stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            var reason = e is RequestRefusedException or MediaException or IOException or HttpRequestException or DataException ? e.Message : e.ToString();
            logger.LogWarning("analysis {Id} failed: {Reason}", id, reason);
            await FailAsync(id, reason, CancellationToken.None);
        }
    }

    private async Task FailAsync(Guid id, string reason, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(id, cancellationToken) is not null)
        {
            await store.SetStatusAsync(id, AnalysisStatus.Failed, reason.Split('\n')[0], cancellationToken);
        }
    }

    /// <summary>Fetches the video (or finds the upload), checks its limits, commits it and creates the analysis's pipeline.</summary>
    private async Task SubmitAsync(AnalysisRecord analysis, CancellationToken cancellationToken)
    {
        var directory = Directory(analysis.Id);
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
        // A run starts from nothing: what a stopped server stored of it goes.
        await store.ClearResultsAsync(analysis.Id, cancellationToken);
        if (System.IO.Directory.Exists(FramesDirectory(analysis.Id)))
        {
            System.IO.Directory.Delete(FramesDirectory(analysis.Id), recursive: true);
        }
        await CommitAsync(analysis.Id, source, cancellationToken);
        // The engine's scheduler sees the new pipeline's input commit and starts its job.
        await CreatePipelineAsync(analysis, SeedApi.Sampling(probe, analysis.FrameStep), cancellationToken);
    }

    /// <summary>Commits <paramref name="file"/> to the analysis's input repo (created when missing), under its file name.</summary>
    /// <returns>The commit's id.</returns>
    internal async Task<string> CommitAsync(Guid id, string file, CancellationToken cancellationToken)
    {
        await using var opened = await data.OpenAsync(cancellationToken);
        var repo = InputRepoOf(id);
        if (!(await opened.ListReposAsync(cancellationToken)).Any(r => r.Name == repo))
        {
            await opened.CreateRepoAsync(repo, cancellationToken);
        }
        // The store takes a link to the file (a directory store renames it in: no copy); the server keeps its own name for frame images.
        var staged = file + ".commit";
        File.Delete(staged);
        FileLinks.LinkOrCopy(file, staged);
        StoredObject stored;
        try
        {
            stored = await opened.Objects.PutFileAsync(staged, cancellationToken);
            await opened.Objects.FlushAsync(cancellationToken);
        }
        finally
        {
            File.Delete(staged);
        }
        await using var writer = await opened.BeginCommitAsync(repo, "master", $"{Path.GetFileName(file)} of analysis {id:D}", cancellationToken);
        var path = "/" + Path.GetFileName(file);
        await writer.ApplyAsync([path], [new FileEntry(path, stored.Hash, stored.Size)], cancellationToken);
        return (await writer.FinishAsync(cancellationToken)).Id;
    }

    /// <summary>Creates the analysis's pipeline unless it exists; the engine then runs a job for each new commit of its input.</summary>
    internal async Task CreatePipelineAsync(AnalysisRecord analysis, FrameSampling sampling, CancellationToken cancellationToken)
    {
        await using var opened = await data.OpenAsync(cancellationToken);
        var pipelines = await PipelineStore.OpenAsync(opened, cancellationToken);
        var (text, spec) = Spec(analysis, InputRepoOf(analysis.Id), sampling);
        if (await pipelines.FindPipelineAsync(spec.Name, cancellationToken) is null)
        {
            await pipelines.CreatePipelineAsync(spec, text, "reel serve", options.DataDirectory, cancellationToken);
        }
    }

    /// <summary>
    /// The newest finished job of the analysis's pipeline, with its output files and the reason of a datum that failed
    /// in it (with the file it failed on); null when none has finished.
    /// </summary>
    internal async Task<FinishedJob?> LatestFinishedJobAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var opened = await data.OpenAsync(cancellationToken);
        var pipelines = await PipelineStore.OpenAsync(opened, cancellationToken);
        if (await pipelines.FindPipelineAsync(PipelineOf(id), cancellationToken) is null
            || (await pipelines.ListJobsAsync(PipelineOf(id), cancellationToken)).FirstOrDefault(j => j.IsFinished) is not { } job)
        {
            return null;
        }
        var outputs = job.OutputCommit is { } commit ? await opened.ListFilesAsync(commit, DataPath.Root, cancellationToken) : [];
        var failed = job.State == JobState.Success ? null
            : (await pipelines.ListDatumsAsync(job.Id, cancellationToken)).FirstOrDefault(d => d.State == DatumState.Failed);
        return new FinishedJob(job, outputs, failed);
    }

    /// <summary>A finished job of an analysis: its output files, and its first failed datum.</summary>
    internal sealed record FinishedJob(JobInfo Job, IReadOnlyList<FileEntry> Outputs, DatumInfo? Failed);

    /// <summary>The rows of one video's <c>results.jsonl</c> in a job's output (a folder named after the video).</summary>
    internal async Task<List<AnalysisRow>?> ReadRowsAsync(IReadOnlyList<FileEntry> outputs, string video, CancellationToken cancellationToken)
    {
        if (outputs.FirstOrDefault(f => f.Path == $"/{video}/{ResultRows.FileName}") is not { } results)
        {
            return null;
        }
        await using var opened = await data.OpenAsync(cancellationToken);
        return ResultRows.Read(await opened.Objects.GetLocalPathAsync(results.Hash, cancellationToken));
    }

    /// <summary>The spec of an analysis's pipeline: its video, analyzed once, with the seed's models, frames, colors and timings.</summary>
    internal (string Text, PipelineSpec Spec) Spec(AnalysisRecord analysis, string inputRepo, FrameSampling sampling)
    {
        var analyze = new JsonObject
        {
            ["models"] = new JsonArray(ReelModels(analysis).Select(m => (JsonNode)m).ToArray()),
            ["colors"] = SeedApi.ColorCount,
            // The seed reports every model's inference time.
            ["timings"] = true,
        };
        if (sampling.Mode == SamplingMode.Every)
        {
            analyze["every"] = sampling.Step;
            analyze["start"] = sampling.Start;
        }
        if (options.ObjectModel is { } objects)
        {
            analyze["object_model"] = objects;
        }
        if (options.EmotionModel is { } emotions)
        {
            analyze["emotion_model"] = emotions;
        }
        var spec = new JsonObject
        {
            ["pipeline"] = new JsonObject { ["name"] = PipelineOf(analysis.Id) },
            ["description"] = $"analysis {analysis.Id:D} of {analysis.VideoName} (HTTP API)",
            ["input"] = new JsonObject { ["pfs"] = new JsonObject { ["repo"] = inputRepo, ["branch"] = "master", ["glob"] = "/*" } },
            ["transform"] = new JsonObject { ["steps"] = new JsonArray(new JsonObject { ["analyze"] = analyze }) },
            // A video that cannot be analyzed fails at once, with its reason; a lost node is not a try.
            ["datum_tries"] = 1,
        };
        var text = spec.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        return (text, SpecReader.Parse(text, "reel serve", options.DataDirectory));
    }

    private static List<string> ReelModels(AnalysisRecord analysis) =>
        analysis.Models.Select(m => SeedModels.TryGetReelModel(m, out var reel) ? reel : m).ToList();

    /// <summary>Follows the jobs of submitted analyses until they end.</summary>
    private async Task FollowLoopAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(PollInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await FollowAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    logger.LogWarning("following analysis jobs: {Reason}", e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task FollowAsync(CancellationToken cancellationToken)
    {
        var processing = await store.ListAsync(AnalysisStatus.Processing, cancellationToken);
        if (processing.Count == 0)
        {
            return;
        }
        await using var opened = await data.OpenAsync(cancellationToken);
        var pipelines = await PipelineStore.OpenAsync(opened, cancellationToken);
        foreach (var analysis in processing.Where(a => !a.VideoUrl.StartsWith("rtmp://", StringComparison.Ordinal)))
        {
            // Still being fetched, or its pipeline's job not created yet.
            if (await pipelines.FindPipelineAsync(PipelineOf(analysis.Id), cancellationToken) is null
                || (await pipelines.ListJobsAsync(PipelineOf(analysis.Id), cancellationToken)).FirstOrDefault() is not { IsFinished: true } job)
            {
                continue;
            }
            if (job.State == JobState.Success && job.OutputCommit is { } output)
            {
                await CompleteAsync(analysis, opened, output, cancellationToken);
                continue;
            }
            var datums = await pipelines.ListDatumsAsync(job.Id, cancellationToken);
            var reason = datums.FirstOrDefault(d => d.State == DatumState.Failed)?.Error ?? job.Error ?? $"job {job.Id[..12]} ended {job.State}";
            // The step names the file it failed on: the analysis has one, so its reason is what the seed said.
            reason = System.Text.RegularExpressions.Regex.Replace(reason, @"^analyze source\.[\w]+: ", "");
            logger.LogWarning("analysis {Id} failed in job {Job}: {Reason}", analysis.Id, job.Id, reason);
            await store.SetStatusAsync(analysis.Id, AnalysisStatus.Failed, reason.Split('\n')[0], cancellationToken);
        }
    }

    /// <summary>The job's <c>results.jsonl</c> becomes the analysis's rows (replacing what streamed in), then it is complete.</summary>
    private async Task CompleteAsync(AnalysisRecord analysis, DataStore opened, string output, CancellationToken cancellationToken)
    {
        var files = await opened.ListFilesAsync(output, DataPath.Root, cancellationToken);
        var rows = new List<AnalysisRow>();
        var planned = 0;
        if (files.FirstOrDefault(f => f.Path.EndsWith("/" + ResultRows.FileName, StringComparison.Ordinal)) is { } results)
        {
            rows = ResultRows.Read(await opened.Objects.GetLocalPathAsync(results.Hash, cancellationToken));
        }
        if (files.FirstOrDefault(f => f.Path.EndsWith("/summary.json", StringComparison.Ordinal)) is { } summary)
        {
            await using var stream = await opened.Objects.OpenReadAsync(summary.Hash, cancellationToken);
            using var json = await JsonDocument.ParseAsync(stream, cancellationToken: cancellationToken);
            planned = json.RootElement.TryGetProperty("frames", out var frames) && frames.TryGetInt32(out var n) ? n : 0;
        }
        var done = rows.Select(r => r.Frame).Distinct().Count();
        await store.SaveResultsAsync(analysis.Id, rows, replace: true, cancellationToken);
        await store.SetProgressAsync(analysis.Id, rows.Count == 0 ? -1 : rows.Max(r => r.Frame), cancellationToken);
        await store.SetCountsAsync(analysis.Id, Math.Max(planned, done), done, cancellationToken);
        await store.SetStatusAsync(analysis.Id, AnalysisStatus.Completed, null, cancellationToken);
    }

    /// <summary>The folder of an analysis's kept frame images (<c>{n}.jpg</c>, seed frame numbers).</summary>
    public string FramesDirectory(Guid id) => FramesDirectory(options.DataDirectory, id);

    internal static string FramesDirectory(string dataDirectory, Guid id) => Path.Combine(AnalysisRetention.DirectoryOf(dataDirectory, id), "frames");

    /// <summary>Reel's analysis options for an analysis's models (a live stream's segments, which the server analyzes itself).</summary>
    internal AnalyzeOptions AnalyzeOptionsFor(AnalysisRecord analysis, string outputDirectory, FrameSampling sampling) => new()
    {
        OutputDirectory = outputDirectory,
        Models = ReelModels(analysis),
        Sampling = sampling,
        ObjectModel = options.ObjectModel,
        EmotionModel = options.EmotionModel,
        Overwrite = true,
        ColorCount = SeedApi.ColorCount,
        // One core stays free for requests: a server busy analyzing still answers status calls at once.
        Workers = Math.Max(1, Environment.ProcessorCount - 1),
    };
}

/// <summary>
/// Streams the rows of an analysis's job into the analyses' table while this server's engine analyzes it, as the
/// seed did (see <see cref="StreamedResults"/>): status, results and frame images grow during the analysis.
/// </summary>
public sealed class AnalysisWatcher(AnalysisStore store, AnalysisJobs jobs, ServerOptions options) : IDatumWatcher
{
    public IFrameObserver? Watch(string pipeline, Pipelines.Datums.Datum datum, Pipelines.Datums.DatumPart? part, CancellationToken cancellationToken) =>
        AnalysisJobs.TryParsePipeline(pipeline, out var id) && !jobs.IsLive(id)
            // Pieces run side by side: only a whole run's counts are the analysis's.
            ? new StreamedResults(store, id, AnalysisJobs.FramesDirectory(options.DataDirectory, id), writeCounts: part is null, cancellationToken)
            : null;
}
