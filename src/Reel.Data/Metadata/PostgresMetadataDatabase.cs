using System.Collections.Concurrent;
using System.Data.Common;
using System.Text.RegularExpressions;
using Npgsql;

namespace Reel.Data.Metadata;

/// <summary>
/// The cluster's metadata store: one PostgreSQL database shared by every node. Text columns use the "C" collation, so
/// the prefix ranges the stores query (<c>path &gt;= 'a/' AND path &lt; 'a0'</c>) order bytes as SQLite does.
/// Branch writer locks are session advisory locks on a connection of their own: the server drops them when the
/// holder's connection ends, and TCP keepalives (set per session) end the connection of a machine that vanished.
/// </summary>
public sealed partial class PostgresMetadataDatabase : MetadataDatabase
{
    private readonly NpgsqlDataSource _source;
    private readonly string _lockConnectionString;
    private readonly ConcurrentDictionary<string, string> _translated = new(StringComparer.Ordinal);

    public PostgresMetadataDatabase(string url)
    {
        var builder = ParseUrl(url);
        Description = $"postgresql://{builder.Username}@{builder.Host}:{builder.Port}/{builder.Database}";
        _source = NpgsqlDataSource.Create(builder.ConnectionString);
        builder.Pooling = false;
        _lockConnectionString = builder.ConnectionString;
    }

    public override string Description { get; }

    protected override string TableExistsSql => "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $table";

    /// <summary>Whether <paramref name="location"/> is a PostgreSQL URL rather than a directory.</summary>
    public static bool IsUrl(string location) =>
        location.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase) || location.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// <c>postgresql://user:password@host:port/database?key=value</c> as Npgsql settings (port 5432 by default; query keys
    /// are Npgsql connection string keywords). A malformed URL is Invalid, naming it without its password.
    /// </summary>
    public static NpgsqlConnectionStringBuilder ParseUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || !IsUrl(url) || uri.Host.Length == 0)
        {
            throw new DataException(DataErrorKind.Invalid, $"'{Redact(url)}' is not a PostgreSQL URL (postgresql://user:password@host:port/database)");
        }
        var database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        if (database.Length == 0)
        {
            throw new DataException(DataErrorKind.Invalid, $"'{Redact(url)}' names no database (postgresql://user:password@host:port/database)");
        }
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host.Trim('[', ']'),
            Port = uri.IsDefaultPort || uri.Port < 0 ? 5432 : uri.Port,
            Database = database,
            // Client and server keepalives: a node that vanished without closing its connections loses its locks in
            // about 20 s instead of the kernel's two hours.
            KeepAlive = 10,
            Options = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=3 -c tcp_keepalives_count=3",
            // Statements the stores run over and over (datum updates, staging rows) are prepared once per connection.
            MaxAutoPrepare = 64,
        };
        var userInfo = uri.UserInfo.Split(':', 2);
        if (userInfo[0].Length > 0)
        {
            builder.Username = Uri.UnescapeDataString(userInfo[0]);
        }
        if (userInfo.Length == 2)
        {
            builder.Password = Uri.UnescapeDataString(userInfo[1]);
        }
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var key = Uri.UnescapeDataString(equals < 0 ? pair : pair[..equals]);
            try
            {
                builder[key] = equals < 0 ? "true" : Uri.UnescapeDataString(pair[(equals + 1)..]);
            }
            catch (ArgumentException)
            {
                throw new DataException(DataErrorKind.Invalid, $"'{Redact(url)}': unknown setting '{key}'");
            }
        }
        return builder;
    }

    public override async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken) =>
        await _source.OpenConnectionAsync(cancellationToken);

    public override Task LockAsync(DbConnection connection, string name, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, "SELECT pg_advisory_xact_lock(hashtextextended($name, 0))", cancellationToken, ("$name", "reel/" + name));

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
                    $"another reel process is writing to branch '{branch}' of repo '{repo}' in {Description}; try again later");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(100), time, cancellationToken);
        }
    }

    public override async Task<IAsyncDisposable?> TryAcquireBranchAsync(string repo, string branch, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(_lockConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
            var key = BranchKey(repo, branch);
            var taken = await QueryAsync(connection, "SELECT pg_try_advisory_lock(hashtextextended($key, 0))", r => r.GetBoolean(0),
                cancellationToken, ("$key", key));
            if (taken[0])
            {
                return new BranchLock(this, connection, key);
            }
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
        await connection.DisposeAsync();
        return null;
    }

    public override bool IsUniqueViolation(Exception error) => error is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation };

    /// <summary>
    /// Npgsql's own judgement (connection refused or broken, server shutting down or starting), plus serialization
    /// failures and deadlocks, which it leaves to the caller.
    /// </summary>
    public override bool IsTransient(Exception error) => error switch
    {
        PostgresException { SqlState: PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected } => true,
        NpgsqlException npgsql => npgsql.IsTransient,
        System.Net.Sockets.SocketException or EndOfStreamException => true,
        _ => false,
    };

    protected internal override string Translate(string sql) =>
        _translated.GetOrAdd(sql, static s => ParameterPattern().Replace(s, "@$1"));

    protected internal override string TranslateSchema(string ddl)
    {
        var translated = Translate(ddl).Replace(" WITHOUT ROWID", "", StringComparison.Ordinal);
        translated = TextType().Replace(translated, "TEXT COLLATE \"C\"");
        return RealType().Replace(translated, "DOUBLE PRECISION");
    }

    protected internal override string ParameterName(string portable) => portable.TrimStart('$', '@');

    public override string GroupConcat(string expression) => $"string_agg({expression}, ',')";

    public override string Greatest(string first, string second) => $"greatest({first}, {second})";

    public override async ValueTask DisposeAsync() => await _source.DisposeAsync();

    private static string BranchKey(string repo, string branch) => $"reel/branch/{repo}@{branch}";

    private static string Redact(string url) => PasswordPattern().Replace(url, "$1:***@");

    [GeneratedRegex(@"(?<![\w$@])\$([A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex ParameterPattern();

    [GeneratedRegex(@"\bTEXT\b")]
    private static partial Regex TextType();

    [GeneratedRegex(@"\bREAL\b")]
    private static partial Regex RealType();

    [GeneratedRegex(@"(//[^:/@]*):[^@/]*@")]
    private static partial Regex PasswordPattern();

    /// <summary>A held branch lock: its own connection, unlocked and closed on dispose (closing alone would release it too).</summary>
    private sealed class BranchLock(PostgresMetadataDatabase database, NpgsqlConnection connection, string key) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await database.ExecuteAsync(connection, "SELECT pg_advisory_unlock(hashtextextended($key, 0))", CancellationToken.None, ("$key", key));
            }
            catch (NpgsqlException)
            {
                // The connection is gone, and the server released the lock with it.
            }
            finally
            {
                await connection.DisposeAsync();
            }
        }
    }
}
