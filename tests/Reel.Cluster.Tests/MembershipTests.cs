using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Npgsql;
using Reel.Cluster.Membership;
using Reel.Testing;

namespace Reel.Cluster.Tests;

/// <summary>Orleans membership in a real PostgreSQL, through Reel's own schema and queries, with nodes as real processes.</summary>
public sealed class MembershipTests : IAsyncLifetime
{
    private PostgresServer _server = null!;
    private string _database = null!;
    private readonly string _directory = Directory.CreateTempSubdirectory("reel-membership-").FullName;

    public async Task InitializeAsync()
    {
        _server = await PostgresServer.Shared;
        _database = await _server.CreateDatabaseAsync("membership");
    }

    public async Task DisposeAsync()
    {
        await _server.DropDatabaseAsync(_database);
        Directory.Delete(_directory, recursive: true);
    }

    private async Task<string> InitAsync(params string[] extra)
    {
        var file = Path.Combine(_directory, "cluster.json");
        var (code, stdout, stderr) = await ReelCli.RunAsync(
            ["cluster", "init", "--db", _server.Url(_database), "--objects", Path.Combine(_directory, "objects"), "-o", file, .. extra]);
        Assert.True(code == 0, stderr);
        Assert.Contains("schema ready", stdout, StringComparison.Ordinal);
        return file;
    }

    [Fact]
    public async Task ClusterInit_TwiceOnOneDatabase_StoresEveryQueryTheProviderReadsOnce()
    {
        await InitAsync();
        await InitAsync();
        var keys = (await _server.SqlAsync(_database, "SELECT querykey FROM orleansquery ORDER BY 1"))
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(MembershipSchema.Queries.Keys.Order(StringComparer.Ordinal), keys.Order(StringComparer.Ordinal));
        // The ten keys Microsoft.Orleans.Clustering.AdoNet 10.4 reads (its DbStoredQueries): one missing and no silo starts.
        Assert.Equal(10, keys.Length);
    }

    [Fact]
    public async Task NodeJoin_QueryMissing_FailsAtStartNamingIt()
    {
        var file = await InitAsync();
        await _server.SqlAsync(_database, "DELETE FROM orleansquery WHERE querykey = 'UpdateIAmAlivetimeKey'");
        var (code, _, stderr) = await ReelCli.RunAsync("node", "join", file, "--advertise", "127.0.0.1", "--data", Path.Combine(_directory, "n"));
        Assert.Equal(1, code);
        Assert.Contains("UpdateIAmAlivetimeKey", stderr, StringComparison.Ordinal);
        Assert.Contains("reel cluster init", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NodeJoin_NoSchema_FailsAtStartSayingToInit()
    {
        var file = Path.Combine(_directory, "bare.json");
        File.WriteAllText(file, JsonSerializer.Serialize(new { database = _server.Url(_database), objects = _directory, clusterId = "bare" }));
        var (code, _, stderr) = await ReelCli.RunAsync("node", "join", file, "--advertise", "127.0.0.1", "--data", Path.Combine(_directory, "n"));
        Assert.Equal(1, code);
        Assert.Contains("run 'reel cluster init' first", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NodeJoin_HostNameAsAdvertise_RefusedAsUsage()
    {
        var file = await InitAsync();
        var (code, _, stderr) = await ReelCli.RunAsync("node", "join", file, "--advertise", "localhost", "--data", Path.Combine(_directory, "n"));
        Assert.Equal(2, code);
        Assert.Contains("'localhost' is not an IP address", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Nodes_JoinThenKilledAndStopped_NodeListShowsEachState()
    {
        var file = await InitAsync("--probe-timeout", "1");
        var secondPort = FreePort();
        using var first = NodeProcess.Start(file, "127.0.0.1", Path.Combine(_directory, "a"), null,
            "--silo-port", FreePort(), "--gateway-port", FreePort(), "--slots", "1");
        using var second = NodeProcess.Start(file, "127.0.0.1", Path.Combine(_directory, "b"), null,
            "--silo-port", secondPort, "--gateway-port", FreePort(), "--slots", "1");
        var nodes = await Eventually.WaitAsync(() => ListAsync(file), n => n.Count == 2 && n.All(x => x.Status == "active"),
            TimeSpan.FromSeconds(60), "both nodes active");
        Assert.All(nodes, n => Assert.StartsWith("127.0.0.1:", n.Address, StringComparison.Ordinal));

        second.Kill9();
        var secondAddress = "127.0.0.1:" + secondPort;
        await Eventually.WaitAsync(() => ListAsync(file), n => n.Single(x => x.Address == secondAddress).Status == "dead",
            TimeSpan.FromSeconds(45), "the killed node declared dead");

        first.Terminate();
        Assert.True(await first.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the node did not stop on SIGTERM:\n" + first.Log());
        Assert.Equal(0, first.ExitCode);
        var final = await ListAsync(file);
        Assert.All(final, n => Assert.Equal("dead", n.Status));
    }

    private static string FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
    }

    private static async Task<IReadOnlyList<NodeRow>> ListAsync(string file)
    {
        var (code, stdout, stderr) = await ReelCli.RunAsync("node", "list", "--cluster", file, "--json");
        Assert.True(code == 0, stderr);
        return JsonSerializer.Deserialize<List<NodeRow>>(stdout, new JsonSerializerOptions(JsonSerializerDefaults.Web))!;
    }

    private sealed record NodeRow(string Address, string Status)
    {
        public override string ToString() => $"{Address} {Status}";
    }
}
