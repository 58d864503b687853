using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Reel.Data;

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
/// Analyses and their results in the data directory's database, so a restarted server still serves them.
/// Each operation takes its own pooled connection: in WAL mode reads never wait for a writer, so status requests stay
/// fast while analyses record their progress.
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

    private readonly string _dataDirectory;

    private AnalysisStore(string dataDirectory) => _dataDirectory = dataDirectory;

    public static async Task<AnalysisStore> OpenAsync(string dataDirectory, CancellationToken cancellationToken)
    {
        var store = new AnalysisStore(dataDirectory);
        await store.ExecuteAsync(Schema, cancellationToken);
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
        await using var db = await ReelDatabase.OpenAsync(_dataDirectory, cancellationToken);
        await using var transaction = await db.BeginTransactionAsync(cancellationToken);
        foreach (var sql in new[] { "DELETE FROM analysis_results WHERE video_id = $id", "DELETE FROM analyses WHERE id = $id" })
        {
            await using var command = ReelDatabase.Command(db, sql, ("$id", Key(id)));
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    public Task SetVideoUrlAsync(Guid id, string url, CancellationToken cancellationToken) =>
        ExecuteAsync("UPDATE analyses SET video_url = $url WHERE id = $id", cancellationToken, ("$id", Key(id)), ("$url", url));

    public Task SetProgressAsync(Guid id, int greatestFrame, CancellationToken cancellationToken) => ExecuteAsync(
        "UPDATE analyses SET greatest_frame = max(greatest_frame, $frame) WHERE id = $id", cancellationToken, ("$id", Key(id)), ("$frame", greatestFrame));

    /// <summary>Forgets an analysis's results and progress, before it runs again from the start.</summary>
    public async Task ClearResultsAsync(Guid id, CancellationToken cancellationToken)
    {
        await using var db = await ReelDatabase.OpenAsync(_dataDirectory, cancellationToken);
        await using var transaction = await db.BeginTransactionAsync(cancellationToken);
        foreach (var sql in new[] { "DELETE FROM analysis_results WHERE video_id = $id", "UPDATE analyses SET greatest_frame = -1, frames_done = 0 WHERE id = $id" })
        {
            await using var command = ReelDatabase.Command(db, sql, ("$id", Key(id)));
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
        await using var db = await ReelDatabase.OpenAsync(_dataDirectory, cancellationToken);
        await using var transaction = await db.BeginTransactionAsync(cancellationToken);
        if (replace)
        {
            await using var delete = ReelDatabase.Command(db, "DELETE FROM analysis_results WHERE video_id = $id", ("$id", Key(id)));
            await delete.ExecuteNonQueryAsync(cancellationToken);
        }
        await using var insert = ReelDatabase.Command(db,
            "INSERT OR REPLACE INTO analysis_results(video_id, frame_number, model, timestamp, results, inference_ms) VALUES ($id, $frame, $model, $time, $results, $ms)",
            ("$id", Key(id)), ("$frame", 0), ("$model", ""), ("$time", 0.0), ("$results", ""), ("$ms", 0.0));
        foreach (var row in rows)
        {
            insert.Parameters["$frame"].Value = row.Frame;
            insert.Parameters["$model"].Value = row.Model;
            insert.Parameters["$time"].Value = row.Timestamp;
            insert.Parameters["$results"].Value = row.Results;
            insert.Parameters["$ms"].Value = row.InferenceMs;
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>An analysis's results, by frame then model; of one frame when <paramref name="frame"/> is given.</summary>
    public Task<IReadOnlyList<AnalysisRow>> GetResultsAsync(Guid id, int? frame, CancellationToken cancellationToken) => frame is null
        ? QueryAsync(RowSelect + " WHERE video_id = $id ORDER BY frame_number, model", ReadRow, cancellationToken, ("$id", Key(id)))
        : QueryAsync(RowSelect + " WHERE video_id = $id AND frame_number = $frame ORDER BY model", ReadRow, cancellationToken,
            ("$id", Key(id)), ("$frame", frame.Value));

    public ValueTask DisposeAsync()
    {
        ReelDatabase.ClosePooled(_dataDirectory);
        return ValueTask.CompletedTask;
    }

    private const string Select = "SELECT id, video_url, video_name, models, frame_step, status, error, greatest_frame, created, frames_planned, frames_done FROM analyses";

    private const string RowSelect = "SELECT frame_number, model, timestamp, results, inference_ms FROM analysis_results";

    private static AnalysisRecord ReadAnalysis(SqliteDataReader r) => new(
        Guid.Parse(r.GetString(0)), r.GetString(1), r.GetString(2), JsonSerializer.Deserialize<List<string>>(r.GetString(3))!, r.GetInt32(4),
        Enum.Parse<AnalysisStatus>(r.GetString(5)), r.IsDBNull(6) ? null : r.GetString(6), r.GetInt32(7),
        DateTimeOffset.Parse(r.GetString(8), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal))
    {
        FramesPlanned = r.GetInt32(9),
        FramesDone = r.GetInt32(10),
    };

    private static AnalysisRow ReadRow(SqliteDataReader r) => new(r.GetInt32(0), r.GetString(1), r.GetDouble(2), r.GetString(3), r.GetDouble(4));

    private static string Key(Guid id) => id.ToString("D");

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var db = await ReelDatabase.OpenAsync(_dataDirectory, cancellationToken);
        await ReelDatabase.ExecuteAsync(db, sql, cancellationToken, parameters);
    }

    private async Task<IReadOnlyList<T>> QueryAsync<T>(
        string sql, Func<SqliteDataReader, T> read, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var db = await ReelDatabase.OpenAsync(_dataDirectory, cancellationToken);
        return await ReelDatabase.QueryAsync(db, sql, read, cancellationToken, parameters);
    }
}
