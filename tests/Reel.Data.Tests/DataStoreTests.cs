using System.Text;
using Microsoft.Data.Sqlite;
using Reel.Data;
using Reel.Testing;

namespace Reel.Data.Tests;

public sealed class DataStoreTests : IDisposable
{
    private readonly string _directory = TestMedia.TempDirectory();

    private static readonly CancellationToken None = CancellationToken.None;

    [Fact]
    public async Task Commits_PutAndDelete_EachCommitIsASnapshotAndLogIsNewestFirst()
    {
        var time = new ManualTime(new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero));
        await using var store = await DataStore.OpenAsync(_directory, time, None);
        await store.CreateRepoAsync("videos", None);

        var first = await CommitAsync(store, "videos", "master", ("/a.txt", "one"), ("/dir/b.txt", "two"));
        time.Advance(TimeSpan.FromMinutes(1));
        CommitInfo second;
        await using (var writer = await store.BeginCommitAsync("videos", "master", "second", None))
        {
            await writer.PutFileAsync("/a.txt", Text("changed"), None);
            await writer.DeleteAsync("/dir", None);
            await writer.PutFileAsync("/c.txt", Text("three"), None);
            second = await writer.FinishAsync(None);
        }

        Assert.Equal(first.Id, second.Parent);
        Assert.Equal(time.GetUtcNow(), second.Created);
        Assert.Equal(["/a.txt", "/dir/b.txt"], (await store.ListFilesAsync(first.Id, "/", None)).Select(f => f.Path));
        Assert.Equal(["/a.txt", "/c.txt"], (await store.ListFilesAsync(second.Id, "/", None)).Select(f => f.Path));
        Assert.Equal(second.Id, (await store.GetHeadAsync("videos", "master", None)).Id);
        Assert.Equal([second.Id, first.Id], (await store.LogAsync("videos", "master", None)).Select(c => c.Id));
        Assert.Equal(first.Id, (await store.GetCommitAsync(first.Id[..8], None)).Id);
        Assert.Equal(second.Id, (await store.GetCommitAsync("videos@master", None)).Id);

        var diff = await store.DiffAsync(first.Id, second.Id, None);
        Assert.Equal(
            [("/a.txt", ChangeKind.Changed), ("/c.txt", ChangeKind.Added), ("/dir/b.txt", ChangeKind.Removed)],
            diff.Select(c => (c.Path, c.Kind)));
    }

    [Fact]
    public async Task Branches_CommitOnNewBranch_LeavesMasterAlone()
    {
        await using var store = await DataStore.OpenAsync(_directory, TimeProvider.System, None);
        await store.CreateRepoAsync("videos", None);
        var master = await CommitAsync(store, "videos", "master", ("/a.txt", "one"));

        var dev = await CommitAsync(store, "videos", "dev", ("/b.txt", "two"));

        Assert.Null(dev.Parent);
        Assert.Equal(master.Id, (await store.GetHeadAsync("videos", "master", None)).Id);
        var repo = await store.GetRepoAsync("videos", None);
        Assert.Equal(["dev", "master"], repo.Branches.Select(b => b.Name));
        Assert.Equal(2, repo.Commits);
        var missing = await Assert.ThrowsAsync<DataException>(() => store.GetHeadAsync("videos", "nope", None));
        Assert.Equal(DataErrorKind.NotFound, missing.Kind);
    }

    [Fact]
    public async Task Objects_SameContentInTwoFiles_StoredOnce()
    {
        await using var store = await DataStore.OpenAsync(_directory, TimeProvider.System, None);
        await store.CreateRepoAsync("videos", None);

        var commit = await CommitAsync(store, "videos", "master", ("/a.txt", "same"), ("/b/c.txt", "same"));

        var files = await store.ListFilesAsync(commit.Id, "/", None);
        Assert.Equal(files[0].Hash, files[1].Hash);
        Assert.Single(await store.Objects.ListAsync(None).ToListAsync());
    }

    [Fact]
    public async Task Commit_DisposedUnfinished_IsInvisibleAndRemoved()
    {
        await using var store = await DataStore.OpenAsync(_directory, TimeProvider.System, None);
        await store.CreateRepoAsync("videos", None);
        var first = await CommitAsync(store, "videos", "master", ("/a.txt", "one"));

        await using (var writer = await store.BeginCommitAsync("videos", "master", "abandoned", None))
        {
            await writer.PutFileAsync("/b.txt", Text("two"), None);
            await Assert.ThrowsAsync<DataException>(() => store.GetCommitAsync(writer.Id, None));
            Assert.Equal(first.Id, (await store.GetHeadAsync("videos", "master", None)).Id);
        }

        Assert.Equal([first.Id], (await store.LogAsync("videos", "master", None)).Select(c => c.Id));
        Assert.Equal(0, await CountUnfinishedAsync(store.DataDirectory));
    }

    [Fact]
    public async Task Open_AfterWriterVanished_RemovesUnfinishedCommitsTheirObjectsAndTemporaryFiles()
    {
        var directory = _directory;
        await using (var store = await DataStore.OpenAsync(directory, TimeProvider.System, None))
        {
            await store.CreateRepoAsync("videos", None);
            await CommitAsync(store, "videos", "master", ("/a.txt", "one"));
        }
        // What a killed writer leaves: an unfinished commit row with files, their objects, and a half object.
        var orphan = await new ObjectStore(Path.Combine(directory, "objects")).PutAsync(Text("only the dead commit"), None);
        await using (var db = new SqliteConnection($"Data Source={Path.Combine(directory, "reel.db")};Pooling=False"))
        {
            await db.OpenAsync();
            await using var insert = db.CreateCommand();
            insert.CommandText = """
                INSERT INTO commits(id, repo, branch, parent, message, created) VALUES ('dead', 'videos', 'master', NULL, 'x', '2026-01-01T00:00:00Z');
                INSERT INTO files(commit_id, path, object, size) VALUES ('dead', '/orphan.bin', $object, 20);
                """;
            insert.Parameters.AddWithValue("$object", orphan.Hash);
            await insert.ExecuteNonQueryAsync();
        }
        await File.WriteAllTextAsync(Path.Combine(directory, "objects", "tmp", "half"), "partial");

        await using (var store = await DataStore.OpenAsync(directory, TimeProvider.System, None))
        {
            Assert.Equal(0, await CountUnfinishedAsync(directory));
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(directory, "objects", "tmp")));
            Assert.Single(await store.LogAsync("videos", "master", None));
            Assert.False(await store.Objects.ContainsAsync(orphan.Hash, None));
            Assert.Single(await store.Objects.ListAsync(None).ToListAsync());
        }
    }

    [Fact]
    public async Task DeleteRepo_WithCommits_RefusedWithoutForceAndGarbageCollectedWithIt()
    {
        await using var store = await DataStore.OpenAsync(_directory, TimeProvider.System, None);
        await store.CreateRepoAsync("a", None);
        await store.CreateRepoAsync("b", None);
        await CommitAsync(store, "a", "master", ("/shared.txt", "shared"), ("/own.txt", "only in a"));
        await CommitAsync(store, "b", "master", ("/shared.txt", "shared"));

        var refused = await Assert.ThrowsAsync<DataException>(() => store.DeleteRepoAsync("a", force: false, None));
        Assert.Equal(DataErrorKind.Conflict, refused.Kind);
        Assert.Equal(2, await store.Objects.ListAsync(None).CountAsync());

        await store.DeleteRepoAsync("a", force: true, None);

        Assert.Equal(["b"], (await store.ListReposAsync(None)).Select(r => r.Name));
        Assert.Single(await store.Objects.ListAsync(None).ToListAsync());
        var empty = await store.CreateRepoAsync("a", None);
        await store.DeleteRepoAsync("a", force: false, None);
        Assert.Equal(0, empty.Commits);
    }

    [Fact]
    public async Task Put_FileWhereDirectoryIsOrUnderAFile_IsAConflictAndNothingChanges()
    {
        await using var store = await DataStore.OpenAsync(_directory, TimeProvider.System, None);
        await store.CreateRepoAsync("videos", None);
        var first = await CommitAsync(store, "videos", "master", ("/a.txt", "one"), ("/dir/b.txt", "two"));

        await using (var writer = await store.BeginCommitAsync("videos", "master", "bad", None))
        {
            Assert.Equal(DataErrorKind.Conflict, (await Assert.ThrowsAsync<DataException>(() => writer.PutFileAsync("/a.txt/x", Text("x"), None))).Kind);
            Assert.Equal(DataErrorKind.Conflict, (await Assert.ThrowsAsync<DataException>(() => writer.PutFileAsync("/dir", Text("x"), None))).Kind);
        }

        Assert.Equal(first.Id, (await store.GetHeadAsync("videos", "master", None)).Id);
        Assert.Equal(DataErrorKind.Conflict, (await Assert.ThrowsAsync<DataException>(() => store.CreateRepoAsync("videos", None))).Kind);
        Assert.Equal(DataErrorKind.NotFound, (await Assert.ThrowsAsync<DataException>(() => store.BeginCommitAsync("nope", "master", "x", None))).Kind);
    }

    [Fact]
    public async Task BeginCommit_WhileAnotherWriterIsOpen_WaitsAndThenBuildsOnItsCommit()
    {
        var directory = _directory;
        await using var store = await DataStore.OpenAsync(directory, TimeProvider.System, None);
        await using var other = await DataStore.OpenAsync(directory, TimeProvider.System, None);
        await store.CreateRepoAsync("videos", None);
        var writer = await store.BeginCommitAsync("videos", "master", "first", None);
        await writer.PutFileAsync("/a.txt", Text("one"), None);

        var waiting = other.BeginCommitAsync("videos", "master", "second", None);
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted);
        var first = await writer.FinishAsync(None);
        await using var second = await waiting;
        await second.PutFileAsync("/b.txt", Text("two"), None);
        var secondCommit = await second.FinishAsync(None);

        Assert.Equal(first.Id, secondCommit.Parent);
        Assert.Equal(["/a.txt", "/b.txt"], (await store.ListFilesAsync(secondCommit.Id, "/", None)).Select(f => f.Path));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static async Task<CommitInfo> CommitAsync(DataStore store, string repo, string branch, params (string Path, string Text)[] files)
    {
        await using var writer = await store.BeginCommitAsync(repo, branch, "test", None);
        foreach (var (path, text) in files)
        {
            await writer.PutFileAsync(path, Text(text), None);
        }
        return await writer.FinishAsync(None);
    }

    private static MemoryStream Text(string text) => new(Encoding.UTF8.GetBytes(text));

    private static async Task<long> CountUnfinishedAsync(string directory)
    {
        await using var db = new SqliteConnection($"Data Source={Path.Combine(directory, "reel.db")};Pooling=False");
        await db.OpenAsync();
        await using var count = db.CreateCommand();
        count.CommandText = "SELECT count(*) FROM commits WHERE finished IS NULL";
        return (long)(await count.ExecuteScalarAsync())!;
    }

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        private DateTimeOffset _now = now;

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
