using Reel.Data;
using Reel.Server.Analysis;

namespace Reel.Server;

/// <summary>A node of the cluster a server belongs to, as its membership records it (see <see cref="ServerData.ListNodesAsync"/>).</summary>
/// <param name="Worker">The name the node's workers report under (its address and silo port).</param>
/// <param name="Status">Membership status as <c>reel node list</c> shows it: active, joining, shutting down, stopping, dead.</param>
public sealed record ServerNode(string Worker, string Address, string Status, string HostName, DateTimeOffset LastSeen);

/// <summary>
/// The data a server works on: the one place the HTTP API, the analyses and the dashboard open repos, pipelines and
/// analyses through. The embedded default is the data directory (<see cref="DirectoryServerData"/>); a cluster server
/// (composed by the CLI) opens the cluster's shared metadata database and object store.
/// </summary>
public abstract class ServerData : IAsyncDisposable
{
    /// <summary>Where the data is, for the start-up line.</summary>
    public abstract string Description { get; }

    /// <summary>A data store of its own (its own connection) for one request or report; the caller disposes it.</summary>
    public abstract Task<DataStore> OpenAsync(CancellationToken cancellationToken);

    /// <summary>The analyses' table, opened once for the server's lifetime.</summary>
    public abstract Task<AnalysisStore> OpenAnalysesAsync(CancellationToken cancellationToken);

    /// <summary>The cluster's nodes with their membership status; empty for a server that runs the embedded engine.</summary>
    public virtual Task<IReadOnlyList<ServerNode>> ListNodesAsync(CancellationToken cancellationToken) =>
        Task.FromResult<IReadOnlyList<ServerNode>>([]);

    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}

/// <summary>The embedded default: SQLite and objects in the data directory, opened afresh for each request.</summary>
public sealed class DirectoryServerData(string dataDirectory) : ServerData
{
    public override string Description => dataDirectory;

    public override Task<DataStore> OpenAsync(CancellationToken cancellationToken) =>
        DataStore.OpenAsync(dataDirectory, TimeProvider.System, cancellationToken);

    public override Task<AnalysisStore> OpenAnalysesAsync(CancellationToken cancellationToken) =>
        AnalysisStore.OpenAsync(dataDirectory, cancellationToken);
}
