using System.Text;
using Reel.Data;

namespace Reel.Metadata.Tests;

/// <summary>Every data-layer operation, the same on SQLite and PostgreSQL.</summary>
public sealed class DataStoreContractTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory]
    [MemberData(nameof(MetadataBackend.Kinds), MemberType = typeof(MetadataBackend))]
    public async Task Repos_CreateListDelete_ConflictsAndNotFoundAsDocumented(string kind)
    {
        await using var backend = await MetadataBackend.CreateAsync(kind);
        await using var store = await backend.OpenDataAsync();

        await store.CreateRepoAsync("b", None);
        await store.CreateRepoAsync("a", None);
        Assert.Equal(DataErrorKind.Conflict, (await Assert.ThrowsAsync<DataException>(() => store.CreateRepoAsync("a", None))).Kind);
        Assert.Equal(DataErrorKind.Invalid, (await Assert.ThrowsAsync<DataException>(() => store.CreateRepoAsync("-x", None))).Kind);
        Assert.Equal(["a", "b"], (await store.ListReposAsync(None)).Select(r => r.Name));
        Assert.Equal(DataErrorKind.NotFound, (await Assert.ThrowsAsync<DataException>(() => store.GetRepoAsync("c", None))).Kind);

        await CommitAsync(store, "a", "master", ("/shared.txt", "shared"), ("/own.txt", "only in a"));
        await CommitAsync(store, "b", "master", ("/shared.txt", "shared"));
        Assert.Equal(DataErrorKind.Conflict, (await Assert.ThrowsAsync<DataException>(() => store.DeleteRepoAsync("a", force: false, None))).Kind);
        await store.DeleteRepoAsync("a", force: true, None);

        Assert.Equal(["b"], (await store.ListReposAsync(None)).Select(r => r.Name));
        Assert.Single(await store.Objects.ListAsync(None).ToListAsync(None));
        var b = await store.GetRepoAsync("b", None);
        Assert.Equal(1, b.Commits);
        Assert.Equal(["master"], b.Branches.Select(x => x.Name));
    }

    [Theory]
    [MemberData(nameof(MetadataBackend.Kinds), MemberType = typeof(MetadataBackend))]
    public async Task Commits_PutDeleteLogDiffAndLookups_BehaveAlike(string kind)
    {
        await using var backend = await MetadataBackend.CreateAsync(kind);
        await using var store = await backend.OpenDataAsync();
        await store.CreateRepoAsync("videos", None);

        var first = await CommitAsync(store, "videos", "master", ("/a.txt", "one"), ("/dir/b.txt", "two"), ("/dir.txt", "beside"));
        CommitInfo second;
        await using (var writer = await store.BeginCommitAsync("videos", "master", "second", None))
        {
            Assert.Equal(first.Id, writer.Parent);
            await writer.PutFileAsync("/a.txt", Text("changed"), None);
            Assert.Equal(1, await writer.DeleteAsync("/dir", None));
            await writer.PutFileAsync("/c.txt", Text("three"), None);
            Assert.Equal(DataErrorKind.NotFound, (await Assert.ThrowsAsync<DataException>(() => writer.DeleteAsync("/nope", None))).Kind);
            Assert.Equal(DataErrorKind.Conflict, (await Assert.ThrowsAsync<DataException>(() => writer.PutFileAsync("/a.txt/x", Text("x"), None))).Kind);
            await writer.AddProvenanceAsync(first.Id, None);
            await writer.AddProvenanceAsync(first.Id, None);
            second = await writer.FinishAsync(None);
        }

        Assert.Equal(first.Id, second.Parent);
        Assert.Equal(3, second.Files);
        Assert.Equal("changed".Length + "three".Length + "beside".Length, second.Size);
        Assert.Equal(["/dir/b.txt"], (await store.ListFilesAsync(first.Id, "/dir", None)).Select(f => f.Path));
        Assert.Equal(["/a.txt", "/c.txt", "/dir.txt"], (await store.ListFilesAsync(second.Id, "/", None)).Select(f => f.Path));
        Assert.Equal([second.Id, first.Id], (await store.LogAsync("videos", "master", None)).Select(c => c.Id));
        Assert.Equal(first.Id, (await store.GetCommitAsync(first.Id[..8], None)).Id);
        Assert.Equal(second.Id, (await store.GetCommitAsync("videos@master", None)).Id);
        Assert.Equal([first.Id], await store.GetProvenanceAsync(second.Id, None));
        Assert.Equal(
            [("/a.txt", ChangeKind.Changed), ("/c.txt", ChangeKind.Added), ("/dir/b.txt", ChangeKind.Removed)],
            (await store.DiffAsync(first.Id, second.Id, None)).Select(c => (c.Path, c.Kind)));
        Assert.Equal(DataErrorKind.NotFound, (await Assert.ThrowsAsync<DataException>(() => store.GetHeadAsync("videos", "dev", None))).Kind);
        Assert.Equal(DataErrorKind.NotFound, (await Assert.ThrowsAsync<DataException>(() => store.GetCommitAsync("abcdef", None))).Kind);
        Assert.Equal(2, (await store.GetRepoAsync("videos", None)).Commits);
    }

    [Theory]
    [MemberData(nameof(MetadataBackend.Kinds), MemberType = typeof(MetadataBackend))]
    public async Task ReplaceAllAndApply_WriteOnlyTheDifference_AndRefuseClashes(string kind)
    {
        await using var backend = await MetadataBackend.CreateAsync(kind);
        await using var store = await backend.OpenDataAsync();
        await store.CreateRepoAsync("out", None);
        var x = await store.Objects.PutAsync(Text("x"), None);
        var y = await store.Objects.PutAsync(Text("yy"), None);

        CommitInfo replaced;
        await using (var writer = await store.BeginCommitAsync("out", "master", "all", None))
        {
            await writer.ReplaceAllAsync([new FileEntry("/1/x", x.Hash, x.Size), new FileEntry("/2/y", y.Hash, y.Size)], None);
            replaced = await writer.FinishAsync(None);
        }
        await using (var writer = await store.BeginCommitAsync("out", "master", "clash", None))
        {
            await Assert.ThrowsAsync<DataException>(() => writer.ReplaceAllAsync([new FileEntry("/a", x.Hash, 1), new FileEntry("/a/b", x.Hash, 1)], None));
            await Assert.ThrowsAsync<DataException>(() => writer.ApplyAsync([], [new FileEntry("/1/x", y.Hash, y.Size)], None));
        }
        CommitInfo applied;
        await using (var writer = await store.BeginCommitAsync("out", "master", "diff", None))
        {
            await writer.ApplyAsync(["/1/x"], [new FileEntry("/1/x", y.Hash, y.Size), new FileEntry("/3/x", x.Hash, x.Size)], None);
            applied = await writer.FinishAsync(None);
        }

        Assert.Equal(replaced.Id, applied.Parent);
        Assert.Equal([("/1/x", y.Hash), ("/2/y", y.Hash), ("/3/x", x.Hash)],
            (await store.ListFilesAsync(applied.Id, "/", None)).Select(f => (f.Path, f.Hash)));
    }

    [Theory]
    [MemberData(nameof(MetadataBackend.Kinds), MemberType = typeof(MetadataBackend))]
    public async Task Staging_StageReplaceListUnstage_ByOwnerPrefix(string kind)
    {
        await using var backend = await MetadataBackend.CreateAsync(kind);
        await using var store = await backend.OpenDataAsync();
        var o = await store.Objects.PutAsync(Text("o"), None);

        await store.StageAsync("job/1/a", [new FileEntry("/old", o.Hash, 1)], None);
        await store.StageAsync("job/1/a", [new FileEntry("/p", o.Hash, 1), new FileEntry("/q", o.Hash, 1)], None);
        await store.StageAsync("job/1/b", [new FileEntry("/r", o.Hash, 1)], None);
        await store.StageAsync("job/2/a", [new FileEntry("/s", o.Hash, 1)], None);

        var staged = await store.GetStagedAsync("job/1/", None);
        Assert.Equal(["job/1/a", "job/1/b"], staged.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(["/p", "/q"], staged["job/1/a"].Select(f => f.Path));
        Assert.Equal(3, await store.UnstageAsync("job/1/", None));
        Assert.Equal(["job/2/a"], (await store.GetStagedAsync("job/", None)).Keys);
    }

    [Theory]
    [MemberData(nameof(MetadataBackend.Kinds), MemberType = typeof(MetadataBackend))]
    public async Task Writers_OnDifferentBranches_DoNotWait_OnTheSameBranch_Queue(string kind)
    {
        await using var backend = await MetadataBackend.CreateAsync(kind);
        await using var other = backend.OpenAnother();
        await using var store = await backend.OpenDataAsync();
        await using var second = await backend.OpenDataAsync(other);
        await store.CreateRepoAsync("videos", None);

        await using var master = await store.BeginCommitAsync("videos", "master", "first", None);
        await master.PutFileAsync("/a.txt", Text("one"), None);

        // Another process writes another branch while master is being written.
        var dev = await CommitAsync(second, "videos", "dev", ("/b.txt", "two"));
        Assert.Null(dev.Parent);

        // The same branch waits for the writer, then builds on its commit.
        var waiting = second.BeginCommitAsync("videos", "master", "second", None);
        await Task.Delay(300);
        Assert.False(waiting.IsCompleted);
        var first = await master.FinishAsync(None);
        await using var next = await waiting;
        Assert.Equal(first.Id, next.Parent);
        await next.PutFileAsync("/c.txt", Text("three"), None);
        Assert.Equal(first.Id, (await next.FinishAsync(None)).Parent);
    }

    [Theory]
    [MemberData(nameof(MetadataBackend.Kinds), MemberType = typeof(MetadataBackend))]
    public async Task Finish_WhenHeadMovedUnderneath_IsAConflictAndCommitsNothing(string kind)
    {
        await using var backend = await MetadataBackend.CreateAsync(kind);
        await using var store = await backend.OpenDataAsync();
        await store.CreateRepoAsync("videos", None);
        var first = await CommitAsync(store, "videos", "master", ("/a.txt", "one"));
        var dev = await CommitAsync(store, "videos", "dev", ("/b.txt", "two"));

        await using var writer = await store.BeginCommitAsync("videos", "master", "late", None);
        await writer.PutFileAsync("/c.txt", Text("three"), None);
        // What a writer that bypassed the lock would do: move the head between this writer's start and finish.
        await using (var connection = await backend.Database.OpenConnectionAsync(None))
        {
            await backend.Database.ExecuteAsync(connection, "UPDATE branches SET head = $dev WHERE repo = 'videos' AND name = 'master'", None,
                ("$dev", dev.Id));
        }

        var conflict = await Assert.ThrowsAsync<DataException>(() => writer.FinishAsync(None));
        Assert.Equal(DataErrorKind.Conflict, conflict.Kind);
        Assert.Contains("moved", conflict.Message, StringComparison.Ordinal);
        Assert.Equal(dev.Id, (await store.GetHeadAsync("videos", "master", None)).Id);
        Assert.DoesNotContain(writer.Id, (await store.LogAsync("videos", "master", None)).Select(c => c.Id));
        Assert.NotEqual(first.Id, dev.Id);
    }

    [Theory]
    [MemberData(nameof(MetadataBackend.Kinds), MemberType = typeof(MetadataBackend))]
    public async Task Open_RemovesCommitsOfDeadWritersOnly(string kind)
    {
        await using var backend = await MetadataBackend.CreateAsync(kind);
        await using (var store = await backend.OpenDataAsync())
        {
            await store.CreateRepoAsync("videos", None);
            await CommitAsync(store, "videos", "master", ("/a.txt", "one"));
        }
        // A live writer on dev (its lock held by another database connection, as another process's would be) ...
        await using var other = backend.OpenAnother();
        await using var live = await backend.OpenDataAsync(other);
        await using var writer = await live.BeginCommitAsync("videos", "dev", "in progress", None);
        await writer.PutFileAsync("/live.txt", Text("live"), None);
        // ... and what a killed writer on master leaves: an unfinished commit row whose branch lock nobody holds.
        var orphan = await live.Objects.PutAsync(Text("only the dead commit"), None);
        await using (var connection = await backend.Database.OpenConnectionAsync(None))
        {
            await backend.Database.ExecuteAsync(connection,
                "INSERT INTO commits(id, repo, branch, parent, message, created) VALUES ('dead', 'videos', 'master', NULL, 'x', '2026-01-01T00:00:00Z')", None);
            await backend.Database.ExecuteAsync(connection,
                "INSERT INTO files(commit_id, path, object, size) VALUES ('dead', '/orphan.bin', $object, 20)", None, ("$object", orphan.Hash));
        }

        await using (var reopened = await backend.OpenDataAsync())
        {
            await using var connection = await backend.Database.OpenConnectionAsync(None);
            var unfinished = await backend.Database.QueryAsync(connection, "SELECT id FROM commits WHERE finished IS NULL ORDER BY id",
                r => r.GetString(0), None);
            Assert.Equal([writer.Id], unfinished);
        }
        var done = await writer.FinishAsync(None);
        Assert.Equal(["/live.txt"], (await live.ListFilesAsync(done.Id, "/", None)).Select(f => f.Path));
    }

    [Theory]
    [MemberData(nameof(MetadataBackend.Kinds), MemberType = typeof(MetadataBackend))]
    public async Task Open_RecordsSchemaVersionsOfEveryLayer(string kind)
    {
        await using var backend = await MetadataBackend.CreateAsync(kind);
        await using var store = await backend.OpenDataAsync();
        await Reel.Pipelines.Jobs.PipelineStore.OpenAsync(store, None);
        await using var analyses = await Reel.Server.Analysis.AnalysisStore.OpenAsync(backend.Database, None);

        Assert.Equal(DataStore.Migrations.Count, await backend.Database.SchemaVersionAsync(DataStore.SchemaLayer, None));
        Assert.Equal(2, await backend.Database.SchemaVersionAsync(DataStore.SchemaLayer, None));
        // Pipelines version 2: jobs carry an epoch, and a pipeline has at most one unfinished job (the cluster's scheduling);
        // version 3: a datum records the object its log was stored in.
        Assert.Equal(4, await backend.Database.SchemaVersionAsync(Reel.Pipelines.Jobs.PipelineStore.SchemaLayer, None));
        Assert.Equal(1, await backend.Database.SchemaVersionAsync(Reel.Server.Analysis.AnalysisStore.SchemaLayer, None));

        // A database written by a newer reel is refused, not misread.
        await using (var connection = await backend.Database.OpenConnectionAsync(None))
        {
            await backend.Database.ExecuteAsync(connection, "UPDATE schema_versions SET version = 99 WHERE layer = 'data'", None);
        }
        var refused = await Assert.ThrowsAsync<DataException>(() => backend.OpenDataAsync());
        Assert.Contains("newer", refused.Message, StringComparison.Ordinal);
    }

    internal static async Task<CommitInfo> CommitAsync(DataStore store, string repo, string branch, params (string Path, string Text)[] files)
    {
        await using var writer = await store.BeginCommitAsync(repo, branch, "test", None);
        foreach (var (path, text) in files)
        {
            await writer.PutFileAsync(path, Text(text), None);
        }
        return await writer.FinishAsync(None);
    }

    internal static MemoryStream Text(string text) => new(Encoding.UTF8.GetBytes(text));
}
