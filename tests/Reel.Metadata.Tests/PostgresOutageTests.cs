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
