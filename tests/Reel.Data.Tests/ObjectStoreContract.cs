using System.Security.Cryptography;
using Reel.Data;

namespace Reel.Data.Tests;

/// <summary>
/// What every <see cref="IObjectStore"/> must do, run against each implementation by the classes below it: the local
/// directory and S3 (a real s3rver). "Another node" is a second store over the same objects (for S3, with its own cache).
/// </summary>
public abstract class ObjectStoreContract : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly List<IObjectStore> _opened = [];

    protected string Scratch { get; } = Reel.Testing.TestMedia.TempDirectory();

    /// <summary>A store over the contract's objects; each call is another node (its own cache, where there is one).</summary>
    protected abstract IObjectStore OpenNode();

    /// <summary>Replaces the stored body of <paramref name="hash"/> behind the store's back.</summary>
    protected abstract Task CorruptAsync(string hash, byte[] damaged);

    protected IObjectStore Node()
    {
        var store = OpenNode();
        _opened.Add(store);
        return store;
    }

    [Fact]
    public async Task Put_ThenRead_ContentAndHashRoundTrip()
    {
        var store = Node();
        var content = RandomNumberGenerator.GetBytes((3 << 20) + 17);

        var stored = await store.PutAsync(new MemoryStream(content), None);

        Assert.Equal(new StoredObject(Sha256(content), content.Length), stored);
        Assert.True(await store.ContainsAsync(stored.Hash, None));
        Assert.Equal(content, await ReadAllAsync(store, stored.Hash));
        Assert.Equal(content, await File.ReadAllBytesAsync(await store.GetLocalPathAsync(stored.Hash, None)));
        // Another node reads the same bytes (for S3: downloaded and checked, not from the writer's cache).
        var other = Node();
        Assert.Equal(content, await File.ReadAllBytesAsync(await other.GetLocalPathAsync(stored.Hash, None)));
        Assert.Equal(Sha256(await ReadAllAsync(other, stored.Hash)), stored.Hash);
    }

    [Fact]
    public async Task Put_SameContentTwice_StoredOnce()
    {
        var store = Node();
        var content = RandomNumberGenerator.GetBytes(100_000);

        var first = await store.PutAsync(new MemoryStream(content), None);
        var second = await Node().PutAsync(new MemoryStream(content), None);

        Assert.Equal(first, second);
        Assert.Equal([first.Hash], await store.ListAsync(None).ToListAsync());
    }

    [Fact]
    public async Task Put_SameContentConcurrently_OneWholeObjectAndNoTemporaryFiles()
    {
        var nodes = new[] { Node(), Node() };
        var content = RandomNumberGenerator.GetBytes(1 << 20);

        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
            Task.Run(() => nodes[i % 2].PutAsync(new MemoryStream(content), None))));

        Assert.All(results, r => Assert.Equal(new StoredObject(Sha256(content), content.Length), r));
        Assert.Equal([Sha256(content)], await nodes[0].ListAsync(None).ToListAsync());
        Assert.Equal(content, await ReadAllAsync(Node(), results[0].Hash));
        foreach (var node in nodes)
        {
            Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(node.NewTemporaryPath())!));
        }
    }

    [Fact]
    public async Task PutFile_TakesTheFileIn()
    {
        var store = Node();
        var content = RandomNumberGenerator.GetBytes(50_000);
        var file = Path.Combine(Scratch, "output.bin");
        await File.WriteAllBytesAsync(file, content);

        var stored = await store.PutFileAsync(file, None);
        await store.FlushAsync(None);

        Assert.False(File.Exists(file));
        Assert.Equal(Sha256(content), stored.Hash);
        Assert.Equal(content, await ReadAllAsync(Node(), stored.Hash));
    }

    [Fact]
    public async Task Missing_Read_NotFoundNamingTheObject()
    {
        var store = Node();
        var hash = Sha256([1, 2, 3]);

        Assert.False(await store.ContainsAsync(hash, None));
        var byPath = await Assert.ThrowsAsync<DataException>(() => store.GetLocalPathAsync(hash, None));
        var byStream = await Assert.ThrowsAsync<DataException>(() => ReadAllAsync(store, hash));

        Assert.All(new[] { byPath, byStream }, e =>
        {
            Assert.Equal(DataErrorKind.NotFound, e.Kind);
            Assert.Contains(hash, e.Message, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task Corrupted_Read_RefusedNamingTheObjectAndNeverServed()
    {
        var writer = Node();
        var content = RandomNumberGenerator.GetBytes(200_000);
        var stored = await writer.PutAsync(new MemoryStream(content), None);
        var damaged = (byte[])content.Clone();
        damaged[damaged.Length / 2] ^= 0x5a;
        await CorruptAsync(stored.Hash, damaged);

        var reader = Node();
        var refused = await Assert.ThrowsAsync<DataException>(() => ReadAllAsync(reader, stored.Hash));

        Assert.Equal(DataErrorKind.Damaged, refused.Kind);
        Assert.Contains(stored.Hash, refused.Message, StringComparison.Ordinal);
        Assert.Contains(Sha256(damaged), refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_UnusedObject_GoneFromListAndReads()
    {
        var store = Node();
        var kept = await store.PutAsync(new MemoryStream([1, 2, 3]), None);
        var dropped = await store.PutAsync(new MemoryStream([4, 5, 6]), None);

        await store.DeleteAsync(dropped.Hash, None);
        await store.DeleteAsync(dropped.Hash, None);

        Assert.Equal([kept.Hash], await store.ListAsync(None).ToListAsync());
        Assert.False(await store.ContainsAsync(dropped.Hash, None));
        Assert.Equal(DataErrorKind.NotFound, (await Assert.ThrowsAsync<DataException>(() => store.GetLocalPathAsync(dropped.Hash, None))).Kind);
    }

    [Fact]
    public async Task DataStore_DeleteRepo_GarbageCollectsItsObjectsFromTheStore()
    {
        var objects = Node();
        await using var data = await DataStore.OpenAsync(Path.Combine(Scratch, "data"), objects, TimeProvider.System, None);
        await data.CreateRepoAsync("a", None);
        await data.CreateRepoAsync("b", None);
        foreach (var (repo, files) in new[] { ("a", new[] { "shared", "only in a" }), ("b", new[] { "shared" }) })
        {
            await using var commit = await data.BeginCommitAsync(repo, "master", "add", None);
            foreach (var text in files)
            {
                await commit.PutFileAsync($"/{text.Replace(' ', '-')}.txt", new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text)), None);
            }
            await commit.FinishAsync(None);
        }
        Assert.Equal(2, await objects.ListAsync(None).CountAsync());

        await data.DeleteRepoAsync("a", force: true, None);

        Assert.Equal([Sha256("shared"u8.ToArray())], await objects.ListAsync(None).ToListAsync());
    }

    protected static string Sha256(byte[] content) => Convert.ToHexStringLower(SHA256.HashData(content));

    protected static async Task<byte[]> ReadAllAsync(IObjectStore store, string hash)
    {
        await using var content = await store.OpenReadAsync(hash, None);
        var copy = new MemoryStream();
        await content.CopyToAsync(copy);
        return copy.ToArray();
    }

    public void Dispose()
    {
        foreach (var store in _opened)
        {
            store.Dispose();
        }
        Directory.Delete(Scratch, recursive: true);
        DisposeStore();
        GC.SuppressFinalize(this);
    }

    protected virtual void DisposeStore()
    {
    }
}

public sealed class DirectoryObjectStoreContractTests : ObjectStoreContract
{
    private string Root => Path.Combine(Scratch, "objects");

    protected override IObjectStore OpenNode() => ObjectStores.Open(Root, Path.Combine(Scratch, "unused-cache"));

    protected override Task CorruptAsync(string hash, byte[] damaged) =>
        File.WriteAllBytesAsync(new ObjectStore(Root).PathOf(hash), damaged);
}
