using System.Data.Common;
using Reel.Data;
using Reel.Pipelines.Jobs;

namespace Reel.Cluster;

/// <summary>
/// The engine's one connection to its metadata, used by one caller at a time. In a cluster the database may go away
/// and come back (a restart, a failover): a database error marks the connection broken, and the next use opens the
/// stores again (<paramref name="reopen"/>), so a node outlives its database's outage.
/// </summary>
public sealed class EngineDatabase(
    DataStore data, PipelineStore pipelines, IAsyncDisposable? owner = null, Func<CancellationToken, Task<(DataStore, PipelineStore)>>? reopen = null)
    : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private DataStore _data = data;
    private PipelineStore _pipelines = pipelines;
    private bool _broken;

    /// <summary>The current data store (its object store stays the same across reopenings).</summary>
    public DataStore Data => _data;

    public async Task<T> UseAsync<T>(Func<PipelineStore, Task<T>> work, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_broken && reopen is not null)
            {
                (_data, _pipelines) = await reopen(cancellationToken);
                _broken = false;
            }
            return await work(_pipelines);
        }
        catch (DbException) when (reopen is not null)
        {
            _broken = true;
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    public Task UseAsync(Func<PipelineStore, Task> work, CancellationToken cancellationToken = default) =>
        UseAsync(async p =>
        {
            await work(p);
            return true;
        }, cancellationToken);

    public async ValueTask DisposeAsync()
    {
        // A cluster's stores close together (metadata, objects, the data store over them); the embedded one is the data store.
        await (owner ?? _data).DisposeAsync();
        _gate.Dispose();
    }
}
