using System.Data.Common;
using System.Globalization;
using Reel.Data.Metadata;

namespace Reel.Data;

/// <summary>
/// Repos, branches and commits: metadata in a <see cref="MetadataDatabase"/> (the data directory's <c>reel.db</c> by
/// default, or a PostgreSQL database a cluster shares), file content in an <see cref="ObjectStore"/>. Readers only ever
/// see finished commits. Writers take one branch's lock, and a branch head only moves from the commit a writer started
/// on (compare-and-swap), so writers on different branches never wait for each other.
/// </summary>
public sealed class DataStore : IAsyncDisposable
{
    /// <summary>The layer's name in <c>schema_versions</c>.</summary>
    public const string SchemaLayer = "data";

    /// <summary>Schema versions of this layer's tables; migration i makes version i+1.</summary>
    internal static readonly IReadOnlyList<string> Migrations = [Schema, "ALTER TABLE commits ADD COLUMN writer TEXT"];

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS repos (
            name TEXT PRIMARY KEY,
            created TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS commits (
            id TEXT PRIMARY KEY,
            repo TEXT NOT NULL REFERENCES repos(name) ON DELETE CASCADE,
            branch TEXT NOT NULL,
            parent TEXT REFERENCES commits(id) ON DELETE CASCADE,
            message TEXT NOT NULL,
            created TEXT NOT NULL,
            finished TEXT);
        CREATE INDEX IF NOT EXISTS commits_by_repo ON commits(repo);
        CREATE INDEX IF NOT EXISTS commits_by_parent ON commits(parent);
        CREATE TABLE IF NOT EXISTS branches (
            repo TEXT NOT NULL REFERENCES repos(name) ON DELETE CASCADE,
            name TEXT NOT NULL,
            head TEXT NOT NULL REFERENCES commits(id) ON DELETE CASCADE,
            PRIMARY KEY (repo, name));
        CREATE TABLE IF NOT EXISTS files (
            commit_id TEXT NOT NULL REFERENCES commits(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            object TEXT NOT NULL,
            size BIGINT NOT NULL,
            PRIMARY KEY (commit_id, path)) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS files_by_object ON files(object);
        CREATE TABLE IF NOT EXISTS staged (
            owner TEXT NOT NULL,
            path TEXT NOT NULL,
            object TEXT NOT NULL,
            size BIGINT NOT NULL,
            PRIMARY KEY (owner, path)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS provenance (
            commit_id TEXT NOT NULL REFERENCES commits(id) ON DELETE CASCADE,
            source TEXT NOT NULL,
            PRIMARY KEY (commit_id, source)) WITHOUT ROWID;
        """;

    /// <summary>How long a writer waits for another process's write to end.</summary>
    private static readonly TimeSpan LockWait = TimeSpan.FromMinutes(2);

    private DbConnection _db;
    private readonly bool _ownsDatabase;

    private DataStore(string directory, MetadataDatabase database, bool ownsDatabase, DbConnection db, IObjectStore objects, TimeProvider time)
    {
        DataDirectory = directory;
        Database = database;
        _ownsDatabase = ownsDatabase;
        _db = db;
        Time = time;
        Objects = objects;
    }

    /// <summary>This process's local directory (logs, scratch); with SQLite also where <c>reel.db</c> and <c>objects/</c> live.</summary>
    public string DataDirectory { get; }

    /// <summary>File content: <c>objects/</c> of the data directory unless another store was given (which the caller disposes).</summary>
    public IObjectStore Objects { get; }

    /// <summary>Where the metadata lives; other layers keep their tables there through it.</summary>
    public MetadataDatabase Database { get; }

    internal TimeProvider Time { get; }


    /// <summary>
    /// Opens (creating if needed) a data directory: the embedded default, SQLite in <c>reel.db</c> and objects in
    /// <c>objects/</c>. Commits left unfinished by a crash are removed first.
    /// </summary>
    public static Task<DataStore> OpenAsync(string directory, TimeProvider time, CancellationToken cancellationToken) =>
        OpenAsync(directory, objects: null, time, cancellationToken);

    /// <summary>Opens a data directory whose file content lives in <paramref name="objects"/> (null: its own <c>objects/</c>).</summary>
    public static async Task<DataStore> OpenAsync(string directory, IObjectStore? objects, TimeProvider time, CancellationToken cancellationToken)
    {
        var database = new SqliteMetadataDatabase(directory);
        try
        {
            return await OpenAsync(database, objects ?? new ObjectStore(Path.Combine(directory, "objects")), directory, time, cancellationToken, ownsDatabase: true);
        }
        catch
        {
            await database.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Opens the store on <paramref name="database"/> (e.g. a cluster's PostgreSQL) and <paramref name="objects"/>,
    /// creating or upgrading its tables. Commits left unfinished by writers that are gone are removed first; those of
    /// live writers (on this machine or another) are left alone. The caller keeps owning <paramref name="database"/>.
    /// </summary>
    /// <param name="dataDirectory">This process's local directory for logs and scratch space.</param>
    public static Task<DataStore> OpenAsync(
        MetadataDatabase database, IObjectStore objects, string dataDirectory, TimeProvider time, CancellationToken cancellationToken) =>
        OpenAsync(database, objects, dataDirectory, time, cancellationToken, ownsDatabase: false);

    private static async Task<DataStore> OpenAsync(
        MetadataDatabase database, IObjectStore objects, string dataDirectory, TimeProvider time, CancellationToken cancellationToken, bool ownsDatabase)
    {
        await database.MigrateAsync(SchemaLayer, Migrations, cancellationToken);
        var db = await database.OpenConnectionAsync(cancellationToken);
        var store = new DataStore(dataDirectory, database, ownsDatabase, db, objects, time);
        try
        {
            await store.RecoverAsync(cancellationToken);
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }
        return store;
    }

    /// <summary>The data directory: <paramref name="option"/>, else <c>$REEL_DATA_DIR</c>, else <c>~/.reel</c>.</summary>
    public static string ResolveDirectory(string? option)
    {
        if (!string.IsNullOrEmpty(option))
        {
            return Path.GetFullPath(option);
        }
        var fromEnvironment = Environment.GetEnvironmentVariable("REEL_DATA_DIR");
        return !string.IsNullOrEmpty(fromEnvironment)
            ? Path.GetFullPath(fromEnvironment)
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".reel");
    }

    public async Task<RepoInfo> CreateRepoAsync(string name, CancellationToken cancellationToken)
    {
        if (!DataAddress.IsValidName(name))
        {
            throw new DataException(DataErrorKind.Invalid, DataAddress.NameRule("repo", name));
        }
        try
        {
            await ExecuteAsync("INSERT INTO repos(name, created) VALUES ($name, $created)", cancellationToken,
                ("$name", name), ("$created", Format(Time.GetUtcNow())));
        }
        catch (DbException e) when (Database.IsUniqueViolation(e))
        {
            throw new DataException(DataErrorKind.Conflict, $"repo '{name}' already exists");
        }
        return await GetRepoAsync(name, cancellationToken);
    }

    public async Task<IReadOnlyList<RepoInfo>> ListReposAsync(CancellationToken cancellationToken)
    {
        var names = await QueryAsync("SELECT name FROM repos ORDER BY name", r => r.GetString(0), cancellationToken);
        var repos = new List<RepoInfo>(names.Count);
        foreach (var name in names)
        {
            repos.Add(await GetRepoAsync(name, cancellationToken));
        }
        return repos;
    }

    public async Task<RepoInfo> GetRepoAsync(string name, CancellationToken cancellationToken)
    {
        var created = await QueryAsync("SELECT created FROM repos WHERE name = $name", r => Parse(r.GetString(0)), cancellationToken, ("$name", name));
        if (created.Count == 0)
        {
            throw new DataException(DataErrorKind.NotFound, $"repo '{name}' does not exist");
        }
        var branches = await QueryAsync(
            "SELECT name, head FROM branches WHERE repo = $name ORDER BY name",
            r => new BranchInfo(r.GetString(0), r.GetString(1)), cancellationToken, ("$name", name));
        var commits = await QueryAsync(
            "SELECT CAST(count(*) AS INTEGER) FROM commits WHERE repo = $name AND finished IS NOT NULL",
            r => r.GetInt32(0), cancellationToken, ("$name", name));
        return new RepoInfo(name, created[0], branches, commits[0]);
    }

    /// <summary>Deletes a repo with its branches and commits, then the objects no other repo uses.</summary>
    /// <param name="force">Without it, a repo that holds commits is refused (Conflict), so data is never lost by a typo.</param>
    public async Task DeleteRepoAsync(string name, bool force, CancellationToken cancellationToken)
    {
        // Every branch's writer lock (commits in progress name branches that have no head yet), in one order.
        var locks = new List<IAsyncDisposable>();
        try
        {
            var branches = await QueryAsync(
                "SELECT name FROM branches WHERE repo = $name UNION SELECT branch FROM commits WHERE repo = $name ORDER BY 1",
                r => r.GetString(0), cancellationToken, ("$name", name));
            foreach (var branch in branches)
            {
                locks.Add(await Database.AcquireBranchAsync(name, branch, LockWait, Time, cancellationToken));
            }
            await DeleteRepoLockedAsync(name, force, [.. branches.Select(b => $"{name}@{b}")], cancellationToken);
        }
        finally
        {
            foreach (var held in locks)
            {
                await held.DisposeAsync();
            }
        }
    }

    private async Task DeleteRepoLockedAsync(string name, bool force, string[] heldBranches, CancellationToken cancellationToken)
    {
        await RecoverAsync(cancellationToken, heldBranches);
        var repo = await GetRepoAsync(name, cancellationToken);
        if (repo.Commits > 0 && !force)
        {
            throw new DataException(DataErrorKind.Conflict, $"repo '{name}' has {repo.Commits} commit(s); use --force to delete it with its data");
        }
        await using (var transaction = await BeginTransactionAsync(cancellationToken))
        {
            await ExecuteAsync("DELETE FROM branches WHERE repo = $name", cancellationToken, ("$name", name));
            await ExecuteAsync(
                "DELETE FROM files WHERE commit_id IN (SELECT id FROM commits WHERE repo = $name)", cancellationToken, ("$name", name));
            await ExecuteAsync("DELETE FROM commits WHERE repo = $name", cancellationToken, ("$name", name));
            await ExecuteAsync("DELETE FROM repos WHERE name = $name", cancellationToken, ("$name", name));
            await transaction.CommitAsync(cancellationToken);
        }
        await CollectGarbageAsync(cancellationToken);
    }

    /// <summary>Starts a commit on <paramref name="branch"/> (created on finish if new) holding its head's files.</summary>
    public async Task<CommitWriter> BeginCommitAsync(string repo, string branch, string message, CancellationToken cancellationToken)
    {
        if (!DataAddress.IsValidName(branch))
        {
            throw new DataException(DataErrorKind.Invalid, DataAddress.NameRule("branch", branch));
        }
        await GetRepoAsync(repo, cancellationToken);
        var writeLock = await Database.AcquireBranchAsync(repo, branch, LockWait, Time, cancellationToken);
        try
        {
            await RecoverAsync(cancellationToken, $"{repo}@{branch}");
            await GetRepoAsync(repo, cancellationToken);
            var parent = await TryGetHeadAsync(repo, branch, cancellationToken);
            var id = Guid.NewGuid().ToString("N");
            await using (var transaction = await BeginTransactionAsync(cancellationToken))
            {
                await ExecuteAsync(
                    "INSERT INTO commits(id, repo, branch, parent, message, created, writer) VALUES ($id, $repo, $branch, $parent, $message, $created, $writer)",
                    cancellationToken, ("$id", id), ("$repo", repo), ("$branch", branch), ("$parent", parent), ("$message", message),
                    ("$created", Format(Time.GetUtcNow())), ("$writer", Writer));
                if (parent is not null)
                {
                    await ExecuteAsync(
                        "INSERT INTO files(commit_id, path, object, size) SELECT $id, path, object, size FROM files WHERE commit_id = $parent",
                        cancellationToken, ("$id", id), ("$parent", parent));
                }
                await transaction.CommitAsync(cancellationToken);
            }
            return new CommitWriter(this, writeLock, id, repo, branch, parent);
        }
        catch
        {
            await writeLock.DisposeAsync();
            throw;
        }
    }

    /// <summary>Who writes an unfinished commit, for people reading the database: host and process.</summary>
    private static string Writer => $"{Environment.MachineName}/{Environment.ProcessId}";

    /// <summary>The head commit of <c>repo@branch</c>; NotFound for a missing repo, branch or an empty branch.</summary>
    public async Task<CommitInfo> GetHeadAsync(string repo, string branch, CancellationToken cancellationToken)
    {
        await GetRepoAsync(repo, cancellationToken);
        var head = await TryGetHeadAsync(repo, branch, cancellationToken)
            ?? throw new DataException(DataErrorKind.NotFound, $"branch '{branch}' of repo '{repo}' does not exist");
        return await GetCommitAsync(head, cancellationToken);
    }

    /// <summary>A finished commit by id, unique id prefix (at least 4 characters) or <c>repo@branch</c> (its head).</summary>
    public async Task<CommitInfo> GetCommitAsync(string reference, CancellationToken cancellationToken)
    {
        if (reference.Contains('@', StringComparison.Ordinal))
        {
            var address = DataAddress.Parse(reference);
            return await GetHeadAsync(address.Repo, address.Branch, cancellationToken);
        }
        if (reference.Length < 4 || !reference.All(char.IsAsciiHexDigit))
        {
            throw new DataException(DataErrorKind.Invalid, $"'{reference}' is not a commit id (hex, at least 4 characters) or repo@branch");
        }
        var commits = await QueryAsync(
            CommitSelect + " WHERE c.finished IS NOT NULL AND c.id >= $from AND c.id < $to ORDER BY c.id LIMIT 2",
            ReadCommit, cancellationToken, ("$from", reference.ToLowerInvariant()), ("$to", reference.ToLowerInvariant() + "g"));
        return commits.Count switch
        {
            0 => throw new DataException(DataErrorKind.NotFound, $"commit '{reference}' does not exist"),
            1 => commits[0],
            _ => throw new DataException(DataErrorKind.Invalid, $"commit prefix '{reference}' is ambiguous; give more characters"),
        };
    }

    /// <summary>The commits of a branch, newest first, following parents from its head.</summary>
    public async Task<IReadOnlyList<CommitInfo>> LogAsync(string repo, string branch, CancellationToken cancellationToken)
    {
        var head = await GetHeadAsync(repo, branch, cancellationToken);
        return await QueryAsync(
            """
            WITH RECURSIVE chain(id, depth) AS (
                SELECT id, 0 FROM commits WHERE id = $head
                UNION ALL SELECT c.parent, chain.depth + 1 FROM commits c JOIN chain ON c.id = chain.id WHERE c.parent IS NOT NULL)
            """ + CommitSelect + " JOIN chain ON chain.id = c.id WHERE c.finished IS NOT NULL ORDER BY chain.depth",
            ReadCommit, cancellationToken, ("$head", head.Id));
    }

    /// <summary>The files of a commit at or under <paramref name="directory"/>, by path.</summary>
    public Task<IReadOnlyList<FileEntry>> ListFilesAsync(string commitId, string directory, CancellationToken cancellationToken) =>
        directory == DataPath.Root
            ? QueryAsync("SELECT path, object, size FROM files WHERE commit_id = $id ORDER BY path", ReadFile, cancellationToken, ("$id", commitId))
            : QueryAsync(
                "SELECT path, object, size FROM files WHERE commit_id = $id AND (path = $dir OR (path >= $prefix AND path < $end)) ORDER BY path",
                ReadFile, cancellationToken, ("$id", commitId), ("$dir", directory), ("$prefix", directory + "/"), ("$end", directory + "0"));

    internal async Task<bool> FileExistsAsync(string commitId, string path, CancellationToken cancellationToken) =>
        (await QueryAsync(
            "SELECT 1 FROM files WHERE commit_id = $id AND path = $path", r => r.GetInt32(0), cancellationToken,
            ("$id", commitId), ("$path", path))).Count > 0;

    internal async Task<bool> HasFilesUnderAsync(string commitId, string directory, CancellationToken cancellationToken) =>
        (await QueryAsync(
            "SELECT 1 FROM files WHERE commit_id = $id AND path >= $prefix AND path < $end LIMIT 1", r => r.GetInt32(0), cancellationToken,
            ("$id", commitId), ("$prefix", directory + "/"), ("$end", directory + "0"))).Count > 0;

    /// <summary>Paths added, removed or changed (different content) from <paramref name="from"/> to <paramref name="to"/>.</summary>
    public async Task<IReadOnlyList<FileChange>> DiffAsync(string from, string to, CancellationToken cancellationToken)
    {
        var before = (await ListFilesAsync(from, DataPath.Root, cancellationToken)).ToDictionary(f => f.Path, f => f.Hash, StringComparer.Ordinal);
        var after = (await ListFilesAsync(to, DataPath.Root, cancellationToken)).ToDictionary(f => f.Path, f => f.Hash, StringComparer.Ordinal);
        var changes = new List<FileChange>();
        foreach (var path in before.Keys.Union(after.Keys).Order(StringComparer.Ordinal))
        {
            var old = before.GetValueOrDefault(path);
            var @new = after.GetValueOrDefault(path);
            if (old is null)
            {
                changes.Add(new FileChange(path, ChangeKind.Added, null, @new));
            }
            else if (@new is null)
            {
                changes.Add(new FileChange(path, ChangeKind.Removed, old, null));
            }
            else if (old != @new)
            {
                changes.Add(new FileChange(path, ChangeKind.Changed, old, @new));
            }
        }
        return changes;
    }

    /// <summary>The commits <paramref name="commitId"/> was computed from (a pipeline's input commits), if any.</summary>
    public Task<IReadOnlyList<string>> GetProvenanceAsync(string commitId, CancellationToken cancellationToken) =>
        QueryAsync("SELECT source FROM provenance WHERE commit_id = $id ORDER BY source", r => r.GetString(0), cancellationToken, ("$id", commitId));

    /// <summary>
    /// Records a task's outputs (objects already stored) under <paramref name="owner"/>, replacing what it staged
    /// before, so re-running a task overwrites the same keys. Staged objects are kept until unstaged.
    /// </summary>
    public async Task StageAsync(string owner, IReadOnlyCollection<FileEntry> files, CancellationToken cancellationToken)
    {
        await using var transaction = await BeginTransactionAsync(cancellationToken);
        await ReplaceStagedAsync(owner, files, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary><see cref="StageAsync"/> inside the caller's transaction.</summary>
    internal async Task ReplaceStagedAsync(string owner, IReadOnlyCollection<FileEntry> files, CancellationToken cancellationToken)
    {
        await ExecuteAsync("DELETE FROM staged WHERE owner = $owner", cancellationToken, ("$owner", owner));
        await InsertManyAsync("INSERT INTO staged(owner, path, object, size)", "", [.. files.Select(f => new object?[] { owner, f.Path, f.Hash, f.Size })],
            cancellationToken);
    }

    /// <summary>
    /// <see cref="StageAsync"/> for many owners inside the caller's transaction, each statement parsed once: with many
    /// small datums, parsing SQL per row would cost more than running it.
    /// </summary>
    internal async Task StageManyAsync(IEnumerable<(string Owner, IReadOnlyCollection<FileEntry> Files)> outputs, CancellationToken cancellationToken)
    {
        await using var unstage = Prepare("DELETE FROM staged WHERE owner = $owner", "$owner");
        // An owner named twice keeps its last files, as if each were staged in turn.
        var latest = new Dictionary<string, IReadOnlyCollection<FileEntry>>(StringComparer.Ordinal);
        foreach (var (owner, files) in outputs)
        {
            await ExecuteAsync(unstage, cancellationToken, owner);
            latest[owner] = files;
        }
        await InsertManyAsync("INSERT INTO staged(owner, path, object, size)", "",
            [.. latest.SelectMany(o => o.Value.Select(f => new object?[] { o.Key, f.Path, f.Hash, f.Size }))], cancellationToken);
    }

    /// <summary>Rows inserted at a time by <see cref="InsertManyAsync"/>: few round trips, and far below both databases' parameter limits.</summary>
    private const int InsertBatch = 200;

    /// <summary>
    /// Runs <c><paramref name="insertInto"/> VALUES (…), (…) <paramref name="suffix"/></c> for <paramref name="rows"/>
    /// (each a value per column, in order), <see cref="InsertBatch"/> rows per statement: one round trip per batch
    /// rather than per row, which matters for thousands of frames over a network.
    /// </summary>
    internal async Task InsertManyAsync(string insertInto, string suffix, IReadOnlyList<object?[]> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return;
        }
        var columns = rows[0].Length;
        DbCommand? full = null;
        try
        {
            for (var start = 0; start < rows.Count; start += InsertBatch)
            {
                var count = Math.Min(InsertBatch, rows.Count - start);
                var command = count == InsertBatch ? full ??= PrepareInsert(count) : PrepareInsert(count);
                try
                {
                    await ExecuteAsync(command, cancellationToken, [.. rows.Skip(start).Take(count).SelectMany(r => r)]);
                }
                finally
                {
                    if (command != full)
                    {
                        await command.DisposeAsync();
                    }
                }
            }
        }
        finally
        {
            if (full is not null)
            {
                await full.DisposeAsync();
            }
        }

        DbCommand PrepareInsert(int count)
        {
            var names = Enumerable.Range(0, count * columns).Select(i => "$v" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
            var values = string.Join(", ", Enumerable.Range(0, count).Select(r => "(" + string.Join(", ", names.Skip(r * columns).Take(columns)) + ")"));
            return Prepare($"{insertInto} VALUES {values} {suffix}", names);
        }
    }

    /// <summary>Drops what owners under <paramref name="ownerPrefix"/> staged, except the owners in <paramref name="keep"/>.</summary>
    internal async Task<int> UnstageAsync(string ownerPrefix, IReadOnlySet<string> keep, CancellationToken cancellationToken)
    {
        var owners = await QueryAsync("SELECT DISTINCT owner FROM staged WHERE owner >= $from AND owner < $to", r => r.GetString(0), cancellationToken,
            ("$from", ownerPrefix), ("$to", ownerPrefix + "\uffff"));
        var removed = 0;
        foreach (var owner in owners.Where(o => !keep.Contains(o)))
        {
            removed += await ExecuteAsync("DELETE FROM staged WHERE owner = $owner", cancellationToken, ("$owner", owner));
        }
        return removed;
    }

    /// <summary>What owners whose key starts with <paramref name="ownerPrefix"/> staged, by owner.</summary>
    public async Task<IReadOnlyDictionary<string, IReadOnlyList<FileEntry>>> GetStagedAsync(string ownerPrefix, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync(
            "SELECT owner, path, object, size FROM staged WHERE owner >= $from AND owner < $to ORDER BY owner, path",
            r => (Owner: r.GetString(0), File: new FileEntry(r.GetString(1), r.GetString(2), r.GetInt64(3))), cancellationToken,
            ("$from", ownerPrefix), ("$to", ownerPrefix + "\uffff"));
        return rows.GroupBy(r => r.Owner, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, IReadOnlyList<FileEntry> (g) => g.Select(r => r.File).ToList(), StringComparer.Ordinal);
    }

    /// <summary>Drops the staged rows of owners whose key starts with <paramref name="ownerPrefix"/>.</summary>
    public Task<int> UnstageAsync(string ownerPrefix, CancellationToken cancellationToken) =>
        ExecuteAsync("DELETE FROM staged WHERE owner >= $from AND owner < $to", cancellationToken,
            ("$from", ownerPrefix), ("$to", ownerPrefix + "\uffff"));

    public async ValueTask DisposeAsync()
    {
        await _db.DisposeAsync();
        if (_ownsDatabase)
        {
            await Database.DisposeAsync();
        }
    }

    /// <summary>
    /// Removes unfinished commits whose writer is provably gone (nobody holds their branch's lock, which dies with its
    /// holder) and their objects, and temporary object files of dead processes. Commits of live writers stay.
    /// </summary>
    /// <param name="heldBranches">Branches ("repo@branch") whose lock the caller holds: their unfinished commits are abandoned.</param>
    internal async Task<int> RecoverAsync(CancellationToken cancellationToken, params string[] heldBranches)
    {
        var unfinished = await QueryAsync(
            "SELECT id, repo, branch FROM commits WHERE finished IS NULL", r => (Id: r.GetString(0), Repo: r.GetString(1), Branch: r.GetString(2)),
            cancellationToken);
        var abandoned = 0;
        foreach (var commit in unfinished)
        {
            var held = heldBranches.Contains($"{commit.Repo}@{commit.Branch}", StringComparer.Ordinal);
            await using var branchLock = held ? null : await Database.TryAcquireBranchAsync(commit.Repo, commit.Branch, cancellationToken);
            if (held || branchLock is not null)
            {
                await AbortAsync(commit.Id, cancellationToken);
                abandoned++;
            }
        }
        Objects.RemoveTemporaryFiles();
        if (abandoned > 0)
        {
            // The dead writer's complete objects are referenced by nothing now.
            await CollectGarbageAsync(cancellationToken);
        }
        return abandoned;
    }

    internal async Task AbortAsync(string commitId, CancellationToken cancellationToken)
    {
        await using var transaction = await BeginTransactionAsync(cancellationToken);
        await ExecuteAsync("DELETE FROM files WHERE commit_id = $id AND EXISTS (SELECT 1 FROM commits WHERE id = $id AND finished IS NULL)",
            cancellationToken, ("$id", commitId));
        await ExecuteAsync("DELETE FROM commits WHERE id = $id AND finished IS NULL", cancellationToken, ("$id", commitId));
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Deletes objects no commit and no staged task output refers to. Skipped while any commit is being written: its
    /// writer may have stored objects it has not recorded yet.
    /// </summary>
    internal async Task<int> CollectGarbageAsync(CancellationToken cancellationToken)
    {
        if ((await QueryAsync("SELECT 1 FROM commits WHERE finished IS NULL LIMIT 1", r => r.GetInt32(0), cancellationToken)).Count > 0)
        {
            return 0;
        }
        var used = (await QueryAsync("SELECT object FROM files UNION SELECT object FROM staged", r => r.GetString(0), cancellationToken)).ToHashSet(StringComparer.Ordinal);
        var removed = 0;
        foreach (var hash in await Objects.ListAsync(cancellationToken).ToListAsync(cancellationToken))
        {
            if (!used.Contains(hash))
            {
                await Objects.DeleteAsync(hash, cancellationToken);
                removed++;
            }
        }
        return removed;
    }

    internal async Task<string?> TryGetHeadAsync(string repo, string branch, CancellationToken cancellationToken)
    {
        var heads = await QueryAsync(
            "SELECT head FROM branches WHERE repo = $repo AND name = $branch", r => r.GetString(0), cancellationToken,
            ("$repo", repo), ("$branch", branch));
        return heads.Count == 0 ? null : heads[0];
    }

    internal async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters) =>
        await Database.ExecuteAsync(await ConnectionAsync(cancellationToken), sql, cancellationToken, parameters);

    internal async Task<IReadOnlyList<T>> QueryAsync<T>(
        string sql, Func<DbDataReader, T> read, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters) =>
        await Database.QueryAsync(await ConnectionAsync(cancellationToken), sql, read, cancellationToken, parameters);

    /// <summary>
    /// The store's connection, opened anew when it broke (a PostgreSQL restart or a cut network ends it), so a
    /// long-lived store (the engine's) works again once the database is back.
    /// </summary>
    private async Task<DbConnection> ConnectionAsync(CancellationToken cancellationToken)
    {
        if (_db.State == System.Data.ConnectionState.Open)
        {
            return _db;
        }
        await _db.DisposeAsync();
        _db = await Database.OpenConnectionAsync(cancellationToken);
        return _db;
    }

    /// <summary>A command to run many times with new values: SQL parsed once, not per row.</summary>
    internal DbCommand Prepare(string sql, params string[] parameters) => Database.Prepare(_db, sql, parameters);

    /// <summary>Runs a <see cref="Prepare"/>d command with values for its parameters, in order.</summary>
    internal static Task ExecuteAsync(DbCommand command, CancellationToken cancellationToken, params object?[] values) =>
        MetadataDatabase.ExecuteAsync(command, cancellationToken, values);

    /// <summary>Serializes the rest of the caller's transaction with others taking <paramref name="name"/> (see <see cref="MetadataDatabase.LockAsync"/>).</summary>
    internal async Task LockAsync(string name, CancellationToken cancellationToken) =>
        await Database.LockAsync(await ConnectionAsync(cancellationToken), name, cancellationToken);

    /// <summary>Begins a transaction on the store's connection (see <see cref="MetadataDatabase.BeginTransactionAsync"/>).</summary>
    internal async Task<DbTransaction> BeginTransactionAsync(CancellationToken cancellationToken) =>
        await Database.BeginTransactionAsync(await ConnectionAsync(cancellationToken), cancellationToken);

    internal static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset Parse(string time) =>
        DateTimeOffset.Parse(time, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);

    private const string CommitSelect = """
         SELECT c.id, c.repo, c.branch, c.parent, c.message, c.created,
                (SELECT CAST(count(*) AS INTEGER) FROM files f WHERE f.commit_id = c.id),
                (SELECT CAST(coalesce(sum(size), 0) AS BIGINT) FROM files f WHERE f.commit_id = c.id)
         FROM commits c
        """;

    private static CommitInfo ReadCommit(DbDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetString(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetString(4), Parse(r.GetString(5)),
        r.GetInt32(6), r.GetInt64(7));

    private static FileEntry ReadFile(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetInt64(2));
}
