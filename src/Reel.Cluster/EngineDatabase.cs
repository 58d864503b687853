using Reel.Data;
using Reel.Pipelines.Jobs;

namespace Reel.Cluster;

/// <summary>The engine's one connection to the data directory, used by one caller at a time.</summary>
public sealed class EngineDatabase(DataStore data, PipelineStore pipelines, IAsyncDisposable? owner = null) : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);

    public DataStore Data => data;

    public async Task<T> UseAsync<T>(Func<PipelineStore, Task<T>> work, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken);
        try
        {
            return await work(pipelines);
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
        await (owner ?? data).DisposeAsync();
        _gate.Dispose();
    }
}
