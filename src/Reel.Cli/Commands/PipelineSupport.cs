using System.CommandLine;
using System.Diagnostics;
using System.Text.Json.Serialization;
using Reel.Cluster;
using Reel.Data;
using Reel.Pipelines.Jobs;
using Reel.Pipelines.Specs;

namespace Reel.Cli.Commands;

/// <summary>What the pipeline, job, datum and logs verbs share: the stores, spec errors, and starting the engine.</summary>
internal static class PipelineSupport
{
    /// <summary>As <see cref="DataCommandSupport.RunAsync{T}"/>, with the pipeline store open too; a bad spec is a usage error.</summary>
    public static Task<int> RunAsync<T>(
        string verb, ParseResult result, Option<string?> dataDir, Func<T> parse, Func<PipelineStore, T, Task<int>> run, CancellationToken cancellationToken) =>
        DataCommandSupport.RunAsync(verb, result, dataDir, parse, async (data, arguments) =>
        {
            try
            {
                return await run(await PipelineStore.OpenAsync(data, cancellationToken), arguments);
            }
            catch (SpecException e)
            {
                await Console.Error.WriteLineAsync($"reel {verb}: {e.Message}");
                return ExitCodes.Usage;
            }
        }, cancellationToken);

    /// <summary>
    /// Creates the jobs that commits made due and, when there is work, makes sure an engine runs for the data
    /// directory: a detached <c>reel engine</c> that stops by itself once idle (its log: logs/engine.log, rotated by <see cref="EngineLog"/>).
    /// </summary>
    public static async Task<IReadOnlyList<JobInfo>> StartDueJobsAsync(PipelineStore store, CancellationToken cancellationToken)
    {
        var created = await store.CreateDueJobsAsync(cancellationToken);
        // A cluster's nodes run its engine; only a local data directory gets one started here.
        if (store.Data.Database is Reel.Data.Metadata.SqliteMetadataDatabase && (await store.ListUnfinishedJobsAsync(cancellationToken)).Count > 0)
        {
            EnsureEngine(store.Data.DataDirectory);
        }
        return created;
    }

    /// <summary>After a commit: starts the jobs it made due and says how to follow them.</summary>
    public static async Task StartAfterCommitAsync(DataStore data, CancellationToken cancellationToken)
    {
        foreach (var job in await StartDueJobsAsync(await PipelineStore.OpenAsync(data, cancellationToken), cancellationToken))
        {
            await Console.Error.WriteLineAsync($"job {job.Id} of pipeline {job.Pipeline} started; follow it with: reel job wait {Short(job.Id)}");
        }
    }

    public static void EnsureEngine(string dataDirectory)
    {
        if (EngineLock.IsHeld(dataDirectory))
        {
            return;
        }
        var logs = Path.Combine(dataDirectory, "logs");
        Directory.CreateDirectory(logs);
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell where the reel executable is");
        var start = new ProcessStartInfo("/bin/sh") { UseShellExecute = false };
        // A new session, so the engine outlives this command and its terminal; its output goes to the log.
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("exec setsid -f \"$@\" >>\"$REEL_ENGINE_LOG\" 2>&1 </dev/null");
        start.ArgumentList.Add("sh");
        start.ArgumentList.Add(self);
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            start.ArgumentList.Add(typeof(PipelineSupport).Assembly.Location);
        }
        start.ArgumentList.Add("engine");
        start.ArgumentList.Add("--data-dir");
        start.ArgumentList.Add(dataDirectory);
        start.ArgumentList.Add("--idle-exit");
        start.ArgumentList.Add(Environment.GetEnvironmentVariable("REEL_ENGINE_IDLE_EXIT") ?? "10");
        var log = Path.Combine(logs, "engine.log");
        EngineLog.RotateIfFull(log, EngineLog.MaxBytes);
        start.Environment[EngineLog.PathVariable] = log;
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the engine");
        process.WaitForExit();
    }

    public static string Short(string id) => id.Length > 12 ? id[..12] : id;

    public static string Duration(TimeSpan span) => span.TotalSeconds < 60
        ? $"{span.TotalSeconds:0.0}s"
        : span.TotalMinutes < 60 ? $"{(int)span.TotalMinutes}m{span.Seconds:00}s" : $"{(int)span.TotalHours}h{span.Minutes:00}m";

    public static string Elapsed(JobInfo job) => job.Started is { } started
        ? Duration((job.Finished ?? DateTimeOffset.UtcNow) - started)
        : "-";

    public static string Progress(JobInfo job) =>
        $"{job.Counts.Done}/{job.Counts.Total}" + (job.Counts.Skipped > 0 ? $" ({job.Counts.Skipped} skipped)" : "")
        + (job.Counts.Failed > 0 ? $" [{job.Counts.Failed} failed]" : "");
}

/// <summary>One job as <c>--json</c> prints it.</summary>
internal sealed record JobView(
    string Id, string Pipeline, int Version, string State, IReadOnlyDictionary<string, string> Inputs, string? OutputCommit, string? Rerun,
    DateTimeOffset Created, DateTimeOffset? Started, DateTimeOffset? Finished, string? Error, DatumCounts Datums)
{
    public static JobView Of(JobInfo j) => new(j.Id, j.Pipeline, j.Version, j.State.ToString(), j.Inputs, j.OutputCommit, j.Rerun, j.Created, j.Started,
        j.Finished, j.Error, j.Counts);
}

internal sealed record DatumView(string Id, string State, int Tries, IReadOnlyList<string> Files, DateTimeOffset? Started, double? Seconds, string? Error);

internal sealed record PipelineView(
    string Name, int Version, string Description, IReadOnlyList<string> Inputs, string Output, string Transform, IReadOnlyList<string> Ignored,
    DateTimeOffset Created, DateTimeOffset Updated, JobView? LastJob);

[JsonSerializable(typeof(JobView))]
[JsonSerializable(typeof(IReadOnlyList<JobView>))]
[JsonSerializable(typeof(IReadOnlyList<DatumView>))]
[JsonSerializable(typeof(PipelineView))]
[JsonSerializable(typeof(IReadOnlyList<PipelineView>))]
[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
internal sealed partial class PipelineJson : JsonSerializerContext;
