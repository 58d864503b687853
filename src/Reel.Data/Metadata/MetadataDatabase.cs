using System.Data;
using System.Data.Common;

namespace Reel.Data.Metadata;

/// <summary>
/// The metadata store's one way to its database, SQLite (a data directory, the embedded default) or PostgreSQL (a
/// <c>postgresql://</c> URL, shared by a cluster). Stores write each query once in portable SQL with <c>$name</c>
/// parameters; the provider translates the few differences (parameter syntax, DDL types, aggregates) and supplies
/// what cannot be SQL alone: transactions that serialize where they must, per-branch writer locks, and error kinds.
/// </summary>
public abstract class MetadataDatabase : IAsyncDisposable
{
    /// <summary>A short name for messages: the data directory or the server and database (never the password).</summary>
    public abstract string Description { get; }

    /// <summary>
    /// Opens the database <paramref name="location"/> names: <c>postgresql://user:pass@host:port/db</c> (or
    /// <c>postgres://</c>) is PostgreSQL; anything else is a data directory holding <c>reel.db</c>.
    /// </summary>
    public static MetadataDatabase Open(string location)
    {
        ArgumentException.ThrowIfNullOrEmpty(location);
        return PostgresMetadataDatabase.IsUrl(location)
            ? new PostgresMetadataDatabase(location)
            : new SqliteMetadataDatabase(location);
    }

    /// <summary>An open connection with the provider's settings; pooled, so open one per unit of work.</summary>
    public abstract Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Begins a transaction that, once begun, holds the write side: SQLite's immediate transaction; PostgreSQL's read
    /// committed, where a store that must serialize a decision takes <see cref="LockAsync"/> inside it.
    /// </summary>
    public virtual async Task<DbTransaction> BeginTransactionAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);

    /// <summary>
    /// Serializes the rest of the caller's transaction with every other transaction that takes the same
    /// <paramref name="name"/> (released at commit or rollback). SQLite's immediate transactions already exclude each
    /// other; PostgreSQL takes a transaction-level advisory lock.
    /// </summary>
    public abstract Task LockAsync(DbConnection connection, string name, CancellationToken cancellationToken);

    /// <summary>
    /// Takes the writer lock of one branch, waiting up to <paramref name="wait"/>; Busy when another writer keeps it.
    /// The lock dies with its holder (an OS file lock; a PostgreSQL session lock), so a crash never blocks the branch.
    /// </summary>
    public abstract Task<IAsyncDisposable> AcquireBranchAsync(
        string repo, string branch, TimeSpan wait, TimeProvider time, CancellationToken cancellationToken);

    /// <summary>The branch lock if nobody holds it now, else null: whoever gets it knows the branch has no live writer.</summary>
    public abstract Task<IAsyncDisposable?> TryAcquireBranchAsync(string repo, string branch, CancellationToken cancellationToken);

    /// <summary>Whether <paramref name="error"/> is a unique or primary key violation.</summary>
    public abstract bool IsUniqueViolation(Exception error);

    /// <summary>
    /// Whether trying again later may succeed: the database was unreachable or restarting, a serialization failure or
    /// deadlock, or SQLite still busy after its wait. Nothing was committed by the failed call, unless the connection
    /// broke while a commit was on its way (then the caller cannot know; retry only what is idempotent).
    /// </summary>
    public abstract bool IsTransient(Exception error);

    /// <summary>
    /// Runs <paramref name="work"/> (which opens its own connection or transaction) and runs it again after a transient
    /// failure (<see cref="IsTransient"/>), waiting longer each time, for up to <paramref name="patience"/> in all.
    /// </summary>
    public async Task<T> RetryAsync<T>(Func<CancellationToken, Task<T>> work, TimeSpan patience, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        var started = time.GetTimestamp();
        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                return await work(cancellationToken);
            }
            catch (Exception e) when (IsTransient(e) && time.GetElapsedTime(started) + delay < patience)
            {
                await Task.Delay(delay, time, cancellationToken);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromSeconds(2).Ticks));
            }
        }
    }

    /// <summary>Portable SQL in this provider's syntax (parameters <c>$name</c>).</summary>
    protected internal abstract string Translate(string sql);

    /// <summary>
    /// Portable DDL in this provider's types. Write TEXT, INTEGER (32-bit), BIGINT, DOUBLE PRECISION, and
    /// <c>WITHOUT ROWID</c> where SQLite should cluster by the key.
    /// </summary>
    protected internal abstract string TranslateSchema(string ddl);

    /// <summary>The parameter name as the provider wants it (<c>$x</c> for SQLite, <c>x</c> for PostgreSQL).</summary>
    protected internal abstract string ParameterName(string portable);

    /// <summary>SQL concatenating <paramref name="expression"/> over a group with commas (text; order unspecified).</summary>
    public abstract string GroupConcat(string expression);

    /// <summary>SQL for the greater of two values.</summary>
    public abstract string Greatest(string first, string second);

    public abstract ValueTask DisposeAsync();

    public DbCommand Command(DbConnection connection, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = Translate(sql);
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = ParameterName(name);
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    /// <returns>The number of rows changed.</returns>
    public async Task<int> ExecuteAsync(
        DbConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<T>> QueryAsync<T>(
        DbConnection connection, string sql, Func<DbDataReader, T> read, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<T>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(read(reader));
        }
        return rows;
    }

    /// <summary>A command to run many times with new values (<see cref="ExecuteAsync(DbCommand, CancellationToken, object?[])"/>).</summary>
    public DbCommand Prepare(DbConnection connection, string sql, params string[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = Translate(sql);
        foreach (var name in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = ParameterName(name);
            command.Parameters.Add(parameter);
        }
        return command;
    }

    /// <summary>Runs a <see cref="Prepare"/>d command with values for its parameters, in order.</summary>
    public static async Task ExecuteAsync(DbCommand command, CancellationToken cancellationToken, params object?[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            command.Parameters[i].Value = values[i] ?? DBNull.Value;
        }
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// Brings one layer's tables to the newest version: runs the <paramref name="migrations"/> (DDL; migration i
    /// makes version i+1) the database has not recorded in <c>schema_versions</c>, in one transaction that excludes
    /// other processes doing the same. The first migration must be idempotent (CREATE ... IF NOT EXISTS): databases
    /// made before versions were recorded already hold its tables. A database newer than this program is refused.
    /// </summary>
    public async Task<int> MigrateAsync(string layer, IReadOnlyList<string> migrations, CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        var current = await TryCurrentVersionAsync(connection, layer, cancellationToken);
        if (current == migrations.Count)
        {
            return current;
        }
        await using var transaction = await BeginTransactionAsync(connection, cancellationToken);
        await LockAsync(connection, "schema", cancellationToken);
        await ExecuteAsync(connection, TranslateSchema(
            "CREATE TABLE IF NOT EXISTS schema_versions (layer TEXT PRIMARY KEY, version INTEGER NOT NULL, updated TEXT NOT NULL)"),
            cancellationToken);
        current = await CurrentVersionAsync(connection, layer, cancellationToken);
        if (current > migrations.Count)
        {
            throw new DataException(DataErrorKind.Invalid,
                $"the '{layer}' tables of {Description} are schema version {current}, newer than this reel knows ({migrations.Count}); upgrade reel");
        }
        for (var version = current; version < migrations.Count; version++)
        {
            await ExecuteAsync(connection, TranslateSchema(migrations[version]), cancellationToken);
        }
        await ExecuteAsync(connection,
            "INSERT INTO schema_versions(layer, version, updated) VALUES ($layer, $version, $now) " +
            "ON CONFLICT (layer) DO UPDATE SET version = excluded.version, updated = excluded.updated",
            cancellationToken, ("$layer", layer), ("$version", migrations.Count),
            ("$now", DateTimeOffset.UtcNow.UtcDateTime.ToString("O", System.Globalization.CultureInfo.InvariantCulture)));
        await transaction.CommitAsync(cancellationToken);
        return migrations.Count;
    }

    /// <summary>The schema version recorded for <paramref name="layer"/>; 0 when none is.</summary>
    public async Task<int> SchemaVersionAsync(string layer, CancellationToken cancellationToken)
    {
        await using var connection = await OpenConnectionAsync(cancellationToken);
        return await TryCurrentVersionAsync(connection, layer, cancellationToken);
    }

    /// <summary>The recorded version, or 0 also when there is no <c>schema_versions</c> table yet (a database from before versions).</summary>
    private async Task<int> TryCurrentVersionAsync(DbConnection connection, string layer, CancellationToken cancellationToken)
    {
        var exists = await QueryAsync(connection, TableExistsSql, r => r.GetInt32(0), cancellationToken, ("$table", "schema_versions"));
        return exists.Count == 0 ? 0 : await CurrentVersionAsync(connection, layer, cancellationToken);
    }

    /// <summary>SQL returning a row when the table <c>$table</c> exists.</summary>
    protected abstract string TableExistsSql { get; }

    private async Task<int> CurrentVersionAsync(DbConnection connection, string layer, CancellationToken cancellationToken) =>
        (await QueryAsync(connection, "SELECT version FROM schema_versions WHERE layer = $layer", r => r.GetInt32(0), cancellationToken,
            ("$layer", layer))).SingleOrDefault();
}
