namespace Reel.Cluster;

/// <summary>
/// Coordinates one job: lists its datums, leases them to workers that ask, takes their reports in batches,
/// requeues datums whose lease lapsed, and commits the output when every datum has ended.
/// Calls are short; the work itself runs on the workers' pools, which find the jobs to ask in the database.
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
