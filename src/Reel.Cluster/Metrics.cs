using System.Diagnostics.Metrics;

namespace Reel.Cluster;

/// <summary>The engine's meters (<c>Reel.Cluster</c>): what a node's workers and jobs do, for Prometheus through OpenTelemetry.</summary>
internal static class Metrics
{
    public const string MeterName = "Reel.Cluster";

    private static readonly Meter Meter = new(MeterName);

    public static readonly Counter<long> DatumsDone = Meter.CreateCounter<long>("reel.datums.done", description: "Datums this node ran to success");

    public static readonly Counter<long> DatumsFailed = Meter.CreateCounter<long>("reel.datums.failed", description: "Datums this node ran that failed every try");

    public static readonly Counter<long> LeaseLapses = Meter.CreateCounter<long>("reel.leases.lapsed", description: "Datum leases that lapsed (their node died or stalled)");
}
