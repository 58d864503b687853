using System.Security.Cryptography;
using Reel.Data;
using Reel.Testing;

namespace Reel.Data.Tests;

public sealed class ObjectStoreTests : IDisposable
{
    private readonly string _directory = TestMedia.TempDirectory();

    [Fact]
    public async Task Put_SameContentTwice_StoresOneObject()
    {
        var store = new ObjectStore(_directory);
        var content = RandomNumberGenerator.GetBytes(3 << 20);

        var first = await store.PutAsync(new MemoryStream(content), CancellationToken.None);
        var second = await store.PutAsync(new MemoryStream(content), CancellationToken.None);

        Assert.Equal(first, second);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(content)), first.Hash);
        Assert.Equal(content.Length, first.Size);
        Assert.Single(store.Hashes());
        Assert.Equal(Path.Combine(store.Root, first.Hash[..2], first.Hash[2..]), store.PathOf(first.Hash));
        Assert.Empty(Directory.EnumerateFiles(store.TempDirectory));
        await using var read = store.Open(first.Hash);
        var copy = new MemoryStream();
        await read.CopyToAsync(copy);
        Assert.Equal(content, copy.ToArray());
    }

    [Fact]
    public async Task Put_FailingSource_LeavesNoObjectAndNoTemporaryFile()
    {
        var store = new ObjectStore(_directory);

        await Assert.ThrowsAsync<IOException>(() => store.PutAsync(new FailingStream(), CancellationToken.None));

        Assert.Empty(store.Hashes());
        Assert.Empty(Directory.EnumerateFiles(store.TempDirectory));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private sealed class FailingStream : MemoryStream
    {
        private int _reads;

        public FailingStream()
            : base(new byte[1 << 16])
        {
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            _reads++ == 0 ? base.ReadAsync(buffer[..1000], cancellationToken) : throw new IOException("source went away");
    }
}
