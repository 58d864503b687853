using System.Security.Cryptography;
using Amazon.S3.Model;
using Reel.Data;
using Reel.Testing;

namespace Reel.Data.Tests;

/// <summary>The contract against S3 on a real s3rver (one per test run, a bucket per test), plus what only a cache does.</summary>
public sealed class S3ObjectStoreContractTests : ObjectStoreContract
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly S3Server _server = S3Server.Shared;
    private readonly string _bucket;
    private int _nodes;

    public S3ObjectStoreContractTests() => _bucket = _server.CreateBucket();

    private string Url => $"s3://{_bucket}/reel/objects?endpoint={Uri.EscapeDataString(_server.Endpoint)}&region={S3Server.Region}"
        + $"&access_key={S3Server.AccessKey}&secret_key={S3Server.SecretKey}";

    protected override IObjectStore OpenNode() =>
        ObjectStores.Open(Url, Path.Combine(Scratch, $"cache-{Interlocked.Increment(ref _nodes)}"));

    protected override Task CorruptAsync(string hash, byte[] damaged) =>
        File.WriteAllBytesAsync(_server.ObjectFile(_bucket, $"reel/objects/{hash}"), damaged);

    [Fact]
    public async Task Put_BodyInTheBucket_IsExactlyTheContent()
    {
        // Chunked uploads or checksum trailers would leave aws-chunked framing in s3rver's file.
        var content = RandomNumberGenerator.GetBytes((2 << 20) + 5);
        var stored = await Node().PutAsync(new MemoryStream(content), None);

        Assert.Equal(stored.Hash, Sha256(await File.ReadAllBytesAsync(_server.ObjectFile(_bucket, $"reel/objects/{stored.Hash}"))));
    }

    [Fact]
    public async Task Read_OnAnotherNode_FillsItsCacheWithTheCheckedContent()
    {
        var content = RandomNumberGenerator.GetBytes(300_000);
        var stored = await Node().PutAsync(new MemoryStream(content), None);
        var reader = (S3ObjectStore)Node();
        var entry = new ObjectStore(reader.CacheDirectory).PathOf(stored.Hash);
        Assert.False(File.Exists(entry));

        var path = await reader.GetLocalPathAsync(stored.Hash, None);

        Assert.Equal(entry, path);
        Assert.Equal(content, await File.ReadAllBytesAsync(entry));
        // Served from the cache from now on: the bucket's copy is no longer needed.
        using (var client = ObjectStores.CreateClient(S3Location.Parse(Url)))
        {
            await client.DeleteObjectAsync(_bucket, $"reel/objects/{stored.Hash}");
        }
        Assert.Equal(content, await ReadAllAsync(reader, stored.Hash));
    }

    [Fact]
    public async Task CorruptedInBucket_ReadOnAnotherNode_NoCacheEntryUntilRepairedThenRetrySucceeds()
    {
        var writer = Node();
        var content = RandomNumberGenerator.GetBytes(100_000);
        var stored = await writer.PutAsync(new MemoryStream(content), None);
        var damaged = (byte[])content.Clone();
        damaged[0] ^= 1;
        // Overwritten through S3 itself this time (as a faulty writer would), under the same key.
        using (var client = ObjectStores.CreateClient(S3Location.Parse(Url)))
        {
            await client.PutObjectAsync(new PutObjectRequest
            {
                BucketName = _bucket,
                Key = $"reel/objects/{stored.Hash}",
                InputStream = new MemoryStream(damaged),
                UseChunkEncoding = false,
            });
        }
        var reader = (S3ObjectStore)Node();

        var refused = await Assert.ThrowsAsync<DataException>(() => reader.GetLocalPathAsync(stored.Hash, None));
        Assert.Equal(DataErrorKind.Damaged, refused.Kind);
        Assert.False(await reader.ContainsAsync(stored.Hash, None));
        Assert.False(File.Exists(new ObjectStore(reader.CacheDirectory).PathOf(stored.Hash)));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(reader.CacheDirectory, "tmp")));

        // A put of the same content uploads again, repairing the bucket; the reader's retry then succeeds.
        await writer.PutAsync(new MemoryStream(content), None);
        Assert.Equal(content, await ReadAllAsync(reader, stored.Hash));
    }

    [Fact]
    public async Task CacheEntryDamagedAfterFill_ReadRefusedEntryDroppedRetryDownloadsAgain()
    {
        var content = RandomNumberGenerator.GetBytes(100_000);
        var stored = await Node().PutAsync(new MemoryStream(content), None);
        var reader = (S3ObjectStore)Node();
        var entry = await reader.GetLocalPathAsync(stored.Hash, None);
        var damaged = (byte[])content.Clone();
        damaged[^1] ^= 0xff;
        await File.WriteAllBytesAsync(entry, damaged);

        var refused = await Assert.ThrowsAsync<DataException>(() => ReadAllAsync(reader, stored.Hash));

        Assert.Equal(DataErrorKind.Damaged, refused.Kind);
        Assert.Contains(stored.Hash, refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(entry));
        Assert.Equal(content, await ReadAllAsync(reader, stored.Hash));
    }

    [Fact]
    public async Task Delete_RemovesTheCachedCopyToo()
    {
        var store = (S3ObjectStore)Node();
        var stored = await store.PutAsync(new MemoryStream([7, 7, 7]), None);
        var entry = new ObjectStore(store.CacheDirectory).PathOf(stored.Hash);
        Assert.True(File.Exists(entry));

        await store.DeleteAsync(stored.Hash, None);

        Assert.False(File.Exists(entry));
        Assert.Empty(await Node().ListAsync(None).ToListAsync());
    }
}

public sealed class S3LocationTests
{
    private static readonly Dictionary<string, string?> NoEnvironment = [];

    [Fact]
    public void Parse_FullUrl_ReadsEveryPart()
    {
        var location = S3Location.Parse("s3://videos/cluster/a?endpoint=http://10.0.0.1:9000&region=eu-west-1&access_key=AK&secret_key=S%2BK", NoEnvironment);

        Assert.Equal(new S3Location("videos", "cluster/a/", new Uri("http://10.0.0.1:9000"), "eu-west-1", "AK", "S+K"), location);
    }

    [Fact]
    public void Parse_NoCredentialsInUrl_TakesThemFromTheEnvironment()
    {
        var location = S3Location.Parse("s3://videos", new Dictionary<string, string?>
        {
            ["AWS_ACCESS_KEY_ID"] = "env-key",
            ["AWS_SECRET_ACCESS_KEY"] = "env-secret",
        });

        Assert.Equal(new S3Location("videos", "", null, "us-east-1", "env-key", "env-secret"), location);
    }

    [Theory]
    [InlineData("s3://Videos", "'Videos' is not a bucket name")]
    [InlineData("s3://videos?endpoint=ftp://x", "endpoint 'ftp://x' is not an http:// or https:// URL")]
    [InlineData("s3://videos?bucket=x", "unknown parameter 'bucket'")]
    [InlineData("s3://videos?access_key=AK", "an access key needs its secret key")]
    [InlineData("videos", "it does not start with s3://")]
    public void Parse_Malformed_InvalidNamingTheUrl(string url, string reason)
    {
        var refused = Assert.Throws<DataException>(() => S3Location.Parse(url, NoEnvironment));

        Assert.Equal(DataErrorKind.Invalid, refused.Kind);
        Assert.Contains($"'{url}'", refused.Message, StringComparison.Ordinal);
        Assert.Contains(reason, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_SecretInUrl_NotRepeatedInTheError()
    {
        var refused = Assert.Throws<DataException>(() => S3Location.Parse("s3://videos?secret_key=hush&bogus=1", NoEnvironment));

        Assert.DoesNotContain("hush", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_DirectoryOrS3OrOtherScheme()
    {
        var directory = TestMedia.TempDirectory();
        try
        {
            using (var local = ObjectStores.Open(directory, Path.Combine(directory, "cache")))
            {
                Assert.IsType<ObjectStore>(local);
            }
            using (var s3 = ObjectStores.Open("s3://videos?endpoint=http://127.0.0.1:1&access_key=a&secret_key=b", Path.Combine(directory, "cache")))
            {
                Assert.Equal("s3://videos/", Assert.IsType<S3ObjectStore>(s3).Location);
            }
            var refused = Assert.Throws<DataException>(() => ObjectStores.Open("gs://videos", directory));
            Assert.Equal(DataErrorKind.Invalid, refused.Kind);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
