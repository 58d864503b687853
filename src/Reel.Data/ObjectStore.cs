using System.Security.Cryptography;

namespace Reel.Data;

/// <summary>An object's content hash (SHA-256, lower-case hex) and its size in bytes.</summary>
public sealed record StoredObject(string Hash, long Size);

/// <summary>
/// Content-addressed files under <c>objects/ab/cdef…</c>. An object appears under its final name only
/// complete: it is written to <c>objects/tmp</c>, fsynced, then renamed (and the rename synced). Its hash is
/// computed as it is written, so an object here is checked; it is also the layout of an S3 store's local cache.
/// </summary>
public sealed class ObjectStore : IObjectStore
{
    private const int BufferSize = 1 << 20;

    public ObjectStore(string root)
    {
        Root = root;
        Directory.CreateDirectory(TempDirectory);
    }

    public string Root { get; }

    public string Location => Root;

    /// <summary>Where objects are written before their hash is known; only a writer holding the data lock touches it.</summary>
    internal string TempDirectory => Path.Combine(Root, "tmp");

    public string PathOf(string hash)
    {
        if (!IsHash(hash))
        {
            throw new ArgumentException($"not a SHA-256 hash: '{hash}'", nameof(hash));
        }
        return Path.Combine(Root, hash[..2], hash[2..]);
    }

    public bool Contains(string hash) => File.Exists(PathOf(hash));

    /// <summary>Streams <paramref name="content"/> into the store; identical content is stored once.</summary>
    public async Task<StoredObject> PutAsync(Stream content, CancellationToken cancellationToken)
    {
        // The writer's process id leads the name, so recovery can tell a dead writer's file from a live one's.
        var temp = Path.Combine(TempDirectory, $"{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long size = 0;
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
            {
                var buffer = new byte[BufferSize];
                int read;
                while ((read = await content.ReadAsync(buffer, cancellationToken)) > 0)
                {
                    sha.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    size += read;
                }
                file.Flush(flushToDisk: true);
            }
            var hash = Convert.ToHexStringLower(sha.GetHashAndReset());
            Place(temp, hash, durable: true);
            return new StoredObject(hash, size);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>
    /// Takes <paramref name="file"/> (on the store's file system, e.g. a task's scratch output) into the store by
    /// renaming it, not copying it; identical content already stored is kept and the file deleted. Nothing is synced:
    /// call <see cref="FlushAll"/> once after adopting many files, before anything refers to them.
    /// </summary>
    public async Task<StoredObject> AdoptAsync(string file, CancellationToken cancellationToken)
    {
        long size;
        string hash;
        await using (var content = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan))
        {
            size = content.Length;
            hash = Convert.ToHexStringLower(await SHA256.HashDataAsync(content, cancellationToken));
        }
        Place(file, hash, durable: false);
        return new StoredObject(hash, size);
    }

    /// <summary>
    /// Moves <paramref name="file"/>, whose content the caller has just hashed to <paramref name="hash"/>, in under
    /// that name; identical content already stored is kept. Two writers of the same content may race: the rename
    /// replaces atomically, so either way one whole copy stays.
    /// </summary>
    internal void Place(string file, string hash, bool durable)
    {
        var final = PathOf(hash);
        if (File.Exists(final))
        {
            File.Delete(file);
            return;
        }
        var shard = Path.GetDirectoryName(final)!;
        Directory.CreateDirectory(shard);
        File.Move(file, final, overwrite: true);
        if (durable)
        {
            DirectorySync.Flush(shard);
        }
    }

    public Task<StoredObject> PutFileAsync(string file, CancellationToken cancellationToken) => AdoptAsync(file, cancellationToken);

    public Task FlushAsync(CancellationToken cancellationToken)
    {
        FlushAll();
        return Task.CompletedTask;
    }

    public Task<bool> ContainsAsync(string hash, CancellationToken cancellationToken) => Task.FromResult(Contains(hash));

    public Task<string> GetLocalPathAsync(string hash, CancellationToken cancellationToken)
    {
        var path = PathOf(hash);
        return File.Exists(path) ? Task.FromResult(path) : Task.FromException<string>(ObjectErrors.Missing(hash, Location));
    }

    public Task<Stream> OpenReadAsync(string hash, CancellationToken cancellationToken) => Task.FromResult(OpenChecked(hash, onDamaged: null));

    /// <summary>The object's content, checked against its hash on reaching the end.</summary>
    internal Stream OpenChecked(string hash, Action? onDamaged)
    {
        try
        {
            return new HashCheckingStream(Open(hash), hash, Location, onDamaged);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw ObjectErrors.Missing(hash, Location);
        }
    }

    public async IAsyncEnumerable<string> ListAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        foreach (var hash in Hashes())
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return hash;
        }
        await Task.CompletedTask;
    }

    public Task DeleteAsync(string hash, CancellationToken cancellationToken)
    {
        Delete(hash);
        return Task.CompletedTask;
    }

    public void Dispose()
    {
    }

    /// <summary>
    /// A fresh path in the store's temporary folder (on its file system), named so that recovery removes it only once
    /// this process is gone: for content received slowly (an upload) before a commit takes it in.
    /// </summary>
    public string NewTemporaryPath()
    {
        Directory.CreateDirectory(TempDirectory);
        return Path.Combine(TempDirectory, $"{Environment.ProcessId}-{Guid.NewGuid():N}");
    }

    /// <summary>Makes every adopted object and its directory entry durable (one syncfs for all of them).</summary>
    public void FlushAll() => DirectorySync.FlushFileSystem(Root);

    public Stream Open(string hash) =>
        new FileStream(PathOf(hash), FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan);

    /// <summary>Every stored object's hash.</summary>
    public IEnumerable<string> Hashes()
    {
        foreach (var shard in Directory.EnumerateDirectories(Root))
        {
            var prefix = Path.GetFileName(shard);
            if (prefix.Length != 2)
            {
                continue;
            }
            foreach (var file in Directory.EnumerateFiles(shard))
            {
                var hash = prefix + Path.GetFileName(file);
                if (IsHash(hash))
                {
                    yield return hash;
                }
            }
        }
    }

    public void Delete(string hash)
    {
        var path = PathOf(hash);
        try
        {
            File.Delete(path);
        }
        catch (DirectoryNotFoundException)
        {
            return;
        }
        var shard = Path.GetDirectoryName(path)!;
        try
        {
            if (!Directory.EnumerateFileSystemEntries(shard).Any())
            {
                Directory.Delete(shard);
            }
        }
        catch (IOException)
        {
            // Never there, or a writer just put an object into it: either way the shard may stay.
        }
    }

    /// <summary>Removes what writers that died left half-written; files of live processes (the engine's workers) stay.</summary>
    public int RemoveTemporaryFiles()
    {
        var removed = 0;
        foreach (var file in Directory.EnumerateFiles(TempDirectory))
        {
            var name = Path.GetFileName(file);
            var dash = name.IndexOf('-', StringComparison.Ordinal);
            if (dash > 0 && int.TryParse(name.AsSpan(0, dash), out var pid) && (pid == Environment.ProcessId || Directory.Exists($"/proc/{pid}")))
            {
                continue;
            }
            File.Delete(file);
            removed++;
        }
        return removed;
    }

    internal static bool IsHash(string text) => text.Length == 64 && text.All(char.IsAsciiHexDigitLower);
}
