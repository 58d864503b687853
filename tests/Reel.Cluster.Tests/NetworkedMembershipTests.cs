using System.Text.Json;
using Reel.Testing;

namespace Reel.Cluster.Tests;

/// <summary>
/// Nodes as separate processes, each in its own network namespace (its own IP), with PostgreSQL on the bridge: what
/// the membership does when a node is killed or cut off from the others (but not from PostgreSQL).
/// </summary>
public sealed class NetworkedMembershipTests
{
    [Fact]
    public async Task ThreeNodes_OneCutOffOneKilled_CutNodeLeavesByItselfKilledDeclaredDeadThirdStays()
    {
        using var lab = NetworkLab.Create();
        await using var postgres = await PostgresServer.StartAsync(new PostgresServerOptions
        {
            ListenAddresses = [lab.HostAddress], AllowedSubnets = [lab.Subnet],
        });
        var database = await postgres.CreateDatabaseAsync("netmembers");
        var directory = Directory.CreateTempSubdirectory("reel-netmembers-").FullName;
        try
        {
            var file = Path.Combine(directory, "cluster.json");
            var (code, _, stderr) = await ReelCli.RunAsync(
                "cluster", "init", "--db", postgres.Url(database, lab.HostAddress), "--objects", Path.Combine(directory, "objects"),
                "--probe-timeout", "1", "-o", file);
            Assert.True(code == 0, stderr);
            var hosts = Enumerable.Range(0, 3).Select(_ => lab.AddHost()).ToList();
            using var a = NodeProcess.Start(file, hosts[0].Address, Path.Combine(directory, "a"), hosts[0].Namespace, "--slots", "1");
            using var b = NodeProcess.Start(file, hosts[1].Address, Path.Combine(directory, "b"), hosts[1].Namespace, "--slots", "1");
            using var c = NodeProcess.Start(file, hosts[2].Address, Path.Combine(directory, "c"), hosts[2].Namespace, "--slots", "1");
            var nodes = await Eventually.WaitAsync(() => ListAsync(file), n => n.Count(x => x.Status == "active") == 3,
                TimeSpan.FromSeconds(90), "three nodes active");
            Assert.Equal(hosts.Select(h => h.Address + ":11111").Order(), nodes.Select(n => n.Address).Order());

            lab.Cut(hosts[2].Namespace, [hosts[0].Address, hosts[1].Address]);
            Assert.True(await c.WaitForExitAsync(TimeSpan.FromSeconds(90)), "the cut-off node did not leave by itself:\n" + c.Log());
            await Eventually.WaitAsync(() => ListAsync(file), n => n.Single(x => x.Address == hosts[2].Address + ":11111").Status == "dead",
                TimeSpan.FromSeconds(30), "the cut-off node recorded dead");
            Assert.False(a.HasExited || b.HasExited, "a node on the majority side stopped:\n" + a.Log() + b.Log());

            b.Kill9();
            var final = await Eventually.WaitAsync(() => ListAsync(file), n => n.Single(x => x.Address == hosts[1].Address + ":11111").Status == "dead",
                TimeSpan.FromSeconds(60), "the killed node declared dead");
            Assert.Equal("active", final.Single(x => x.Address == hosts[0].Address + ":11111").Status);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
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
