using Reel.Testing;

namespace Reel.Metadata.Tests;

/// <summary>The test PostgreSQL fixture itself: it serves databases, survives a stop/restart, and leaves nothing behind.</summary>
public sealed class PostgresServerTests
{
    [Fact]
    public async Task Server_StopAndRestart_KeepsDataAndRefusesConnectionsWhileStopped()
    {
        await using var server = await PostgresServer.StartAsync();
        var database = await server.CreateDatabaseAsync("restart");
        await server.SqlAsync(database, "CREATE TABLE t (x int); INSERT INTO t VALUES (42)");

        await server.StopAsync();
        Assert.False(server.IsRunning);
        await Assert.ThrowsAsync<InvalidOperationException>(() => server.SqlAsync(database, "SELECT 1"));

        await server.RestartAsync();
        Assert.Equal("42", await server.SqlAsync(database, "SELECT x FROM t"));
    }

    [Fact]
    public async Task Server_Dispose_StopsPostmasterAndDeletesDirectory()
    {
        var server = await PostgresServer.StartAsync();
        var pid = server.ProcessId!.Value;
        var root = server.Root;
        Assert.True(TestProcesses.IsAlive(pid));
        Assert.Contains("postgres", TestProcesses.CommandLine(pid), StringComparison.Ordinal);

        await server.DisposeAsync();

        Assert.False(TestProcesses.IsAlive(pid));
        Assert.Empty(TestProcesses.Descendants(pid));
        Assert.False(Directory.Exists(root));
    }

    [Fact]
    public async Task Server_OwnerProcessKilled_WatchdogStopsServerAndDeletesDirectory()
    {
        // Stands in for a test host that is killed without disposing: the server must not outlive it.
        using var owner = System.Diagnostics.Process.Start("sleep", ["600"]);
        await using var server = await PostgresServer.StartAsync(new PostgresServerOptions { OwnerProcessId = owner.Id });
        var pid = server.ProcessId!.Value;

        owner.Kill();
        await owner.WaitForExitAsync();

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (TestProcesses.IsAlive(pid) || Directory.Exists(server.Root))
        {
            await Task.Delay(200, timeout.Token);
        }
        Assert.False(server.IsRunning);
    }

    [Fact]
    public async Task Server_PasswordAuth_RefusesWrongPassword()
    {
        var server = await PostgresServer.Shared;
        var database = await server.CreateDatabaseAsync("auth");
        Assert.Equal("reel", await server.SqlAsync(database, "SELECT current_user"));
        // The server runs with scram-sha-256 on TCP: what a cluster node on another host would use.
        Assert.Equal("scram-sha-256", await server.SqlAsync(database, "SHOW password_encryption"));
        Assert.Equal("scram-sha-256",
            await server.SqlAsync(database, "SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' LIMIT 1"));
    }

    [Fact]
    public async Task Server_AllowedSubnet_ListensAndAdmitsThatSubnet()
    {
        await using var server = await PostgresServer.StartAsync(new PostgresServerOptions
        {
            ListenAddresses = ["127.0.0.2"],
            AllowedSubnets = ["127.0.0.0/8", "10.213.7.0/24"],
        });
        Assert.Equal("127.0.0.1,127.0.0.2", await server.SqlAsync("postgres", "SHOW listen_addresses"));
        Assert.Equal("1", await server.SqlAsync("postgres",
            "SELECT count(*) FROM pg_hba_file_rules WHERE address = '10.213.7.0' AND netmask = '255.255.255.0'"));
        // Reachable on the extra address, as network namespaces reach a bridge address.
        Assert.Equal("127.0.0.2", await server.SqlAsync("postgres", "SELECT host(inet_server_addr())", "127.0.0.2"));
    }
}
