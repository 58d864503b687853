using System.Security.Cryptography;

namespace Reel.Data;

/// <summary>
/// Reads an object and, on reaching its end, checks the content against the hash: a mismatch throws
/// <see cref="DataErrorKind.Damaged"/> (after <paramref name="onDamaged"/>, e.g. dropping a bad cache entry) instead of
/// reporting the end, so a reader that copies to the end never takes damaged content for whole.
/// </summary>
internal sealed class HashCheckingStream(Stream inner, string hash, string location, Action? onDamaged) : Stream
{
    private readonly IncrementalHash _sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private bool _checked;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => inner.Length;

    public override long Position
    {
        get => inner.Position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var read = inner.Read(buffer);
        return Seen(buffer[..read], buffer.IsEmpty);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken);
        return Seen(buffer.Span[..read], buffer.IsEmpty);
    }

    private int Seen(ReadOnlySpan<byte> data, bool askedForNothing)
    {
        if (data.Length > 0)
        {
            _sha.AppendData(data);
        }
        else if (!askedForNothing && !_checked)
        {
            _checked = true;
            var actual = Convert.ToHexStringLower(_sha.GetHashAndReset());
            if (actual != hash)
            {
                onDamaged?.Invoke();
                throw ObjectErrors.Damaged(hash, location, actual);
            }
        }
        return data.Length;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
            _sha.Dispose();
        }
        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync();
        _sha.Dispose();
        await base.DisposeAsync();
    }
}

/// <summary>The object store's errors, worded once.</summary>
internal static class ObjectErrors
{
    public static DataException Missing(string hash, string location) =>
        new(DataErrorKind.NotFound, $"object {hash} is not in {location}");

    public static DataException Damaged(string hash, string location, string actual) =>
        new(DataErrorKind.Damaged, $"object {hash} in {location} is damaged: its content hashes to {actual}");
}
