using Reel.Data;
using Reel.Data.Metadata;
using Reel.Testing;

namespace Reel.Metadata.Tests;

/// <summary>
/// One implementation of the metadata store, fresh for one test: SQLite in a temporary data directory, or a new
/// database on the shared test PostgreSQL server. The contract tests run every case against both.
/// </summary>
public sealed class MetadataBackend : IAsyncDisposable
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgresql";

    private readonly PostgresServer? _server;
    private readonly string? _postgresDatabase;

    private MetadataBackend(string kind, string directory, string location, PostgresServer? server, string? postgresDatabase)
    {
        Kind = kind;
        Directory = directory;
        Location = location;
        _server = server;
        _postgresDatabase = postgresDatabase;
        Database = MetadataDatabase.Open(location);
    }

    public static TheoryData<string> Kinds => [Sqlite, Postgres];

    public string Kind { get; }

    /// <summary>The local data directory (objects, logs; with SQLite also reel.db).</summary>
    public string Directory { get; }

    /// <summary>What <see cref="MetadataDatabase.Open"/> takes: the directory or a postgresql:// URL.</summary>
    public string Location { get; }

    public MetadataDatabase Database { get; }

    public static async Task<MetadataBackend> CreateAsync(string kind)
    {
        var directory = TestMedia.TempDirectory();
        if (kind == Sqlite)
        {
            return new MetadataBackend(kind, directory, directory, null, null);
        }
        var server = await PostgresServer.Shared;
        var database = await server.CreateDatabaseAsync("contract");
        return new MetadataBackend(kind, directory, server.Url(database), server, database);
    }

    public Task<DataStore> OpenDataAsync(TimeProvider? time = null) => OpenDataAsync(Database, time);

    /// <summary>A store on another <see cref="MetadataDatabase"/> (its own connections and locks), as another process opens it.</summary>
    public Task<DataStore> OpenDataAsync(MetadataDatabase database, TimeProvider? time = null) => DataStore.OpenAsync(
        database, new ObjectStore(Path.Combine(Directory, "objects")), Directory, time ?? TimeProvider.System, CancellationToken.None);

    /// <summary>The same database opened again, as another process (or machine) sharing it would.</summary>
    public MetadataDatabase OpenAnother() => MetadataDatabase.Open(Location);

    public async ValueTask DisposeAsync()
    {
        await Database.DisposeAsync();
        if (_server is not null && _postgresDatabase is not null)
        {
            await _server.DropDatabaseAsync(_postgresDatabase);
        }
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
