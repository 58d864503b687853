using Microsoft.Extensions.Logging;

namespace Reel.Cluster;

/// <summary>
/// Coordinates one job: lists its datums, leases them to workers that ask, takes their reports in batches,
/// requeues datums whose lease lapsed, and commits the output when every datum has ended.
/// Calls are short; the work itself runs on the workers' pools.
/// </summary>
[Alias("reel.job")]
public interface IJobGrain : IGrainWithStringKey
{
    /// <summary>Loads (or resumes) the job; idempotent.</summary>
    [Alias("start")]
    Task StartAsync();

    [Alias("spec")]
    Task<JobSpec> GetSpecAsync();

    /// <summary>Up to <paramref name="max"/> datums for <paramref name="worker"/>; none when all are leased or the job ends.</summary>
    [Alias("lease")]
    Task<IReadOnlyList<DatumTask>> LeaseAsync(string worker, int max);

    /// <summary>Extends the worker's leases; false means the job is stopping and the worker should drop them.</summary>
    [Alias("renew")]
    Task<bool> RenewAsync(string worker, IReadOnlyList<string> datumIds);

    [Alias("report")]
    Task ReportAsync(string worker, IReadOnlyList<TaskOutcome> outcomes);

    /// <summary>A stopping worker gives datums back: they run again at once elsewhere, and it is none of their tries.</summary>
    [Alias("release")]
    Task ReleaseAsync(string worker, IReadOnlyList<string> datumIds);
}

/// <summary>The jobs workers may lease from (one board per cluster, key 0).</summary>
[Alias("reel.board")]
public interface IJobBoardGrain : IGrainWithIntegerKey
{
    [Alias("active")]
    Task<IReadOnlyList<string>> ActiveJobsAsync();

    [Alias("add")]
    Task AddAsync(string jobId);

    [Alias("remove")]
    Task RemoveAsync(string jobId);
}

internal sealed class JobBoardGrain(ILogger<JobBoardGrain> logger) : Grain, IJobBoardGrain
{
    private readonly List<string> _jobs = [];

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // Empty when it starts: the scheduler's next round lists every unfinished job on it again.
        logger.LogInformation("work board active on this node");
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // With the activation line, says where the board lives now: a membership change can move it between nodes.
        logger.LogInformation("work board left this node: {Reason}", reason);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<string>> ActiveJobsAsync() => Task.FromResult<IReadOnlyList<string>>([.. _jobs]);

    public Task AddAsync(string jobId)
    {
        if (!_jobs.Contains(jobId))
        {
            _jobs.Add(jobId);
        }
        return Task.CompletedTask;
    }

    public Task RemoveAsync(string jobId)
    {
        _jobs.Remove(jobId);
        return Task.CompletedTask;
    }
}
