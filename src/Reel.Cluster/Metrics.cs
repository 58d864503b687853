using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Reel.Cluster;

/// <summary>
/// The engine's meters (<c>Reel.Cluster</c>): what a node's workers and jobs do, for Prometheus through OpenTelemetry.
/// Rates are Prometheus' to compute: datums per second <c>rate(reel_datums_done_total[1m])</c>, frames per second
/// <c>rate(reel_frames_total[1m])</c>; the cluster's queue depth is <c>sum(reel_queue_depth)</c>.
/// </summary>
internal static class Metrics
{
    public const string MeterName = "Reel.Cluster";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>The jobs whose grain is active on this node, each with how many of its datums wait for a worker.</summary>
    private static readonly ConcurrentDictionary<string, Func<int>> Queues = new(StringComparer.Ordinal);

    public static readonly Counter<long> DatumsDone = Meter.CreateCounter<long>("reel.datums.done", description: "Datums this node ran to success");

    public static readonly Counter<long> DatumsFailed = Meter.CreateCounter<long>("reel.datums.failed", description: "Datums this node ran that failed every try");

    public static readonly Counter<long> LeaseLapses = Meter.CreateCounter<long>("reel.leases.lapsed", description: "Datum leases that lapsed (their node died or stalled)");

    public static readonly Counter<long> Frames = Meter.CreateCounter<long>("reel.frames",
        description: "Video frames this node's datums processed in built-in steps (extract, analyze, render); datums running a command count none");

    public static readonly ObservableGauge<int> QueueDepth = Meter.CreateObservableGauge("reel.queue.depth", () => Queues.Values.Sum(depth => depth()),
        description: "Datums runnable and not yet leased, of the jobs coordinated on this node (0 on nodes holding no job); sum over nodes for the cluster");

    /// <summary>Counts <paramref name="depth"/> into <see cref="QueueDepth"/> while the job's grain is active here.</summary>
    public static void TrackQueue(string jobId, Func<int> depth) => Queues[jobId] = depth;

    public static void UntrackQueue(string jobId) => Queues.TryRemove(jobId, out _);
}
