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

    /// <summary>Removes one analysis: rows first (so nothing points at files being deleted), then its folder.</summary>
    /// <returns>The bytes its folder held.</returns>
    public static async Task<long> RemoveAsync(AnalysisStore store, string dataDirectory, Guid id, CancellationToken cancellationToken)
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

    /// <summary>Removes every finished analysis created before <paramref name="before"/>.</summary>
    /// <returns>The analyses removed and the bytes freed.</returns>
    public static async Task<(IReadOnlyList<AnalysisRecord> Removed, long Bytes)> ClearAsync(
        AnalysisStore store, string dataDirectory, DateTimeOffset before, CancellationToken cancellationToken)
    {
        var removed = new List<AnalysisRecord>();
        long bytes = 0;
        foreach (var analysis in await store.ListAsync(null, cancellationToken))
        {
            if (analysis.Created < before && IsFinished(analysis))
            {
                bytes += await RemoveAsync(store, dataDirectory, analysis.Id, cancellationToken);
                removed.Add(analysis);
            }
        }
        return (removed, bytes);
    }
}

/// <summary><c>--retain-days N</c>: at start and then every hour, finished analyses older than N days are removed.</summary>
internal sealed class RetentionService(AnalysisStore store, ServerOptions options, ILogger<RetentionService> logger) : BackgroundService
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
            var (removed, bytes) = await AnalysisRetention.ClearAsync(store, options.DataDirectory, DateTimeOffset.UtcNow.AddDays(-days), stoppingToken);
            if (removed.Count > 0)
            {
                logger.LogWarning("removed {Count} analyses older than {Days} days ({Bytes} bytes)", removed.Count, days, bytes);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
