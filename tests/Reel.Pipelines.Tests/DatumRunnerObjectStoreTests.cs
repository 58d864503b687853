using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Reel.Data;
using Reel.Pipelines.Datums;
using Reel.Pipelines.Execution;
using Reel.Pipelines.Specs;
using Reel.Testing;

namespace Reel.Pipelines.Tests;

/// <summary>
/// A datum on each kind of object store: inputs reach the command's scratch through the store (for S3, through the
/// node's checked cache) and outputs go back into it (for S3, uploaded so another node reads them).
/// </summary>
public sealed class DatumRunnerObjectStoreTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly string _directory = TestMedia.TempDirectory();
    private readonly List<IObjectStore> _stores = [];
    private readonly string _objects;
    private int _nodes;

    public DatumRunnerObjectStoreTests()
    {
        _objects = Path.Combine(_directory, "objects");
    }

    private static readonly PipelineSpec Upper = SpecReader.Parse("""
        pipeline: {name: upper}
        input: {pfs: {repo: text, glob: "/*"}}
        transform:
          cmd: [sh, -c, "tr a-z A-Z < /pfs/text/a.txt > /pfs/out/A.txt"]
        """, "upper.yaml", Path.GetTempPath());

    [Theory]
    [InlineData("directory")]
    [InlineData("s3")]
    public async Task Run_InputFromTheStore_OutputStoredAndReadableOnAnotherNode(string kind)
    {
        var open = Opener(kind);
        var input = await Node(open).PutAsync(new MemoryStream("hello"u8.ToArray()), None);
        var runner = new DatumRunner(Node(open), Path.Combine(_directory, "scratch"));

        var result = await runner.RunAsync(Upper, "job", Datum.Of([new DatumFile("text", "/a.txt", input.Hash, input.Size)]),
            Path.Combine(_directory, "log"), None);

        var output = Assert.Single(result.Outputs);
        Assert.Equal(0, result.Frames);
        Assert.Equal(new FileEntry("/A.txt", Convert.ToHexStringLower(SHA256.HashData("HELLO"u8)), 5), output);
        await using var read = await Node(open).OpenReadAsync(output.Hash, None);
        Assert.Equal("HELLO", await new StreamReader(read, Encoding.UTF8).ReadToEndAsync());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_directory, "scratch", "pfs", "out")));
    }

    [Fact]
    public async Task Run_ExtractStep_CountsTheFramesItWrote()
    {
        var store = Node(Opener("directory"));
        StoredObject video;
        await using (var content = File.OpenRead(TestMedia.Fixture("small.ogv")))
        {
            video = await store.PutAsync(content, None);
        }
        var spec = SpecReader.Parse("""
            pipeline: {name: frames}
            input: {pfs: {repo: videos, glob: "/*"}}
            transform:
              steps:
                - extract: {}
            """, "frames.yaml", Path.GetTempPath());
        var runner = new DatumRunner(store, Path.Combine(_directory, "scratch"));

        var result = await runner.RunAsync(spec, "job", Datum.Of([new DatumFile("videos", "/small.ogv", video.Hash, video.Size)]),
            Path.Combine(_directory, "log"), None);

        // small.ogv has 89 frames (ffprobe -count_frames): every one written (beside the run's record), and counted for the node's frames meter.
        Assert.Equal(89, result.Outputs.Count(o => o.Path.EndsWith(".jpg", StringComparison.Ordinal)));
        Assert.Equal(89, result.Frames);
    }

    [Fact]
    public async Task Run_ExtractStepOnS3_FramesUploadedWhileTheRestAreExtracted()
    {
        var open = Opener("s3");
        var store = new WatchedStore(Node(open));
        StoredObject video;
        await using (var content = File.OpenRead(TestMedia.Fixture("samsungfun.mp4")))
        {
            video = await store.PutAsync(content, None);
        }
        var spec = SpecReader.Parse("""
            pipeline: {name: frames}
            input: {pfs: {repo: videos, glob: "/*"}}
            transform:
              steps:
                - extract: {}
            """, "frames.yaml", Path.GetTempPath());
        var runner = new DatumRunner(store, Path.Combine(_directory, "scratch"));

        var result = await runner.RunAsync(spec, "job", Datum.Of([new DatumFile("videos", "/samsungfun.mp4", video.Hash, video.Size)]),
            Path.Combine(_directory, "log"), None);

        // Stored during the run: when the store took some frame, fewer than all 331 had been written. The video takes
        // seconds to extract (a tiny one takes a fraction of one), so neither a store that starts late on a busy machine
        // nor the count's overcount of frames in flight hides it.
        Assert.Equal(331, store.FramesWrittenWhenTaken.Count);
        Assert.Contains(store.FramesWrittenWhenTaken, written => written < 331);
        var frames = result.Outputs.Where(o => o.Path.EndsWith(".jpg", StringComparison.Ordinal)).ToList();
        Assert.Equal(331, frames.Count);
        Assert.Equal(result.Outputs.OrderBy(o => o.Path, StringComparer.Ordinal), result.Outputs);
        Assert.Contains(result.Outputs, o => o.Path.EndsWith("/frames.jsonl", StringComparison.Ordinal));
        var anotherNode = Node(open);
        foreach (var frame in frames)
        {
            Assert.True(await anotherNode.ContainsAsync(frame.Hash, None), frame.Path);
        }
    }

    [Fact]
    public async Task Run_InputCorruptedInTheBucket_DatumFailsNamingTheObjectAndTheCommandNeverRuns()
    {
        var server = S3Server.Shared;
        var bucket = server.CreateBucket();
        var open = S3Opener(server, bucket);
        var input = await Node(open).PutAsync(new MemoryStream("hello"u8.ToArray()), None);
        await File.WriteAllTextAsync(server.ObjectFile(bucket, input.Hash), "jello");
        var runner = new DatumRunner(Node(open), Path.Combine(_directory, "scratch"));

        var refused = await Assert.ThrowsAsync<DataException>(() => runner.RunAsync(
            Upper, "job", Datum.Of([new DatumFile("text", "/a.txt", input.Hash, input.Size)]), Path.Combine(_directory, "log"), None));

        Assert.Equal(DataErrorKind.Damaged, refused.Kind);
        Assert.Contains(input.Hash, refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_directory, "log")));
        Assert.Empty(await Node(open).ListAsync(None).Where(h => h != input.Hash).ToListAsync());
    }

    /// <summary>The real store, noting for each frame it takes how many frames had been written by then.</summary>
    private sealed class WatchedStore(IObjectStore inner) : IObjectStore
    {
        private int _taken;

        /// <summary>Frames taken so far (this one included) plus those still in the folder: every frame written by then.</summary>
        public ConcurrentBag<int> FramesWrittenWhenTaken { get; } = [];

        public Task<StoredObject> PutFileAsync(string file, CancellationToken cancellationToken)
        {
            if (file.EndsWith(".jpg", StringComparison.Ordinal))
            {
                var taken = Interlocked.Increment(ref _taken);
                // A frame still in the folder may be one being taken now, counted twice: the sum never undercounts.
                var present = Directory.EnumerateFiles(Path.GetDirectoryName(file)!, "*.jpg").Count(f => f != file);
                FramesWrittenWhenTaken.Add(taken + present);
            }
            return inner.PutFileAsync(file, cancellationToken);
        }

        public string Location => inner.Location;
        public Task<StoredObject> PutAsync(Stream content, CancellationToken cancellationToken) => inner.PutAsync(content, cancellationToken);
        public Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);
        public Task<bool> ContainsAsync(string hash, CancellationToken cancellationToken) => inner.ContainsAsync(hash, cancellationToken);
        public Task<string> GetLocalPathAsync(string hash, CancellationToken cancellationToken) => inner.GetLocalPathAsync(hash, cancellationToken);
        public Task<Stream> OpenReadAsync(string hash, CancellationToken cancellationToken) => inner.OpenReadAsync(hash, cancellationToken);
        public IAsyncEnumerable<string> ListAsync(CancellationToken cancellationToken) => inner.ListAsync(cancellationToken);
        public Task DeleteAsync(string hash, CancellationToken cancellationToken) => inner.DeleteAsync(hash, cancellationToken);
        public string NewTemporaryPath() => inner.NewTemporaryPath();
        public int RemoveTemporaryFiles() => inner.RemoveTemporaryFiles();
        public void Dispose() => inner.Dispose();
    }

    private Func<string, IObjectStore> Opener(string kind)
    {
        if (kind == "directory")
        {
            return cache => ObjectStores.Open(_objects, cache);
        }
        var server = S3Server.Shared;
        return S3Opener(server, server.CreateBucket());
    }

    private static Func<string, IObjectStore> S3Opener(S3Server server, string bucket) => cache => ObjectStores.Open(
        $"s3://{bucket}?endpoint={server.Endpoint}&access_key={S3Server.AccessKey}&secret_key={S3Server.SecretKey}", cache);

    /// <summary>Another node: its own cache directory.</summary>
    private IObjectStore Node(Func<string, IObjectStore> open)
    {
        var store = open(Path.Combine(_directory, $"cache-{++_nodes}"));
        _stores.Add(store);
        return store;
    }

    public void Dispose()
    {
        foreach (var store in _stores)
        {
            store.Dispose();
        }
        Directory.Delete(_directory, recursive: true);
    }
}
