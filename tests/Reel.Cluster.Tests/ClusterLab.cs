using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Reel.Testing;

namespace Reel.Cluster.Tests;

/// <summary>
/// A whole cluster for failure tests: the network lab, a private PostgreSQL and the shared s3rver reachable on the
/// bridge address, a cluster file (short probe and lease times), an input repo of <see cref="Datums"/> small files,
/// and a pipeline whose every datum is a short deterministic command. Nodes are added as processes in namespaces.
/// </summary>
internal sealed class ClusterLab : IAsyncDisposable
{
    public const int Datums = 120;

    private readonly NetworkLab _network;
    private readonly PostgresServer _postgres;
    private readonly List<NodeProcess> _nodes = [];

    public string Directory { get; }

    public string ClusterFile { get; }

    /// <summary>One line per datum run, appended by the datums themselves (the nodes share this file system).</summary>
    public string RunsFile => Path.Combine(Directory, "runs.txt");

    public IReadOnlyList<NodeProcess> Nodes => _nodes;

    public PostgresServer Postgres => _postgres;

    /// <summary>The bucket the cluster's objects are in (on the shared s3rver).</summary>
    public string Bucket { get; private init; } = "";

    private ClusterLab(NetworkLab network, PostgresServer postgres, string directory, string clusterFile)
    {
        _network = network;
        _postgres = postgres;
        Directory = directory;
        ClusterFile = clusterFile;
    }

    public NetworkLab Network => _network;

    /// <param name="sums">Create the <see cref="Datums"/>-file input repo and its pipeline; without, the test makes its own.</param>
    public static async Task<ClusterLab> StartAsync(double seconds = 1, bool sums = true)
    {
        var network = NetworkLab.Create();
        PostgresServer? postgres = null;
        var directory = System.IO.Directory.CreateTempSubdirectory("reel-clusterlab-").FullName;
        try
        {
            postgres = await PostgresServer.StartAsync(new PostgresServerOptions { ListenAddresses = [network.HostAddress], AllowedSubnets = [network.Subnet] });
            var database = await postgres.CreateDatabaseAsync("cluster");
            var s3 = S3Server.Shared;
            var bucket = s3.CreateBucket();
            var objects = $"s3://{bucket}?endpoint={Uri.EscapeDataString(s3.EndpointAt(network.HostAddress))}&access_key={S3Server.AccessKey}&secret_key={S3Server.SecretKey}";
            var file = Path.Combine(directory, "cluster.json");
            var lab = new ClusterLab(network, postgres, directory, file) { Bucket = bucket };
            await lab.OkAsync("cluster", "init", "--db", postgres.Url(database, network.HostAddress), "--objects", objects,
                "--probe-timeout", "1", "--lease", "6", "-o", file);
            if (!sums)
            {
                return lab;
            }
            var inbox = System.IO.Directory.CreateDirectory(Path.Combine(directory, "inbox")).FullName;
            for (var i = 0; i < Datums; i++)
            {
                await File.WriteAllTextAsync(Path.Combine(inbox, $"f{i:D3}"), $"content {i}\n");
            }
            var spec = Path.Combine(directory, "sums.yaml");
            await File.WriteAllTextAsync(spec, $$$"""
                pipeline: {name: sums}
                input: {pfs: {repo: inbox, glob: "/*"}}
                datum_tries: 2
                transform:
                  cmd: [sh, -c, 'sleep {{{seconds.ToString(CultureInfo.InvariantCulture)}}}; for f in /pfs/inbox/*; do sha256sum < "$f" > /pfs/out/$(basename "$f").sum; echo "$(basename "$f")" >> {{{lab.RunsFile}}}; echo "summed $(basename "$f")"; done']
                """);
            await lab.OkAsync("repo", "create", "inbox");
            await lab.OkAsync("pipeline", "create", "-f", spec);
            return lab;
        }
        catch
        {
            if (postgres is not null)
            {
                await postgres.DisposeAsync();
            }
            network.Dispose();
            System.IO.Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    /// <summary>Starts a node in a new namespace host.</summary>
    public NodeProcess AddNode(int slots = 2, params string[] extra)
    {
        var (ns, address) = _network.AddHost();
        var node = NodeProcess.Start(ClusterFile, address, Path.Combine(Directory, "node-" + address), ns,
            ["--slots", slots.ToString(CultureInfo.InvariantCulture), .. extra]);
        _nodes.Add(node);
        return node;
    }

    /// <summary>Commits the inputs: the pipeline's job starts on the nodes.</summary>
    public async Task<string> StartJobAsync()
    {
        await OkAsync("put", "inbox@master:/", "-f", Path.Combine(Directory, "inbox"), "-r");
        var job = await Eventually.WaitAsync(async () => JsonDocument.Parse(await OkAsync("job", "list", "--json")).RootElement, j => j.GetArrayLength() == 1,
            TimeSpan.FromSeconds(30), "the job created");
        return job[0].GetProperty("id").GetString()!;
    }

    public async Task<JsonElement> JobAsync(string job) => JsonDocument.Parse(await OkAsync("job", "inspect", job, "--json")).RootElement;

    public async Task WaitForNodesAsync(int active) =>
        await Eventually.WaitAsync(async () => JsonDocument.Parse(await OkAsync("node", "list", "--json")).RootElement,
            n => n.EnumerateArray().Count(x => x.GetProperty("status").GetString() == "active") == active, TimeSpan.FromSeconds(90), $"{active} nodes active");

    /// <summary>Waits until the job has ended; returns its inspect JSON. A job that never ends fails with the nodes' logs.</summary>
    public async Task<JsonElement> WaitForJobAsync(string job, TimeSpan limit)
    {
        try
        {
            return await Eventually.WaitAsync(() => JobAsync(job), j => j.GetProperty("state").GetString() is not ("Starting" or "Running"), limit, "the job finished");
        }
        catch (TimeoutException e)
        {
            // CI keeps a failure's first lines: one line per node first, then the job and the logs' tails.
            throw new TimeoutException($"the job did not end within {limit.TotalSeconds:0} s\n{NodeSummary()}\n{e.Message}\n{Logs()}", e);
        }
    }

    /// <summary>A line per node: whether it runs, how many errors it logged, and its last line from Reel.</summary>
    private string NodeSummary() => string.Join("\n", _nodes.Select(n =>
    {
        var lines = n.Log().Split('\n');
        var last = lines.LastOrDefault(l => l.Contains(": Reel.", StringComparison.Ordinal)) ?? "(no line from Reel)";
        var state = n.HasExited ? $"exited ({n.ExitCode})" : "running";
        return $"node {n.Address}: {state}, {lines.Count(l => l.Contains(" fail: ", StringComparison.Ordinal))} errors; last: {last[..Math.Min(last.Length, 200)]}";
    }));

    /// <summary>How many datums have succeeded so far.</summary>
    public async Task<int> SucceededAsync(string job) => (await JobAsync(job)).GetProperty("datums").GetProperty("success").GetInt32();

    /// <summary>Each input name and how many times a datum ran for it.</summary>
    public IReadOnlyDictionary<string, int> Runs() => File.Exists(RunsFile)
        ? File.ReadAllLines(RunsFile).Where(l => l.Length > 0).GroupBy(l => l).ToDictionary(g => g.Key, g => g.Count())
        : new Dictionary<string, int>();

    /// <summary>The output a one-node run commits: per input, its .sum file holding sha256sum's line for it.</summary>
    public static IReadOnlyDictionary<string, string> ExpectedOutput() => Enumerable.Range(0, Datums).ToDictionary(
        i => $"/f{i:D3}.sum",
        i =>
        {
            var line = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"content {i}\n"))).ToLowerInvariant() + "  -\n";
            return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(line))).ToLowerInvariant();
        });

    /// <summary>The SHA-256 (the object key) of input <paramref name="i"/>.</summary>
    public static string InputHash(int i) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"content {i}\n"))).ToLowerInvariant();

    /// <summary>Paths and content hashes of the output repo's head.</summary>
    public async Task<IReadOnlyDictionary<string, string>> OutputAsync()
    {
        var listing = JsonDocument.Parse(await OkAsync("ls", "sums@master:/", "--json")).RootElement;
        return listing.EnumerateArray().ToDictionary(e => e.GetProperty("path").GetString()!, e => e.GetProperty("hash").GetString()!);
    }

    /// <summary>Paths and content hashes of every file in a repo's head, however deep.</summary>
    public async Task<IReadOnlyDictionary<string, string>> FilesAsync(string repo)
    {
        var listing = JsonDocument.Parse(await OkAsync("glob", repo + "@master:/**", "--json")).RootElement;
        return listing.EnumerateArray().ToDictionary(e => e.GetProperty("path").GetString()!, e => e.GetProperty("hash").GetString()!);
    }

    public async Task<int> OutputCommitsAsync() => JsonDocument.Parse(await OkAsync("log", "sums@master", "--json")).RootElement.GetArrayLength();

    public async Task<string> OkAsync(params string[] arguments)
    {
        var (code, stdout, stderr) = await ReelCli.RunAsync(["--cluster", ClusterFile, .. arguments]);
        Assert.True(code == 0, $"reel {string.Join(' ', arguments)} failed ({code}): {stderr}");
        return stdout;
    }

    /// <summary>The data directory of a node (its scratch, its datums' local logs, its object cache).</summary>
    public string NodeDirectory(NodeProcess node) => Path.Combine(Directory, "node-" + node.Address);

    /// <summary><c>reel logs ARGS</c> from a fresh local directory: a machine that ran no datum and holds no log or cached object.</summary>
    public async Task<string> LogsFromFreshDirectoryAsync(params string[] arguments)
    {
        var fresh = System.IO.Directory.CreateDirectory(Path.Combine(Directory, "fresh-" + Guid.NewGuid().ToString("N"))).FullName;
        var (code, stdout, stderr) = await ReelCli.RunAsync(new Dictionary<string, string> { ["REEL_DATA_DIR"] = fresh },
            ["--cluster", ClusterFile, "logs", .. arguments]);
        Assert.True(code == 0, $"reel logs {string.Join(' ', arguments)} failed ({code}): {stderr}");
        return stdout;
    }

    /// <summary>Every node's log, for failure messages.</summary>
    public string Logs() => string.Join("\n", _nodes.Select(n => $"--- node {n.Address} ---\n{Tail(n.Log())}"));

    private static string Tail(string log) => string.Join('\n', log.Split('\n').Where(l => !l.Contains("warn: Orleans", StringComparison.Ordinal)).TakeLast(40));

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            node.Dispose();
        }
        await _postgres.DisposeAsync();
        _network.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
