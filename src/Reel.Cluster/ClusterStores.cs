using Npgsql;
using Reel.Cluster.Membership;
using Reel.Data;
using Reel.Data.Metadata;
using Reel.Pipelines.Jobs;

namespace Reel.Cluster;

/// <summary>A node of the cluster as <c>reel node list</c> shows it: membership status with its workers' counts.</summary>
public sealed record NodeView(
    string Address, string Status, string HostName, int? Slots, int? Running, long? Done, long? Failed, DateTimeOffset Started, DateTimeOffset LastSeen)
{
    /// <summary>The datums and pieces the node runs, as it last reported them (<see cref="WorkerInfo.WorkingOn"/>).</summary>
    public IReadOnlyList<string> WorkingOn { get; init; } = [];
}

/// <summary>
/// A cluster's data as one process opens it: the metadata in the cluster's PostgreSQL, objects in its S3 bucket (or
/// shared directory) through this process's hash-checked cache. Disposing closes all three.
/// </summary>
public sealed class ClusterData : IAsyncDisposable
{
    private readonly MetadataDatabase _metadata;
    private readonly IObjectStore _objects;

    private readonly string _localDirectory;

    private ClusterData(MetadataDatabase metadata, IObjectStore objects, DataStore store, string localDirectory)
    {
        _metadata = metadata;
        _objects = objects;
        Store = store;
        _localDirectory = localDirectory;
    }

    public DataStore Store { get; private set; }

    /// <summary>The cluster's metadata database (pooled connections), where other layers keep their tables too.</summary>
    public MetadataDatabase Metadata => _metadata;

    /// <summary>A further data store on the same database and objects, with a connection of its own (one per request of a server); the caller disposes it first.</summary>
    public Task<DataStore> OpenStoreAsync(CancellationToken cancellationToken) =>
        DataStore.OpenAsync(_metadata, _objects, _localDirectory, TimeProvider.System, cancellationToken);

    /// <summary>Opens the data store again on a fresh pooled connection (after the database went away), closing the old one.</summary>
    public async Task<DataStore> ReopenAsync(CancellationToken cancellationToken)
    {
        var fresh = await DataStore.OpenAsync(_metadata, _objects, _localDirectory, TimeProvider.System, cancellationToken);
        var old = Store;
        Store = fresh;
        try
        {
            await old.DisposeAsync();
        }
        catch (System.Data.Common.DbException)
        {
            // Its connection is the broken one.
        }
        return fresh;
    }

    /// <param name="localDirectory">This process's own directory: logs, scratch and the object cache.</param>
    public static async Task<ClusterData> OpenAsync(ClusterFile cluster, string localDirectory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(localDirectory);
        var metadata = MetadataDatabase.Open(cluster.Database);
        IObjectStore? objects = null;
        try
        {
            objects = ObjectStores.Open(cluster.Objects, Path.Combine(localDirectory, "cache"));
            var store = await DataStore.OpenAsync(metadata, objects, localDirectory, TimeProvider.System, cancellationToken);
            return new ClusterData(metadata, objects, store, localDirectory);
        }
        catch
        {
            objects?.Dispose();
            await metadata.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync();
        _objects.Dispose();
        await _metadata.DisposeAsync();
    }
}

/// <summary>Opening what a cluster's nodes and commands share: its metadata and object stores, and its membership.</summary>
public static class ClusterStores
{
    /// <summary>The metadata and object stores a node's engine works on.</summary>
    public static async Task<EngineDatabase> OpenEngineDatabaseAsync(ClusterFile cluster, string nodeDirectory, CancellationToken cancellationToken)
    {
        var data = await ClusterData.OpenAsync(cluster, nodeDirectory, cancellationToken);
        try
        {
            return new EngineDatabase(data.Store, await PipelineStore.OpenAsync(data.Store, cancellationToken), data, async ct =>
            {
                var store = await data.ReopenAsync(ct);
                return (store, await PipelineStore.OpenAsync(store, ct));
            });
        }
        catch
        {
            await data.DisposeAsync();
            throw;
        }
    }

    /// <summary>Every node the membership table knows (newest generation per address), with its workers' counts where reported.</summary>
    public static async Task<IReadOnlyList<NodeView>> ListNodesAsync(ClusterFile cluster, string localDirectory, CancellationToken cancellationToken)
    {
        await using (var database = NpgsqlDataSource.Create(ClusterFile.ConnectionString(cluster.Database)))
        {
            await MembershipSchema.CheckAsync(database, cancellationToken);
            var members = await ClusterMembers.ListAsync(database, cluster.ClusterId, cancellationToken);
            await using var data = await ClusterData.OpenAsync(cluster, localDirectory, cancellationToken);
            var pipelines = await PipelineStore.OpenAsync(data.Store, cancellationToken);
            var workers = (await pipelines.ListWorkersAsync(TimeSpan.FromDays(3650), cancellationToken)).ToDictionary(w => w.Id, StringComparer.Ordinal);
            return members.Select(m => workers.TryGetValue(m.Worker, out var w)
                    ? new NodeView(m.Worker, m.Status, m.HostName, w.Slots, w.Running, w.Done, w.Failed, m.Started, Max(m.LastSeen, w.Seen))
                    {
                        // A node that is gone runs nothing, whatever it said last.
                        WorkingOn = m.Status == "active" ? w.WorkingOn : [],
                    }
                    : new NodeView(m.Worker, m.Status, m.HostName, null, null, null, null, m.Started, m.LastSeen))
                .ToList();
        }
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}
