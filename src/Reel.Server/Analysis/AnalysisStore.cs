using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Reel.Data.Metadata;

namespace Reel.Server.Analysis;

public enum AnalysisStatus
{
    Pending,
    Processing,
    Completed,
    Failed,
}

/// <summary>One requested analysis, as the API reports it.</summary>
public sealed record AnalysisRecord(
    Guid Id, string VideoUrl, string VideoName, IReadOnlyList<string> Models, int FrameStep, AnalysisStatus Status, string? Error,
    int GreatestFrame, DateTimeOffset Created)
{
    /// <summary>Frames to analyze and analyzed so far, for progress bars (0 until the video is opened).</summary>
    public int FramesPlanned { get; init; }

    public int FramesDone { get; init; }
}

/// <summary>One model's results on one frame; <see cref="Results"/> is the JSON list the API returns.</summary>
public sealed record AnalysisRow(int Frame, string Model, double Timestamp, string Results, double InferenceMs);

/// <summary>
/// Analyses and their results in the metadata database, so a restarted server still serves them.
/// Each operation takes its own pooled connection: reads never wait for a writer (SQLite's WAL, PostgreSQL's MVCC),
/// so status requests stay fast while analyses record their progress.
/// </summary>
public sealed class AnalysisStore : IAsyncDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS analyses (
            id TEXT PRIMARY KEY,
            video_url TEXT NOT NULL,
            video_name TEXT NOT NULL,
            models TEXT NOT NULL,
            frame_step INTEGER NOT NULL,
            status TEXT NOT NULL,
            error TEXT,
            greatest_frame INTEGER NOT NULL DEFAULT -1,
            created TEXT NOT NULL,
            frames_planned INTEGER NOT NULL DEFAULT 0,
            frames_done INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS analysis_results (
            video_id TEXT NOT NULL,
            frame_number INTEGER NOT NULL,
            model TEXT NOT NULL,
            timestamp REAL NOT NULL,
            results TEXT NOT NULL,
            inference_ms REAL NOT NULL,
            PRIMARY KEY (video_id, frame_number, model)) WITHOUT ROWID;
        """;

    /// <summary>The layer's name in <c>schema_versions</c>.</summary>
    public const string SchemaLayer = "analyses";

    /// <summary>Schema versions of this layer's tables; migration i makes version i+1.</summary>
    private static readonly IReadOnlyList<string> Migrations = [Schema];

    private readonly MetadataDatabase _database;
    private readonly bool _ownsDatabase;

    private AnalysisStore(MetadataDatabase database, bool ownsDatabase)
    {
        _database = database;
        _ownsDatabase = ownsDatabase;
    }

    /// <summary>Opens the store in a data directory's <c>reel.db</c> (the embedded default).</summary>
    public static Task<AnalysisStore> OpenAsync(string dataDirectory, CancellationToken cancellationToken) =>
        OpenAsync(new SqliteMetadataDatabase(dataDirectory), ownsDatabase: true, cancellationToken);

    /// <summary>Opens the store on <paramref name="database"/>, creating or upgrading its tables; the caller keeps owning it.</summary>
    public static Task<AnalysisStore> OpenAsync(MetadataDatabase database, CancellationToken cancellationToken) =>
        OpenAsync(database, ownsDatabase: false, cancellationToken);

    private static async Task<AnalysisStore> OpenAsync(MetadataDatabase database, bool ownsDatabase, CancellationToken cancellationToken)
    {
        var store = new AnalysisStore(database, ownsDatabase);
        try
        {
            await database.MigrateAsync(SchemaLayer, Migrations, cancellationToken);
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
        return store;
    }

    public Task CreateAsync(AnalysisRecord analysis, CancellationToken cancellationToken) => ExecuteAsync(
        "INSERT INTO analyses(id, video_url, video_name, models, frame_step, status, created) VALUES ($id, $url, $name, $models, $step, $status, $created)",
        cancellationToken, ("$id", Key(analysis.Id)), ("$url", analysis.VideoUrl), ("$name", analysis.VideoName),
        ("$models", JsonSerializer.Serialize(analysis.Models)), ("$step", analysis.FrameStep), ("$status", analysis.Status.ToString()),
        ("$created", analysis.Created.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)));

    public async Task<AnalysisRecord?> GetAsync(Guid id, CancellationToken cancellationToken) =>
        (await QueryAsync(Select + " WHERE id = $id", ReadAnalysis, cancellationToken, ("$id", Key(id)))).SingleOrDefault();

    public Task<IReadOnlyList<AnalysisRecord>> ListAsync(AnalysisStatus? status, CancellationToken cancellationToken) => status is null
        ? QueryAsync(Select + " ORDER BY created", ReadAnalysis, cancellationToken)
        : QueryAsync(Select + " WHERE status = $status ORDER BY created", ReadAnalysis, cancellationToken, ("$status", status.ToString()));

    public Task SetStatusAsync(Guid id, AnalysisStatus status, string? error, CancellationToken cancellationToken) => ExecuteAsync(
        "UPDATE analyses SET status = $status, error = $error WHERE id = $id", cancellationToken,
        ("$id", Key(id)), ("$status", status.ToString()), ("$error", error));

    /// <summary>Removes an analysis that never started (its endpoint was refused).</summary>
    public Task DeleteAsync(Guid id, CancellationToken cancellationToken) =>
        ExecuteAsync("DELETE FROM analyses WHERE id = $id", cancellationToken, ("$id", Key(id)));

    /// <summary>Removes an analysis and all its results, in one transaction.</summary>
    public async Task RemoveAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await _database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await _database.BeginTransactionAsync(db, cancellationToken);
        foreach (var sql in new[] { "DELETE FROM analysis_results WHERE video_id = $id", "DELETE FROM analyses WHERE id = $id" })
        {
            await using var command = _database.Command(db, sql, ("$id", Key(id)));
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    public Task SetVideoUrlAsync(Guid id, string url, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE analyses SET video_url = $url WHERE id = $id", cancellationToken, ("$id", Key(id)), ("$url", url));

    public Task SetProgressAsync(Guid id, int greatestFrame, CancellationToken cancellationToken) => ExecuteAsync(
        "UPDATE analyses SET greatest_frame = " + _database.Greatest("greatest_frame", "$frame") + " WHERE id = $id", cancellationToken, ("$id", Key(id)), ("$frame", greatestFrame));

    /// <summary>Forgets an analysis's results and progress, before it runs again from the start.</summary>
    public async Task ClearResultsAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await _database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await _database.BeginTransactionAsync(db, cancellationToken);
        foreach (var sql in new[] { "DELETE FROM analysis_results WHERE video_id = $id", "UPDATE analyses SET greatest_frame = -1, frames_done = 0 WHERE id = $id" })
        {
            await using var command = _database.Command(db, sql, ("$id", Key(id)));
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    public Task SetCountsAsync(Guid id, int planned, int done, CancellationToken cancellationToken) => ExecuteAsync(
        "UPDATE analyses SET frames_planned = $planned, frames_done = $done WHERE id = $id", cancellationToken,
        ("$id", Key(id)), ("$planned", planned), ("$done", done));

    /// <summary>Adds <paramref name="rows"/> to an analysis's results (replacing them all first when <paramref name="replace"/>), in one transaction.</summary>
    public async Task SaveResultsAsync(Guid id, IReadOnlyList<AnalysisRow> rows, bool replace, CancellationToken cancellationToken)
    {
        await using var db = await _database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await _database.BeginTransactionAsync(db, cancellationToken);
        if (replace)
        {
            await using var delete = _database.Command(db, "DELETE FROM analysis_results WHERE video_id = $id", ("$id", Key(id)));
            await delete.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var insert = _database.Prepare(db,
            "INSERT INTO analysis_results(video_id, frame_number, model, timestamp, results, inference_ms) VALUES ($id, $frame, $model, $time, $results, $ms) " +
            "ON CONFLICT (video_id, frame_number, model) DO UPDATE SET timestamp = excluded.timestamp, results = excluded.results, inference_ms = excluded.inference_ms",
            "$id", "$frame", "$model", "$time", "$results", "$ms");
        foreach (var row in rows)
        {
            await MetadataDatabase.ExecuteAsync(insert, cancellationToken, Key(id), row.Frame, row.Model, row.Timestamp, row.Results, row.InferenceMs);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>An analysis's results, by frame then model; of one frame when <paramref name="frame"/> is given.</summary>
    public Task<IReadOnlyList<AnalysisRow>> GetResultsAsync(Guid id, int? frame, CancellationToken cancellationToken) => frame is null
        ? QueryAsync(RowSelect + " WHERE video_id = $id ORDER BY frame_number, model", ReadRow, cancellationToken, ("$id", Key(id)))
        : QueryAsync(RowSelect + " WHERE video_id = $id AND frame_number = $frame ORDER BY model", ReadRow, cancellationToken,
            ("$id", Key(id)), ("$frame", frame.Value));

    public async ValueTask DisposeAsync()
    {
        if (_ownsDatabase)
        {
            await _database.DisposeAsync();
        }
    }

    private const string Select = "SELECT id, video_url, video_name, models, frame_step, status, error, greatest_frame, created, frames_planned, frames_done FROM analyses";

    private const string RowSelect = "SELECT frame_number, model, timestamp, results, inference_ms FROM analysis_results";

    private static AnalysisRecord ReadAnalysis(DbDataReader r) => new(
        Guid.Parse(r.GetString(0)), r.GetString(1), r.GetString(2), JsonSerializer.Deserialize<List<string>>(r.GetString(3))!, r.GetInt32(4),
        Enum.Parse<AnalysisStatus>(r.GetString(5)), r.IsDBNull(6) ? null : r.GetString(6), r.GetInt32(7),
        DateTimeOffset.Parse(r.GetString(8), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal))
    {
        FramesPlanned = r.GetInt32(9),
        FramesDone = r.GetInt32(10),
    };

    private static AnalysisRow ReadRow(DbDataReader r) => new(r.GetInt32(0), r.GetString(1), r.GetDouble(2), r.GetString(3), r.GetDouble(4));

    private static string Key(Guid id) => id.ToString("D");

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var db = await _database.OpenConnectionAsync(cancellationToken);
        await _database.ExecuteAsync(db, sql, cancellationToken, parameters);
    }

    private async Task<IReadOnlyList<T>> QueryAsync<T>(
        string sql, Func<DbDataReader, T> read, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var db = await _database.OpenConnectionAsync(cancellationToken);
        return await _database.QueryAsync(db, sql, read, cancellationToken, parameters);
    }
}
