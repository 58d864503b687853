using Reel.Data;
using Reel.Data.Metadata;
using Reel.Testing;
using static Reel.Metadata.Tests.DataStoreContractTests;

namespace Reel.Metadata.Tests;

/// <summary>PostgreSQL going away and coming back, on a server of this test's own (the shared one must stay up).</summary>
public sealed class PostgresOutageTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Store_ServerRestarted_FailsTransientlyThenWorksAgainOnTheSameStore()
    {
        await using var server = await PostgresServer.StartAsync();
        var name = await server.CreateDatabaseAsync("outage");
        await using var database = MetadataDatabase.Open(server.Url(name));
        var directory = TestMedia.TempDirectory();
        try
        {
            await using var store = await DataStore.OpenAsync(database, new ObjectStore(Path.Combine(directory, "objects")), directory,
                TimeProvider.System, None);
            await store.CreateRepoAsync("videos", None);
            var first = await CommitAsync(store, "videos", "master", ("/a.txt", "one"));

            await server.StopAsync();
            var down = await Assert.ThrowsAnyAsync<Exception>(() => store.ListReposAsync(None));
            Assert.True(database.IsTransient(down), down.ToString());

            // Retrying rides out the outage: the server comes back while the call waits.
            var retried = database.RetryAsync(c => store.GetHeadAsync("videos", "master", c), TimeSpan.FromSeconds(60), TimeProvider.System, None);
            await Task.Delay(500);
            await server.RestartAsync();
            Assert.Equal(first.Id, (await retried).Id);

            var second = await CommitAsync(store, "videos", "master", ("/b.txt", "two"));
            Assert.Equal(first.Id, second.Parent);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Open_CommitOfAKilledProcess_RemovedOnlyOnceItsSessionIsGone()
    {
        await using var backend = await MetadataBackend.CreateAsync(MetadataBackend.Postgres);
        await using (var store = await backend.OpenDataAsync())
        {
            await store.CreateRepoAsync("videos", None);
        }
        var server = await PostgresServer.Shared;
        // Another process holds master's writer lock in its session, as a reel writing master would, and has an unfinished commit.
        var holder = new System.Diagnostics.ProcessStartInfo(Path.Combine(server.BinDirectory, "psql"))
        {
            ArgumentList = { "-X", "-q", "-d", backend.Location },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(holder)!;
        // Idle in its session after taking the lock, as a writer's lock connection is (stdin stays open).
        await process.StandardInput.WriteLineAsync("SELECT pg_advisory_lock(hashtextextended('reel/branch/videos@master', 0));");
        await process.StandardInput.FlushAsync();
        await using (var connection = await backend.Database.OpenConnectionAsync(None))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            while ((await backend.Database.QueryAsync(connection, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted", r => r.GetInt32(0),
                timeout.Token)).Count == 0)
            {
                await Task.Delay(50, timeout.Token);
            }
            await backend.Database.ExecuteAsync(connection,
                "INSERT INTO commits(id, repo, branch, parent, message, created) VALUES ('elsewhere', 'videos', 'master', NULL, 'x', '2026-01-01T00:00:00Z')", None);
        }

        await using (var whileAlive = await backend.OpenDataAsync())
        {
            Assert.Equal(["elsewhere"], await UnfinishedAsync(backend));
        }
        process.Kill();
        await process.WaitForExitAsync();
        // The server drops the session's locks when its connection closes; recovery then proves the writer gone.
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
        {
            while (true)
            {
                await using (var afterKill = await backend.OpenDataAsync())
                {
                    if ((await UnfinishedAsync(backend)).Count == 0)
                    {
                        break;
                    }
                }
                await Task.Delay(100, timeout.Token);
            }
        }
        Assert.Empty(await UnfinishedAsync(backend));
    }

    private static async Task<IReadOnlyList<string>> UnfinishedAsync(MetadataBackend backend)
    {
        await using var connection = await backend.Database.OpenConnectionAsync(None);
        return await backend.Database.QueryAsync(connection, "SELECT id FROM commits WHERE finished IS NULL", r => r.GetString(0), None);
    }

    [Fact]
    public void Url_Malformed_IsInvalidAndHidesThePassword()
    {
        var error = Assert.Throws<DataException>(() => MetadataDatabase.Open("postgresql://reel:secret@db.example:5432/"));
        Assert.Equal(DataErrorKind.Invalid, error.Kind);
        Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
        Assert.Contains("names no database", error.Message, StringComparison.Ordinal);

        var builder = PostgresMetadataDatabase.ParseUrl("postgres://u%40x:p%3Aw@10.0.0.5:6543/reel?Timeout=7");
        Assert.Equal(("u@x", "p:w", "10.0.0.5", 6543, "reel", 7), (builder.Username, builder.Password, builder.Host, builder.Port, builder.Database, builder.Timeout));
        Assert.IsType<SqliteMetadataDatabase>(MetadataDatabase.Open("/tmp/some-data-dir"));
    }
}
