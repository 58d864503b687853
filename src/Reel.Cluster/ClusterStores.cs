using Npgsql;
using Reel.Cluster.Membership;
using Reel.Data;
using Reel.Pipelines.Jobs;

namespace Reel.Cluster;

/// <summary>A node of the cluster as <c>reel node list</c> shows it: membership status with its workers' counts.</summary>
public sealed record NodeView(
    string Address, string Status, string HostName, int? Slots, int? Running, long? Done, long? Failed, DateTimeOffset Started, DateTimeOffset LastSeen);

/// <summary>Opening what a cluster's nodes and commands share: its metadata and object stores, and its membership.</summary>
public static class ClusterStores
{
    /// <summary>The metadata and object stores a node's engine works on.</summary>
    public static async Task<EngineDatabase> OpenEngineDatabaseAsync(ClusterFile cluster, string nodeDirectory, CancellationToken cancellationToken)
    {
        // INTERIM until the PostgreSQL metadata store (branch meta) lands: the node's own directory.
        _ = cluster;
        var data = await DataStore.OpenAsync(nodeDirectory, TimeProvider.System, cancellationToken);
        return new EngineDatabase(data, await PipelineStore.OpenAsync(data, cancellationToken));
    }

    /// <summary>Every node the membership table knows (newest generation per address), with its workers' counts where reported.</summary>
    public static async Task<IReadOnlyList<NodeView>> ListNodesAsync(ClusterFile cluster, CancellationToken cancellationToken)
    {
        await using var database = NpgsqlDataSource.Create(ClusterFile.ConnectionString(cluster.Database));
        await MembershipSchema.CheckAsync(database, cancellationToken);
        var members = await ClusterMembers.ListAsync(database, cluster.ClusterId, cancellationToken);
        return members.Select(m => new NodeView(m.Worker, m.Status, m.HostName, null, null, null, null, m.Started, m.LastSeen)).ToList();
    }
}
