namespace Reel.Cluster;

/// <summary>How the engine on this node behaves.</summary>
public sealed record EngineOptions
{
    /// <summary>The data directory: repos, pipelines, jobs, logs.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Datums this node runs at once.</summary>
    public int Slots { get; init; } = Environment.ProcessorCount;

    /// <summary>How long a worker holds a datum without renewing before another may take it.</summary>
    public TimeSpan LeaseTime { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How often jobs write reports, requeue lapsed leases and look for stop requests.</summary>
    public TimeSpan TickInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How long a stopping job waits for its workers to drop their datums.</summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the scheduler looks for new commits and unfinished jobs.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The name this node's workers report under; the embedded engine's is its machine and process.</summary>
    public string WorkerName { get; init; } = $"{Environment.MachineName}/{Environment.ProcessId}";

    /// <summary>
    /// Whether a datum's log is stored as an object before the datum is reported (a cluster's nodes: every machine reads
    /// it); the embedded engine keeps logs in its data directory only.
    /// </summary>
    public bool StoreLogs { get; init; }

    /// <summary>Who sees the frames of analyze steps as this node analyzes them (<c>reel serve</c>'s analyses); null for nobody.</summary>
    public Pipelines.Execution.IDatumWatcher? Watcher { get; init; }

    /// <summary>Stop the engine after this long with nothing to do; null runs until stopped.</summary>
    public TimeSpan? IdleExit { get; init; }
}
