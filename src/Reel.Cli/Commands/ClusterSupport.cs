using System.CommandLine;
using Reel.Cluster;
using Reel.Data;

namespace Reel.Cli.Commands;

/// <summary>Commands against a cluster: <c>--cluster FILE</c> (or <c>$REEL_CLUSTER</c>) on every data and pipeline verb.</summary>
internal static class ClusterSupport
{
    /// <summary>On the root command, so every verb takes it.</summary>
    public static Option<string?> Option { get; } = new("--cluster")
    {
        Description = $"Work on a cluster: the cluster file written by 'reel cluster init' (default: ${ClusterFile.Variable})",
        Recursive = true,
    };

    /// <summary>The cluster file named by <c>--cluster</c>, else <c>$REEL_CLUSTER</c>; null for the local data directory.</summary>
    public static string? Path(ParseResult result) =>
        result.GetValue(Option) ?? (Environment.GetEnvironmentVariable(ClusterFile.Variable) is { Length: > 0 } path ? path : null);

    /// <summary>This machine's own directory for a cluster's commands: logs, scratch and the object cache.</summary>
    public static string LocalDirectory(ClusterFile cluster) => System.IO.Path.Combine(DataStore.ResolveDirectory(null), "cluster-" + cluster.ClusterId);
}
