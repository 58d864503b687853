using Reel.Data;
using Reel.Pipelines.Jobs;

namespace Reel.Server.Analysis;

/// <summary>
/// Removing analyses, as the seed's <c>clear_frames --days N</c> did: an analysis's rows, results, fetched video and
/// frames all go, so the space is really freed. Used by <c>DELETE /analysis/{id}</c>, <c>reel analyses clear</c> and
/// <c>reel serve --retain-days</c>.
/// </summary>
public static class AnalysisRetention
{
    /// <summary>The folder of an analysis: its fetched video, recording, segments and outputs.</summary>
    public static string DirectoryOf(string dataDirectory, Guid id) => Path.Combine(dataDirectory, "analyses", id.ToString("D"));

    /// <summary>Whether an analysis may be removed: not while it is waiting or running.</summary>
    public static bool IsFinished(AnalysisRecord analysis) => analysis.Status is AnalysisStatus.Completed or AnalysisStatus.Failed;

    /// <summary>
    /// Removes one analysis: rows first (so nothing points at files being deleted), its folder, then its pipeline with
    /// its jobs and output, and its input repo (the stored video).
    /// </summary>
    /// <param name="openData">Opens the data the analysis's pipeline and repos are in.</param>
    /// <returns>The bytes its folder held.</returns>
    public static async Task<long> RemoveAsync(
        AnalysisStore store, Func<CancellationToken, Task<DataStore>> openData, string dataDirectory, Guid id, CancellationToken cancellationToken)
    {
        var bytes = await RemoveRowsAndFolderAsync(store, dataDirectory, id, cancellationToken);
        await RemoveJobsAsync(openData, [id], cancellationToken);
        return bytes;
    }

    private static async Task<long> RemoveRowsAndFolderAsync(AnalysisStore store, string dataDirectory, Guid id, CancellationToken cancellationToken)
    {
        await store.RemoveAsync(id, cancellationToken);
        var directory = new DirectoryInfo(DirectoryOf(dataDirectory, id));
        if (!directory.Exists)
        {
            return 0;
        }
        var bytes = directory.EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        directory.Delete(recursive: true);
        return bytes;
    }

    /// <summary>Removes the pipelines (with their jobs and outputs) and input repos of analyses.</summary>
    private static async Task RemoveJobsAsync(Func<CancellationToken, Task<DataStore>> openData, IReadOnlyList<Guid> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return;
        }
        await using var data = await openData(cancellationToken);
        var pipelines = await PipelineStore.OpenAsync(data, cancellationToken);
        foreach (var id in ids)
        {
            if (await pipelines.FindPipelineAsync(AnalysisJobs.PipelineOf(id), cancellationToken) is not null)
            {
                await pipelines.DeletePipelineAsync(AnalysisJobs.PipelineOf(id), cancellationToken);
            }
            if ((await data.ListReposAsync(cancellationToken)).Any(r => r.Name == AnalysisJobs.InputRepoOf(id)))
            {
                await data.DeleteRepoAsync(AnalysisJobs.InputRepoOf(id), force: true, cancellationToken);
            }
        }
    }

    /// <summary>Removes every finished analysis created before <paramref name="before"/>.</summary>
    /// <returns>The analyses removed and the bytes freed.</returns>
    public static async Task<(IReadOnlyList<AnalysisRecord> Removed, long Bytes)> ClearAsync(
        AnalysisStore store, Func<CancellationToken, Task<DataStore>> openData, string dataDirectory, DateTimeOffset before, CancellationToken cancellationToken)
    {
        var removed = new List<AnalysisRecord>();
        long bytes = 0;
        foreach (var analysis in await store.ListAsync(null, cancellationToken))
        {
            if (analysis.Created < before && IsFinished(analysis))
            {
                bytes += await RemoveRowsAndFolderAsync(store, dataDirectory, analysis.Id, cancellationToken);
                removed.Add(analysis);
            }
        }
        // What the API shows goes first, for all of them; the stored jobs and videos after.
        await RemoveJobsAsync(openData, [.. removed.Select(a => a.Id)], cancellationToken);
        return (removed, bytes);
    }
}

/// <summary><c>--retain-days N</c>: at start and then every hour, finished analyses older than N days are removed.</summary>
internal sealed class RetentionService(AnalysisStore store, ServerData data, ServerOptions options, ILogger<RetentionService> logger) : BackgroundService
{
    private static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (options.RetainDays is not { } days)
        {
            return;
        }
        using var timer = new PeriodicTimer(Interval);
        do
        {
            var (removed, bytes) = await AnalysisRetention.ClearAsync(store, data.OpenAsync, options.DataDirectory, DateTimeOffset.UtcNow.AddDays(-days), stoppingToken);
            if (removed.Count > 0)
            {
                logger.LogWarning("removed {Count} analyses older than {Days} days ({Bytes} bytes)", removed.Count, days, bytes);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
