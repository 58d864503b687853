using Microsoft.Data.Sqlite;
using Reel.Data;
using Reel.Data.Metadata;
using Reel.Pipelines.Jobs;
using Reel.Server.Analysis;
using Reel.Testing;
using static Reel.Metadata.Tests.DataStoreContractTests;

namespace Reel.Metadata.Tests;

/// <summary>A data directory made by Reel before schema versions were recorded opens, upgrades in place and keeps its data.</summary>
public sealed class SqliteUpgradeTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;

    // reel.db exactly as the previous release wrote it (tables of all three layers, PRAGMA user_version=1, no schema_versions).
    private const string PreviousSchema = """
        CREATE TABLE repos (name TEXT PRIMARY KEY, created TEXT NOT NULL);
        CREATE TABLE commits (id TEXT PRIMARY KEY, repo TEXT NOT NULL REFERENCES repos(name) ON DELETE CASCADE, branch TEXT NOT NULL,
            parent TEXT REFERENCES commits(id) ON DELETE CASCADE, message TEXT NOT NULL, created TEXT NOT NULL, finished TEXT);
        CREATE INDEX commits_by_repo ON commits(repo);
        CREATE INDEX commits_by_parent ON commits(parent);
        CREATE TABLE branches (repo TEXT NOT NULL REFERENCES repos(name) ON DELETE CASCADE, name TEXT NOT NULL,
            head TEXT NOT NULL REFERENCES commits(id) ON DELETE CASCADE, PRIMARY KEY (repo, name));
        CREATE TABLE files (commit_id TEXT NOT NULL REFERENCES commits(id) ON DELETE CASCADE, path TEXT NOT NULL, object TEXT NOT NULL,
            size INTEGER NOT NULL, PRIMARY KEY (commit_id, path)) WITHOUT ROWID;
        CREATE INDEX files_by_object ON files(object);
        CREATE TABLE staged (owner TEXT NOT NULL, path TEXT NOT NULL, object TEXT NOT NULL, size INTEGER NOT NULL,
            PRIMARY KEY (owner, path)) WITHOUT ROWID;
        CREATE TABLE provenance (commit_id TEXT NOT NULL REFERENCES commits(id) ON DELETE CASCADE, source TEXT NOT NULL,
            PRIMARY KEY (commit_id, source)) WITHOUT ROWID;
        CREATE TABLE pipelines (name TEXT PRIMARY KEY, version INTEGER NOT NULL, spec TEXT NOT NULL, source TEXT NOT NULL,
            directory TEXT NOT NULL, created TEXT NOT NULL, updated TEXT NOT NULL);
        CREATE TABLE jobs (id TEXT PRIMARY KEY, pipeline TEXT NOT NULL, version INTEGER NOT NULL, state TEXT NOT NULL, inputs TEXT NOT NULL,
            output_commit TEXT, rerun TEXT, created TEXT NOT NULL, started TEXT, finished TEXT, error TEXT);
        CREATE INDEX jobs_by_pipeline ON jobs(pipeline, created);
        CREATE TABLE datums (job_id TEXT NOT NULL, id TEXT NOT NULL, ordinal INTEGER NOT NULL, state TEXT NOT NULL,
            tries INTEGER NOT NULL DEFAULT 0, files TEXT NOT NULL, started TEXT, finished TEXT, seconds REAL, error TEXT, outputs_from TEXT,
            PRIMARY KEY (job_id, id)) WITHOUT ROWID;
        CREATE TABLE workers (id TEXT PRIMARY KEY, kind TEXT NOT NULL, host TEXT NOT NULL, address TEXT NOT NULL, slots INTEGER NOT NULL,
            running INTEGER NOT NULL, done INTEGER NOT NULL, failed INTEGER NOT NULL, frames INTEGER NOT NULL, busy_seconds REAL NOT NULL,
            started TEXT NOT NULL, seen TEXT NOT NULL);
        CREATE TABLE analyses (id TEXT PRIMARY KEY, video_url TEXT NOT NULL, video_name TEXT NOT NULL, models TEXT NOT NULL,
            frame_step INTEGER NOT NULL, status TEXT NOT NULL, error TEXT, greatest_frame INTEGER NOT NULL DEFAULT -1, created TEXT NOT NULL,
            frames_planned INTEGER NOT NULL DEFAULT 0, frames_done INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE analysis_results (video_id TEXT NOT NULL, frame_number INTEGER NOT NULL, model TEXT NOT NULL, timestamp REAL NOT NULL,
            results TEXT NOT NULL, inference_ms REAL NOT NULL, PRIMARY KEY (video_id, frame_number, model)) WITHOUT ROWID;
        PRAGMA user_version=1;
        PRAGMA journal_mode=WAL;
        INSERT INTO repos VALUES ('videos', '2026-01-01T00:00:00.0000000Z');
        INSERT INTO commits VALUES ('c0ffee00000000000000000000000001', 'videos', 'master', NULL, 'old', '2026-01-01T00:00:01.0000000Z',
            '2026-01-01T00:00:02.0000000Z');
        INSERT INTO branches VALUES ('videos', 'master', 'c0ffee00000000000000000000000001');
        INSERT INTO files VALUES ('c0ffee00000000000000000000000001', '/a.txt', '6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b', 1);
        INSERT INTO analyses(id, video_url, video_name, models, frame_step, status, created)
            VALUES ('5d1c3c4e-0000-0000-0000-000000000001', 'http://x/v.mp4', 'v.mp4', '["faces"]', 1, 'Completed', '2026-01-01T00:00:00.0000000Z');
        """;

    private readonly string _directory = TestMedia.TempDirectory();

    [Fact]
    public async Task Open_DatabaseOfPreviousRelease_UpgradesInPlaceAndKeepsData()
    {
        await using (var db = new SqliteConnection($"Data Source={Path.Combine(_directory, SqliteMetadataDatabase.FileName)};Pooling=False"))
        {
            await db.OpenAsync();
            await using var command = db.CreateCommand();
            command.CommandText = PreviousSchema;
            await command.ExecuteNonQueryAsync();
        }

        await using (var data = await DataStore.OpenAsync(_directory, TimeProvider.System, None))
        {
            var pipelines = await PipelineStore.OpenAsync(data, None);
            await using var analyses = await AnalysisStore.OpenAsync(data.Database, None);

            Assert.Equal(2, await data.Database.SchemaVersionAsync(DataStore.SchemaLayer, None));
            Assert.Equal(4, await data.Database.SchemaVersionAsync(PipelineStore.SchemaLayer, None));
            Assert.Equal(1, await data.Database.SchemaVersionAsync(AnalysisStore.SchemaLayer, None));
            var old = await data.GetHeadAsync("videos", "master", None);
            Assert.Equal(("c0ffee00000000000000000000000001", "old", 1), (old.Id, old.Message, old.Files));
            Assert.Equal(AnalysisStatus.Completed, (await analyses.GetAsync(Guid.Parse("5d1c3c4e-0000-0000-0000-000000000001"), None))!.Status);
            Assert.Empty(await pipelines.ListPipelinesAsync(None));

            // The upgraded tables take new writes: a commit on top records its writer (the column version 2 added).
            await using var writer = await data.BeginCommitAsync("videos", "master", "new", None);
            await using (var connection = await data.Database.OpenConnectionAsync(None))
            {
                var writers = await data.Database.QueryAsync(connection, "SELECT writer FROM commits WHERE id = $id", r => r.GetString(0), None,
                    ("$id", writer.Id));
                Assert.Equal($"{Environment.MachineName}/{Environment.ProcessId}", Assert.Single(writers));
            }
            await writer.PutFileAsync("/b.txt", Text("b"), None);
            var next = await writer.FinishAsync(None);
            Assert.Equal(old.Id, next.Parent);
        }

        // Opening again finds every layer current and changes nothing.
        await using (var again = await DataStore.OpenAsync(_directory, TimeProvider.System, None))
        {
            Assert.Equal(2, (await again.LogAsync("videos", "master", None)).Count);
        }
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_directory, recursive: true);
    }
}
