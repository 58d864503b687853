using System.Data.Common;
using Microsoft.Data.Sqlite;

namespace Reel.Data.Metadata;

/// <summary>
/// The embedded metadata store: <c>DATA/reel.db</c> in SQLite. Write-ahead log (readers never wait for the writer), full
/// sync (a commit that returned is on disk), foreign keys enforced, up to 60 s of waiting for another process's write.
/// Branch writer locks are OS file locks under <c>DATA/locks/</c>, released when their holder dies.
/// </summary>
public sealed class SqliteMetadataDatabase : MetadataDatabase
{
    public const string FileName = "reel.db";

    private readonly string _connectionString;

    public SqliteMetadataDatabase(string dataDirectory)
    {
        DataDirectory = Path.GetFullPath(dataDirectory);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(DataDirectory, FileName),
            Pooling = true,
            DefaultTimeout = 60,
            ForeignKeys = true,
        }.ToString();
    }

    public string DataDirectory { get; }

    public override string Description => DataDirectory;

    protected override string TableExistsSql => "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = $table";

    public override async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(DataDirectory);
        var db = new SqliteConnection(_connectionString);
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

    /// <summary>An immediate transaction: it takes the database's write lock at once, so writers queue instead of deadlocking.</summary>
    public override async Task<DbTransaction> BeginTransactionAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await ((SqliteConnection)connection).BeginTransactionAsync(cancellationToken);

    /// <summary>Nothing to add: an immediate transaction already excludes every other writer.</summary>
    public override Task LockAsync(DbConnection connection, string name, CancellationToken cancellationToken) => Task.CompletedTask;

    public override async Task<IAsyncDisposable> AcquireBranchAsync(
        string repo, string branch, TimeSpan wait, TimeProvider time, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        while (true)
        {
            if (await TryAcquireBranchAsync(repo, branch, cancellationToken) is { } acquired)
            {
                return acquired;
            }
            if (time.GetElapsedTime(started) >= wait)
            {
                throw new DataException(DataErrorKind.Busy,
                    $"another reel process is writing to branch '{branch}' of repo '{repo}' in {DataDirectory}; try again later");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(50), time, cancellationToken);
        }
    }

    public override Task<IAsyncDisposable?> TryAcquireBranchAsync(string repo, string branch, CancellationToken cancellationToken)
    {
        var directory = Path.Combine(DataDirectory, "locks");
        Directory.CreateDirectory(directory);
        try
        {
            // Names are letters, digits, '_', '-' and '.', so "repo@branch" is a safe file name.
            var file = new FileStream(Path.Combine(directory, $"{repo}@{branch}.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            return Task.FromResult<IAsyncDisposable?>(file);
        }
        catch (IOException)
        {
            return Task.FromResult<IAsyncDisposable?>(null);
        }
    }

    public override bool IsUniqueViolation(Exception error) => error is SqliteException { SqliteErrorCode: 19 };

    /// <summary>SQLITE_BUSY or SQLITE_LOCKED after the connection's own 60 s wait.</summary>
    public override bool IsTransient(Exception error) => error is SqliteException { SqliteErrorCode: 5 or 6 };

    protected internal override string Translate(string sql) => sql;

    protected internal override string TranslateSchema(string ddl) => ddl;

    protected internal override string ParameterName(string portable) => portable;

    public override string GroupConcat(string expression) => $"group_concat({expression})";

    public override string Greatest(string first, string second) => $"max({first}, {second})";

    /// <summary>Closes the idle pooled connections, so nothing holds the database files open.</summary>
    public override ValueTask DisposeAsync()
    {
        using var db = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(db);
        return ValueTask.CompletedTask;
    }
}
