using Npgsql;
using Reel.Cluster;
using Reel.Cluster.Membership;
using Reel.Data;
using Reel.Server;
using Reel.Server.Analysis;

namespace Reel.Cli.Commands;

/// <summary>
/// What <c>reel serve --cluster</c> works on: the cluster's metadata database and object store (through this node's
/// hash-checked cache), opened once and shared by every request, and the cluster's membership for the workers table.
/// </summary>
internal sealed class ClusterServerData : ServerData
{
    private readonly ClusterFile _cluster;
    private readonly ClusterData _data;
    private readonly NpgsqlDataSource _membership;
    private readonly string _localDirectory;

    private ClusterServerData(ClusterFile cluster, ClusterData data, NpgsqlDataSource membership, string localDirectory)
    {
        _cluster = cluster;
        _data = data;
        _membership = membership;
        _localDirectory = localDirectory;
    }

    /// <summary>Opens the cluster's stores; an unreachable database or one without the cluster's schema fails here, before anything listens.</summary>
    /// <exception cref="ClusterException">The database has no cluster schema.</exception>
    /// <exception cref="NpgsqlException">The database is unreachable or refuses.</exception>
    public static async Task<ClusterServerData> OpenAsync(ClusterFile cluster, string localDirectory, CancellationToken cancellationToken)
    {
        var membership = NpgsqlDataSource.Create(ClusterFile.ConnectionString(cluster.Database));
        try
        {
            await MembershipSchema.CheckAsync(membership, cancellationToken);
            return new ClusterServerData(cluster, await ClusterData.OpenAsync(cluster, localDirectory, cancellationToken), membership, localDirectory);
        }
        catch
        {
            await membership.DisposeAsync();
            throw;
        }
    }

    public override string Description => $"cluster {_cluster.ClusterId}, objects {ObjectsWithoutSecrets()}; this node's directory {_localDirectory}";

    public override Task<DataStore> OpenAsync(CancellationToken cancellationToken) => _data.OpenStoreAsync(cancellationToken);

    public override Task<AnalysisStore> OpenAnalysesAsync(CancellationToken cancellationToken) => AnalysisStore.OpenAsync(_data.Metadata, cancellationToken);

    public override async Task<IReadOnlyList<ServerNode>> ListNodesAsync(CancellationToken cancellationToken) =>
        (await ClusterMembers.ListAsync(_membership, _cluster.ClusterId, cancellationToken))
        .Select(m => new ServerNode(m.Worker, m.Address, m.Status, m.HostName, m.LastSeen))
        .ToList();

    public override async ValueTask DisposeAsync()
    {
        await _data.DisposeAsync();
        await _membership.DisposeAsync();
    }

    /// <summary>The object store's location without its query (an S3 URL's keys ride there).</summary>
    private string ObjectsWithoutSecrets() => _cluster.Objects.Split('?')[0];
}
