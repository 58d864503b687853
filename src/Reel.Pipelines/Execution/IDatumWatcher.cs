using Reel.Operators.Analysis;
using Reel.Pipelines.Datums;

namespace Reel.Pipelines.Execution;

/// <summary>
/// Sees the frames a datum's built-in <c>analyze</c> step analyzes while it runs, before the datum's output exists:
/// <c>reel serve</c> streams its HTTP analyses' results this way, as the seed API promises.
/// </summary>
public interface IDatumWatcher
{
    /// <summary>
    /// An observer of the frames of one task of <paramref name="datum"/> of <paramref name="pipeline"/> (the whole datum when
    /// <paramref name="part"/> is null, else one piece); null when nobody watches it. The runner disposes it (when it is
    /// <see cref="IAsyncDisposable"/>) once the task ends.
    /// </summary>
    IFrameObserver? Watch(string pipeline, Datum datum, DatumPart? part, CancellationToken cancellationToken);
}
