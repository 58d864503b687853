using System.Collections.Concurrent;
using System.Threading.Channels;
using Reel.Data;

namespace Reel.Pipelines.Execution;

/// <summary>
/// Stores a task's output files, several at once, while its step still writes others. A step that says when it has
/// finished with a file (<see cref="Finished"/>) has it stored at once, so the uploads overlap the work rather than all
/// waiting for its end: on a cluster of four nodes sharing one S3 server, four pieces ending together queued about 10 s
/// of uploads behind each other after 40 s of extracting. <see cref="CompleteAsync"/> stores the rest.
/// </summary>
internal sealed class OutputUploads : IAsyncDisposable
{
    /// <summary>Outputs stored at once: an S3 upload is mostly waiting for the server, and a task may write thousands of frames.</summary>
    private const int ConcurrentStores = 8;

    private readonly IObjectStore _objects;
    private readonly string _directory;
    private readonly Channel<string> _finished = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = false });
    private readonly ConcurrentBag<FileEntry> _stored = [];
    private readonly Task _early;

    /// <param name="directory">The output directory; every file under it is an output.</param>
    public OutputUploads(IObjectStore objects, string directory, CancellationToken cancellationToken)
    {
        _objects = objects;
        _directory = directory;
        _early = StoreAllAsync(_finished.Reader.ReadAllAsync(cancellationToken), cancellationToken);
    }

    /// <summary>The step has finished with <paramref name="file"/> (under the directory): it may be stored, and is gone then.</summary>
    public void Finished(string file) => _finished.Writer.TryWrite(file);

    /// <summary>
    /// Waits for the stores under way, stores every file the step did not name, and makes them durable with one sync.
    /// </summary>
    /// <returns>Every output, its path under the directory, in path order.</returns>
    public async Task<IReadOnlyList<FileEntry>> CompleteAsync(CancellationToken cancellationToken)
    {
        _finished.Writer.TryComplete();
        await _early;
        var rest = Directory.EnumerateFiles(_directory, "*", SearchOption.AllDirectories).ToAsyncEnumerable();
        await StoreAllAsync(rest, cancellationToken);
        if (!_stored.IsEmpty)
        {
            await _objects.FlushAsync(cancellationToken);
        }
        return _stored.OrderBy(e => e.Path, StringComparer.Ordinal).ToList();
    }

    private Task StoreAllAsync(IAsyncEnumerable<string> files, CancellationToken cancellationToken) => Parallel.ForEachAsync(
        files,
        new ParallelOptions { MaxDegreeOfParallelism = ConcurrentStores, CancellationToken = cancellationToken },
        async (file, token) =>
        {
            StoredObject entry;
            if (new FileInfo(file).LinkTarget is null)
            {
                entry = await _objects.PutFileAsync(file, token);
            }
            else
            {
                // A symbolic link is stored as what it points at.
                await using var content = File.OpenRead(file);
                entry = await _objects.PutAsync(content, token);
            }
            _stored.Add(new FileEntry(DataPath.Combine("/", Path.GetRelativePath(_directory, file)), entry.Hash, entry.Size));
        });

    /// <summary>When the step failed: lets the stores under way end (what they stored is no one's until a commit names it).</summary>
    public async ValueTask DisposeAsync()
    {
        _finished.Writer.TryComplete();
        try
        {
            await _early;
        }
        catch (Exception)
        {
            // The task failed already; its own error is the one to report.
        }
    }
}
