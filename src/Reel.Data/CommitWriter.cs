namespace Reel.Data;

/// <summary>
/// An open commit: it starts with its parent's files, takes puts and deletes, and becomes visible only
/// when <see cref="FinishAsync"/> moves the branch head to it. Disposed unfinished, it is removed.
/// Holds its branch's writer lock until finished or disposed.
/// </summary>
public sealed class CommitWriter : IAsyncDisposable
{
    private readonly DataStore _store;
    private readonly IAsyncDisposable _lock;
    private bool _done;

    internal CommitWriter(DataStore store, IAsyncDisposable writeLock, string id, string repo, string branch, string? parent)
    {
        Parent = parent;
        _store = store;
        _lock = writeLock;
        Id = id;
        Repo = repo;
        Branch = branch;
    }

    public string Id { get; }

    public string Repo { get; }

    public string Branch { get; }

    /// <summary>The branch head this commit started from, if the branch had one.</summary>
    public string? Parent { get; }

    /// <summary>Stores <paramref name="content"/> at <paramref name="path"/>, replacing a file already there.</summary>
    public async Task<FileEntry> PutFileAsync(string path, Stream content, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        path = DataPath.Normalize(path);
        if (path == DataPath.Root)
        {
            throw new DataException(DataErrorKind.Invalid, "a file needs a path below '/'");
        }
        foreach (var ancestor in DataPath.Ancestors(path))
        {
            if (await _store.FileExistsAsync(Id, ancestor, cancellationToken))
            {
                throw new DataException(DataErrorKind.Conflict, $"cannot put {path}: {ancestor} is a file");
            }
        }
        if (await _store.HasFilesUnderAsync(Id, path, cancellationToken))
        {
            throw new DataException(DataErrorKind.Conflict, $"cannot put {path}: it is a directory");
        }
        var stored = await _store.Objects.PutAsync(content, cancellationToken);
        await _store.ExecuteAsync(
            "INSERT INTO files(commit_id, path, object, size) VALUES ($id, $path, $object, $size) " +
            "ON CONFLICT (commit_id, path) DO UPDATE SET object = excluded.object, size = excluded.size", cancellationToken,
            ("$id", Id), ("$path", path), ("$object", stored.Hash), ("$size", stored.Size));
        return new FileEntry(path, stored.Hash, stored.Size);
    }

    /// <summary>Deletes the file at <paramref name="path"/>, or everything under it; NotFound when there is nothing.</summary>
    public async Task<int> DeleteAsync(string path, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        path = DataPath.Normalize(path);
        var deleted = path == DataPath.Root
            ? await _store.ExecuteAsync("DELETE FROM files WHERE commit_id = $id", cancellationToken, ("$id", Id))
            : await _store.ExecuteAsync(
                "DELETE FROM files WHERE commit_id = $id AND (path = $path OR (path >= $prefix AND path < $end))", cancellationToken,
                ("$id", Id), ("$path", path), ("$prefix", path + "/"), ("$end", path + "0"));
        return deleted > 0 ? deleted : throw new DataException(DataErrorKind.NotFound, $"{Repo}@{Branch}:{path} does not exist");
    }

    /// <summary>
    /// Makes the commit hold exactly <paramref name="files"/>, whose objects are already in the store (a job's
    /// outputs), in one transaction. A path that is both a file and another file's directory is a conflict.
    /// </summary>
    public async Task ReplaceAllAsync(IReadOnlyCollection<FileEntry> files, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        var paths = files.Select(f => DataPath.Normalize(f.Path)).Order(StringComparer.Ordinal).ToList();
        for (var i = 1; i < paths.Count; i++)
        {
            if (paths[i] == paths[i - 1] || paths[i].StartsWith(paths[i - 1] + "/", StringComparison.Ordinal))
            {
                throw new DataException(DataErrorKind.Conflict, $"{paths[i - 1]} is written twice, or as a file and a directory");
            }
        }
        // Only what differs from the parent's files (which the commit starts with) is written: a job that changed one
        // datum of many rewrites that datum's rows, not all of them.
        var current = (await _store.ListFilesAsync(Id, DataPath.Root, cancellationToken)).ToDictionary(f => f.Path, StringComparer.Ordinal);
        await using var transaction = await _store.BeginTransactionAsync(cancellationToken);
        await using var delete = _store.Prepare("DELETE FROM files WHERE commit_id = $id AND path = $path", "$id", "$path");
        var wanted = new HashSet<string>(StringComparer.Ordinal);
        var changed = new List<object?[]>();
        foreach (var file in files)
        {
            var path = DataPath.Normalize(file.Path);
            wanted.Add(path);
            if (!current.TryGetValue(path, out var existing) || existing.Hash != file.Hash)
            {
                changed.Add([Id, path, file.Hash, file.Size]);
            }
        }
        // Paths are unique (checked above), so no statement updates one row twice.
        await _store.InsertManyAsync("INSERT INTO files(commit_id, path, object, size)",
            "ON CONFLICT (commit_id, path) DO UPDATE SET object = excluded.object, size = excluded.size", changed, cancellationToken);
        foreach (var path in current.Keys.Where(p => !wanted.Contains(p)))
        {
            await DataStore.ExecuteAsync(delete, cancellationToken, Id, path);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Deletes <paramref name="deletes"/>, then adds <paramref name="adds"/> (objects already in the store), in one
    /// transaction: a job whose output changed in a few datums touches only their files. An added path that is still
    /// there after the deletes, or that is a file and a directory at once, is a conflict and nothing is applied.
    /// </summary>
    public async Task ApplyAsync(IReadOnlyCollection<string> deletes, IReadOnlyCollection<FileEntry> adds, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        await using var transaction = await _store.BeginTransactionAsync(cancellationToken);
        await using (var delete = _store.Prepare("DELETE FROM files WHERE commit_id = $id AND path = $path", "$id", "$path"))
        {
            foreach (var path in deletes)
            {
                await DataStore.ExecuteAsync(delete, cancellationToken, Id, DataPath.Normalize(path));
            }
        }
        var added = new HashSet<string>(StringComparer.Ordinal);
        await using (var insert = _store.Prepare("INSERT INTO files(commit_id, path, object, size) VALUES ($id, $path, $object, $size)", "$id", "$path", "$object", "$size"))
        {
            foreach (var file in adds)
            {
                var path = DataPath.Normalize(file.Path);
                if (!added.Add(path) || await _store.FileExistsAsync(Id, path, cancellationToken) || await _store.HasFilesUnderAsync(Id, path, cancellationToken)
                    || await AnyAncestorIsFileAsync(path, cancellationToken))
                {
                    throw new DataException(DataErrorKind.Conflict, $"{path} is written twice, or as a file and a directory");
                }
                await DataStore.ExecuteAsync(insert, cancellationToken, Id, path, file.Hash, file.Size);
            }
        }
        await transaction.CommitAsync(cancellationToken);
    }

    private async Task<bool> AnyAncestorIsFileAsync(string path, CancellationToken cancellationToken)
    {
        foreach (var ancestor in DataPath.Ancestors(path))
        {
            if (await _store.FileExistsAsync(Id, ancestor, cancellationToken))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Records that this commit was computed from <paramref name="sourceCommitId"/>.</summary>
    public async Task AddProvenanceAsync(string sourceCommitId, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        await _store.ExecuteAsync(
            "INSERT INTO provenance(commit_id, source) VALUES ($id, $source) ON CONFLICT DO NOTHING", cancellationToken,
            ("$id", Id), ("$source", sourceCommitId));
    }

    /// <summary>
    /// Marks the commit finished and moves the branch head to it, in one transaction, only if the head is still the
    /// commit this one started from (compare-and-swap). A moved head, or a commit removed as abandoned meanwhile, is a
    /// Conflict and nothing is committed.
    /// </summary>
    public async Task<CommitInfo> FinishAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        await using (var transaction = await _store.BeginTransactionAsync(cancellationToken))
        {
            var finished = await _store.ExecuteAsync("UPDATE commits SET finished = $now WHERE id = $id AND finished IS NULL", cancellationToken,
                ("$id", Id), ("$now", DataStore.Format(_store.Time.GetUtcNow())));
            if (finished == 0)
            {
                throw new DataException(DataErrorKind.Conflict,
                    $"commit {Id[..12]} on {Repo}@{Branch} was removed as abandoned while it was written; nothing was committed");
            }
            var moved = Parent is null
                ? await _store.ExecuteAsync(
                    "INSERT INTO branches(repo, name, head) VALUES ($repo, $branch, $id) ON CONFLICT (repo, name) DO NOTHING",
                    cancellationToken, ("$repo", Repo), ("$branch", Branch), ("$id", Id))
                : await _store.ExecuteAsync(
                    "UPDATE branches SET head = $id WHERE repo = $repo AND name = $branch AND head = $parent",
                    cancellationToken, ("$repo", Repo), ("$branch", Branch), ("$id", Id), ("$parent", Parent));
            if (moved == 0)
            {
                await transaction.RollbackAsync(cancellationToken);
                throw new DataException(DataErrorKind.Conflict,
                    $"{Repo}@{Branch} moved while commit {Id[..12]} was written (it started from {Parent?[..12] ?? "no head"}); nothing was committed");
            }
            await transaction.CommitAsync(cancellationToken);
        }
        _done = true;
        await _lock.DisposeAsync();
        return await _store.GetCommitAsync(Id, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_done)
        {
            return;
        }
        _done = true;
        try
        {
            await _store.AbortAsync(Id, CancellationToken.None);
        }
        finally
        {
            await _lock.DisposeAsync();
        }
    }
}
