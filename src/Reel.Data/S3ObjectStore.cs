using System.Net;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Reel.Data;

/// <summary>
/// Objects in an S3 bucket under <c>PREFIX + hash</c>, read through a node-local cache (a directory laid out like
/// <see cref="ObjectStore"/>). A cache entry is filled only with content that matched its hash on the way in, so
/// neither S3 saying an object exists nor a body it returns counts until it is checked. Puts always upload (an upload
/// of the same content also repairs a damaged copy in the bucket).
/// </summary>
public sealed class S3ObjectStore : IObjectStore
{
    private const int BufferSize = 1 << 20;

    private readonly IAmazonS3 _s3;
    private readonly bool _ownsClient;
    private readonly string _bucket;
    private readonly string _prefix;
    private readonly ObjectStore _cache;

    /// <param name="s3">The client; <see cref="ObjectStores.CreateClient"/> sets it up for S3-compatible servers.</param>
    /// <param name="bucket">An existing bucket.</param>
    /// <param name="prefix">Prepended to every key: empty, or ending in '/'.</param>
    /// <param name="cacheDirectory">This node's cache; created when missing.</param>
    /// <param name="ownsClient">Whether disposing the store disposes the client.</param>
    public S3ObjectStore(IAmazonS3 s3, string bucket, string prefix, string cacheDirectory, bool ownsClient = false)
    {
        _s3 = s3;
        _bucket = bucket;
        _prefix = prefix;
        _ownsClient = ownsClient;
        _cache = new ObjectStore(cacheDirectory);
    }

    public string Location => $"s3://{_bucket}/{_prefix}";

    /// <summary>The node-local cache directory.</summary>
    public string CacheDirectory => _cache.Root;

    /// <summary>The key an object is stored under.</summary>
    public string KeyOf(string hash)
    {
        _ = _cache.PathOf(hash); // validates the hash
        return _prefix + hash;
    }

    public async Task<StoredObject> PutAsync(Stream content, CancellationToken cancellationToken)
    {
        // Spooled to a local file first: the key is the hash, known only at the end, and the upload needs a length.
        var temp = _cache.NewTemporaryPath();
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
            }
            var stored = new StoredObject(Convert.ToHexStringLower(sha.GetHashAndReset()), size);
            await UploadAsync(temp, stored.Hash, cancellationToken);
            _cache.Place(temp, stored.Hash, durable: false);
            return stored;
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public async Task<StoredObject> PutFileAsync(string file, CancellationToken cancellationToken)
    {
        long size;
        string hash;
        await using (var content = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize, FileOptions.Asynchronous | FileOptions.SequentialScan))
        {
            size = content.Length;
            hash = Convert.ToHexStringLower(await SHA256.HashDataAsync(content, cancellationToken));
        }
        await UploadAsync(file, hash, cancellationToken);
        // What was just hashed is a checked cache entry: a later read on this node needs no download.
        _cache.Place(file, hash, durable: false);
        return new StoredObject(hash, size);
    }

    private async Task UploadAsync(string file, string hash, CancellationToken cancellationToken)
    {
        // Unchunked, with no checksum trailer: S3-compatible servers such as s3rver store aws-chunked framing as data.
        var request = new PutObjectRequest
        {
            BucketName = _bucket,
            Key = KeyOf(hash),
            FilePath = file,
            ContentType = "application/octet-stream",
            UseChunkEncoding = false,
        };
        await _s3.PutObjectAsync(request, cancellationToken);
    }

    /// <summary>Uploads are durable when S3 answers; the cache entries they left are synced like adopted objects.</summary>
    public Task FlushAsync(CancellationToken cancellationToken) => _cache.FlushAsync(cancellationToken);

    public async Task<bool> ContainsAsync(string hash, CancellationToken cancellationToken)
    {
        try
        {
            await GetLocalPathAsync(hash, cancellationToken);
            return true;
        }
        catch (DataException e) when (e.Kind is DataErrorKind.NotFound or DataErrorKind.Damaged)
        {
            return false;
        }
    }

    public async Task<string> GetLocalPathAsync(string hash, CancellationToken cancellationToken)
    {
        var cached = _cache.PathOf(hash);
        if (File.Exists(cached))
        {
            return cached;
        }
        await FillAsync(hash, cancellationToken);
        return cached;
    }

    /// <summary>Downloads an object into the cache, checking its hash before it gets its name there.</summary>
    private async Task FillAsync(string hash, CancellationToken cancellationToken)
    {
        var temp = _cache.NewTemporaryPath();
        try
        {
            using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            try
            {
                using var response = await _s3.GetObjectAsync(_bucket, KeyOf(hash), cancellationToken);
                await using var body = response.ResponseStream;
                await using var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
                var buffer = new byte[BufferSize];
                int read;
                try
                {
                    while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
                    {
                        sha.AppendData(buffer, 0, read);
                        await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                    }
                }
                catch (AmazonClientException) when (Convert.ToHexStringLower(sha.GetCurrentHash()) != hash)
                {
                    // The SDK checks a body against an MD5 ETag after its last byte: the hash below names the damage.
                }
                // A cache entry is trusted without another check: it must not be torn by a crash either.
                file.Flush(flushToDisk: true);
            }
            catch (AmazonS3Exception e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
                throw ObjectErrors.Missing(hash, Location);
            }
            var actual = Convert.ToHexStringLower(sha.GetHashAndReset());
            if (actual != hash)
            {
                throw ObjectErrors.Damaged(hash, Location, actual);
            }
            _cache.Place(temp, hash, durable: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    public async Task<Stream> OpenReadAsync(string hash, CancellationToken cancellationToken)
    {
        await GetLocalPathAsync(hash, cancellationToken);
        // Checked again as it is read: a cache entry damaged since its fill is dropped, so a retry downloads it anew.
        return _cache.OpenChecked(hash, onDamaged: () => _cache.Delete(hash));
    }

    public async IAsyncEnumerable<string> ListAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var request = new ListObjectsV2Request { BucketName = _bucket, Prefix = _prefix };
        ListObjectsV2Response response;
        do
        {
            response = await _s3.ListObjectsV2Async(request, cancellationToken);
            foreach (var item in response.S3Objects ?? [])
            {
                var name = item.Key[_prefix.Length..];
                if (ObjectStore.IsHash(name))
                {
                    yield return name;
                }
            }
            request.ContinuationToken = response.NextContinuationToken;
        }
        while (response.IsTruncated == true);
    }

    public async Task DeleteAsync(string hash, CancellationToken cancellationToken)
    {
        await _s3.DeleteObjectAsync(_bucket, KeyOf(hash), cancellationToken);
        _cache.Delete(hash);
    }

    public string NewTemporaryPath() => _cache.NewTemporaryPath();

    public int RemoveTemporaryFiles() => _cache.RemoveTemporaryFiles();

    public void Dispose()
    {
        if (_ownsClient)
        {
            _s3.Dispose();
        }
    }
}
