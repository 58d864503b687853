using Microsoft.Data.Sqlite;

namespace Reel.Data;

/// <summary>
/// The one way Reel reaches its SQLite database (<c>DATA/reel.db</c>): every store that keeps tables there opens it
/// here, with the same settings, and runs its SQL through the same helpers.
/// </summary>
public static class ReelDatabase
{
    public const string FileName = "reel.db";

    /// <summary>
    /// Opens a connection: write-ahead log (readers never wait for the writer), full sync (a commit that returned is on
    /// disk), foreign keys enforced, and up to 60 s of waiting for another process's write lock. Connections are pooled.
    /// </summary>
    public static async Task<SqliteConnection> OpenAsync(string dataDirectory, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(dataDirectory);
        var db = new SqliteConnection(ConnectionString(dataDirectory));
        try
        {
            await db.OpenAsync(cancellationToken);
            await ExecuteAsync(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", cancellationToken);
            return db;
        }
        catch
        {
            await db.DisposeAsync();
            throw;
        }
    }

    /// <summary>Closes the idle pooled connections to a data directory's database, so nothing holds its files open.</summary>
    public static void ClosePooled(string dataDirectory)
    {
        using var db = new SqliteConnection(ConnectionString(dataDirectory));
        SqliteConnection.ClearPool(db);
    }

    private static string ConnectionString(string dataDirectory) => new SqliteConnectionStringBuilder
    {
        DataSource = Path.Combine(dataDirectory, FileName),
        Pooling = true,
        DefaultTimeout = 60,
        ForeignKeys = true,
    }.ToString();

    public static SqliteCommand Command(SqliteConnection db, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = db.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }
        return command;
    }

    /// <returns>The number of rows changed.</returns>
    public static async Task<int> ExecuteAsync(
        SqliteConnection db, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(db, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<IReadOnlyList<T>> QueryAsync<T>(
        SqliteConnection db, string sql, Func<SqliteDataReader, T> read, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(db, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(read(reader));
        }
        return rows;
    }
}
