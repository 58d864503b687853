using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Reel.Testing;

/// <summary>How a private test PostgreSQL listens and whom it lets in.</summary>
public sealed record PostgresServerOptions
{
    /// <summary>Addresses to listen on besides 127.0.0.1 (e.g. a bridge address that network namespaces reach).</summary>
    public IReadOnlyList<string> ListenAddresses { get; init; } = [];

    /// <summary>Subnets in CIDR form (e.g. "10.99.0.0/24") allowed to connect with the password.</summary>
    public IReadOnlyList<string> AllowedSubnets { get; init; } = [];

    /// <summary>Port to listen on; 0 picks a free one. It stays the same across <see cref="PostgresServer.StopAsync"/>/restart.</summary>
    public int Port { get; init; }

    /// <summary>Whether to fsync; off by default because test data need not survive a machine crash.</summary>
    public bool Fsync { get; init; }

    /// <summary>The process whose end stops the server and deletes its directory; null: this process.</summary>
    public int? OwnerProcessId { get; init; }

    /// <summary>Most connections at once (several nodes, each with a connection pool).</summary>
    public int MaxConnections { get; init; } = 300;
}

/// <summary>
/// A private PostgreSQL server (Debian's <c>postgresql</c>) in a temporary directory, for tests: initdb, start on a free
/// port, a database per test class, stop/restart (to cut the database off mid-job), and on dispose the server stopped
/// and the directory deleted. <see cref="Shared"/> is one server for the whole test process.
/// </summary>
/// <remarks>
/// PostgreSQL refuses to run as root, so as root every binary runs as the <c>postgres</c> user (setpriv) and the
/// directory belongs to it. A watchdog (a detached shell) stops the server and deletes the directory once the test
/// process is gone, so a test host that is killed, or exits before its exit handlers finish, leaves nothing behind.
/// </remarks>
public sealed class PostgresServer : IAsyncDisposable, IDisposable
{
    /// <summary>Superuser name and password; local test servers only.</summary>
    public const string User = "reel";
    public const string Password = "reel";

    private const string DirectoryPrefix = "reel-pg-";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);
    private static readonly Lazy<Task<PostgresServer>> SharedServer = new(StartSharedAsync);
    private static int databaseCounter;

    private readonly string binDirectory;
    private readonly StringBuilder log = new();
    private readonly SemaphoreSlim gate = new(1, 1);
    private Process? postmaster;
    private Process? watchdog;
    private bool disposed;

    private PostgresServer(string root, string binDirectory, int port, PostgresServerOptions options)
    {
        Root = root;
        this.binDirectory = binDirectory;
        Port = port;
        Options = options;
    }

    /// <summary>One server shared by every test in this process, started on first use and stopped when the process exits.</summary>
    public static Task<PostgresServer> Shared => SharedServer.Value;

    /// <summary>Where the PostgreSQL programs are (psql, pg_ctl, ...).</summary>
    public string BinDirectory => binDirectory;

    /// <summary>The temporary directory: data/ (the cluster) and the socket.</summary>
    public string Root { get; }

    public string DataDirectory => Path.Combine(Root, "data");

    public int Port { get; }

    public PostgresServerOptions Options { get; }

    /// <summary>Whether the postmaster runs now (false between <see cref="StopAsync"/> and <see cref="RestartAsync"/>).</summary>
    public bool IsRunning => postmaster is { HasExited: false };

    /// <summary>The postmaster's process id while it runs.</summary>
    public int? ProcessId => IsRunning ? postmaster!.Id : null;

    /// <summary>A <c>postgresql://</c> URL to <paramref name="database"/> on <paramref name="host"/> (127.0.0.1 unless given).</summary>
    public string Url(string database, string host = "127.0.0.1") =>
        $"postgresql://{User}:{Password}@{host}:{Port.ToString(CultureInfo.InvariantCulture)}/{database}";

    /// <summary>An Npgsql key=value connection string to <paramref name="database"/>.</summary>
    public string ConnectionString(string database, string host = "127.0.0.1") =>
        $"Host={host};Port={Port.ToString(CultureInfo.InvariantCulture)};Username={User};Password={Password};Database={database}";

    /// <summary>Initialises a new cluster in a temporary directory and starts it.</summary>
    public static async Task<PostgresServer> StartAsync(PostgresServerOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new PostgresServerOptions();
        var bin = FindBinDirectory();
        var root = Directory.CreateTempSubdirectory(DirectoryPrefix).FullName;
        var server = new PostgresServer(root, bin, options.Port == 0 ? FreePort() : options.Port, options);
        try
        {
            server.watchdog = StartWatchdog(options.OwnerProcessId ?? Environment.ProcessId, root);
            await server.InitAsync(cancellationToken).ConfigureAwait(false);
            await server.RestartAsync(cancellationToken).ConfigureAwait(false);
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    /// <summary>Creates a new, empty database named after <paramref name="prefix"/> (made unique) and returns its name.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "test", CancellationToken cancellationToken = default)
    {
        var clean = new string([.. prefix.ToLowerInvariant().Where(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_')]);
        var name = $"{(clean.Length == 0 ? "test" : clean[..Math.Min(clean.Length, 40)])}_{Environment.ProcessId}_" +
            Interlocked.Increment(ref databaseCounter).ToString(CultureInfo.InvariantCulture);
        await SqlAsync("postgres", $"CREATE DATABASE \"{name}\"", cancellationToken).ConfigureAwait(false);
        return name;
    }

    /// <summary>Drops <paramref name="database"/>, closing its connections first.</summary>
    public Task DropDatabaseAsync(string database, CancellationToken cancellationToken = default) =>
        SqlAsync("postgres", $"DROP DATABASE IF EXISTS \"{database}\" WITH (FORCE)", cancellationToken);

    /// <summary>Runs SQL through psql in <paramref name="database"/>; returns its unaligned, tuples-only output.</summary>
    public async Task<string> SqlAsync(string database, string sql, CancellationToken cancellationToken = default) =>
        await SqlAsync(database, sql, "127.0.0.1", cancellationToken).ConfigureAwait(false);

    /// <summary>Runs SQL through psql, connecting over TCP to <paramref name="host"/> (one of the listen addresses).</summary>
    public async Task<string> SqlAsync(string database, string sql, string host, CancellationToken cancellationToken = default)
    {
        var result = await RunAsync(Path.Combine(binDirectory, "psql"),
            ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", Port.ToString(CultureInfo.InvariantCulture),
             "-U", User, "-d", database, "-c", sql],
            asPostgres: false, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"psql failed ({result.ExitCode}) on {sql}: {result.Error.Trim()}");
        }
        return result.Output.TrimEnd('\n');
    }

    /// <summary>Stops the server (fast shutdown: sessions are cut, like a database going away); data stay for a restart.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await StopCoreAsync().ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <summary>Starts the server again on the same port and data (after <see cref="StopAsync"/>); waits until it accepts connections.</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (IsRunning)
            {
                return;
            }
            var start = Start(Postgres(), ["-D", DataDirectory], asPostgres: true);
            start.ErrorDataReceived += (_, e) => Append(e.Data);
            start.OutputDataReceived += (_, e) => Append(e.Data);
            start.BeginErrorReadLine();
            start.BeginOutputReadLine();
            postmaster = start;
            await WaitReadyAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (disposed)
        {
            return;
        }
        disposed = true;
        await gate.WaitAsync().ConfigureAwait(false);
        try
        {
            await StopCoreAsync().ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
            DeleteRoot(Root);
            if (watchdog is { HasExited: false })
            {
                watchdog.Kill(entireProcessTree: true);
            }
            watchdog?.Dispose();
        }
    }

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>The server's recent log lines, for failure messages.</summary>
    public string RecentLog()
    {
        lock (log)
        {
            return log.ToString();
        }
    }

    private static async Task<PostgresServer> StartSharedAsync()
    {
        var server = await StartAsync().ConfigureAwait(false);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Dispose();
        return server;
    }

    private string Postgres() => Path.Combine(binDirectory, "postgres");

    private async Task InitAsync(CancellationToken cancellationToken)
    {
        if (Environment.IsPrivilegedProcess)
        {
            await RunCheckedAsync("chown", ["postgres:postgres", Root], asPostgres: false, cancellationToken).ConfigureAwait(false);
        }
        var passwordFile = Path.Combine(Root, "password");
        await File.WriteAllTextAsync(passwordFile, Password + "\n", cancellationToken).ConfigureAwait(false);
        if (Environment.IsPrivilegedProcess)
        {
            await RunCheckedAsync("chown", ["postgres:postgres", passwordFile], asPostgres: false, cancellationToken).ConfigureAwait(false);
        }
        await RunCheckedAsync(Path.Combine(binDirectory, "initdb"),
            ["-D", DataDirectory, "-U", User, "--pwfile", passwordFile, "--auth-local=trust", "--auth-host=scram-sha-256",
             "-E", "UTF8", "--no-locale", "--no-sync"],
            asPostgres: true, cancellationToken).ConfigureAwait(false);
        File.Delete(passwordFile);

        var listen = string.Join(',', new[] { "127.0.0.1" }.Concat(Options.ListenAddresses).Distinct(StringComparer.Ordinal));
        var settings = new StringBuilder()
            .AppendLine("# Reel test server")
            .AppendLine(CultureInfo.InvariantCulture, $"listen_addresses = '{listen}'")
            .AppendLine(CultureInfo.InvariantCulture, $"port = {Port}")
            .AppendLine(CultureInfo.InvariantCulture, $"unix_socket_directories = '{Root}'")
            .AppendLine(CultureInfo.InvariantCulture, $"max_connections = {Options.MaxConnections}")
            .AppendLine(CultureInfo.InvariantCulture, $"fsync = {(Options.Fsync ? "on" : "off")}")
            .AppendLine(CultureInfo.InvariantCulture, $"synchronous_commit = {(Options.Fsync ? "on" : "off")}")
            .AppendLine(CultureInfo.InvariantCulture, $"full_page_writes = {(Options.Fsync ? "on" : "off")}")
            .AppendLine("logging_collector = off")
            .AppendLine("log_min_messages = warning");
        await File.AppendAllTextAsync(Path.Combine(DataDirectory, "postgresql.conf"), settings.ToString(), cancellationToken)
            .ConfigureAwait(false);
        if (Options.AllowedSubnets.Count > 0)
        {
            var hba = string.Concat(Options.AllowedSubnets.Select(subnet => $"host all all {subnet} scram-sha-256\n"));
            await File.AppendAllTextAsync(Path.Combine(DataDirectory, "pg_hba.conf"), hba, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WaitReadyAsync(CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (postmaster is not { HasExited: false })
            {
                throw new InvalidOperationException($"PostgreSQL exited at start (port {Port}): {RecentLog()}");
            }
            var ready = await RunAsync(Path.Combine(binDirectory, "pg_isready"),
                ["-q", "-h", "127.0.0.1", "-p", Port.ToString(CultureInfo.InvariantCulture), "-U", User, "-d", "postgres"],
                asPostgres: false, cancellationToken).ConfigureAwait(false);
            if (ready.ExitCode == 0)
            {
                return;
            }
            if (deadline.Elapsed > StartTimeout)
            {
                throw new TimeoutException($"PostgreSQL did not accept connections on port {Port} within {StartTimeout}: {RecentLog()}");
            }
            await Task.Delay(100, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task StopCoreAsync()
    {
        if (postmaster is not { } process)
        {
            return;
        }
        postmaster = null;
        if (!process.HasExited)
        {
            // SIGINT is PostgreSQL's fast shutdown: it ends every session and checkpoints; kill only if that hangs.
            _ = await RunAsync("kill", ["-INT", process.Id.ToString(CultureInfo.InvariantCulture)], asPostgres: false, default)
                .ConfigureAwait(false);
            using var timeout = new CancellationTokenSource(StopTimeout);
            try
            {
                await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync().ConfigureAwait(false);
            }
        }
        process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (log)
        {
            // Keep the tail only: enough to explain a failed start.
            if (log.Length > 16_000)
            {
                log.Remove(0, log.Length - 8_000);
            }
            log.AppendLine(line);
        }
    }

    private static Process Start(string file, IReadOnlyList<string> arguments, bool asPostgres)
    {
        var info = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        // setpriv execs in place, so the process we hold is the postmaster itself (runuser would fork).
        if (asPostgres && Environment.IsPrivilegedProcess)
        {
            info.FileName = "setpriv";
            foreach (var argument in (string[])["--reuid=postgres", "--regid=postgres", "--init-groups", "--", file])
            {
                info.ArgumentList.Add(argument);
            }
        }
        else
        {
            info.FileName = file;
        }
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        info.Environment["PGPASSWORD"] = Password;
        info.Environment["LC_ALL"] = "C";
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        process.StandardInput.Close();
        return process;
    }

    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(
        string file, IReadOnlyList<string> arguments, bool asPostgres, CancellationToken cancellationToken)
    {
        using var process = Start(file, arguments, asPostgres);
        var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        return (process.ExitCode, await output.ConfigureAwait(false), await error.ConfigureAwait(false));
    }

    private static async Task RunCheckedAsync(string file, IReadOnlyList<string> arguments, bool asPostgres, CancellationToken cancellationToken)
    {
        var result = await RunAsync(file, arguments, asPostgres, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(file)} failed ({result.ExitCode}): {result.Error.Trim()} {result.Output.Trim()}");
        }
    }

    /// <summary>$REEL_PG_BIN, else the newest /usr/lib/postgresql/N/bin (Debian's layout).</summary>
    private static string FindBinDirectory()
    {
        if (Environment.GetEnvironmentVariable("REEL_PG_BIN") is { Length: > 0 } configured)
        {
            return configured;
        }
        const string debian = "/usr/lib/postgresql";
        var found = Directory.Exists(debian)
            ? Directory.EnumerateDirectories(debian)
                .Select(d => (Directory: d, Version: int.TryParse(Path.GetFileName(d), CultureInfo.InvariantCulture, out var v) ? v : -1))
                .Where(d => d.Version > 0 && File.Exists(Path.Combine(d.Directory, "bin", "postgres")))
                .OrderByDescending(d => d.Version)
                .Select(d => Path.Combine(d.Directory, "bin"))
                .FirstOrDefault()
            : null;
        return found ?? throw new InvalidOperationException(
            "PostgreSQL is not installed: no /usr/lib/postgresql/N/bin/postgres (install the Debian package postgresql; ./test.sh does)");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// Waits (detached, in its own session) for the owner process to end, then stops whatever postmaster runs in
    /// <paramref name="root"/> and deletes it; <see cref="DisposeAsync"/> ends it when it did that itself.
    /// </summary>
    private static Process StartWatchdog(int owner, string root)
    {
        const string script = """
            exec </dev/null >/dev/null 2>&1
            owner=$1 root=$2
            while kill -0 "$owner" 2>/dev/null; do sleep 0.5; done
            pid=$(head -n 1 "$root/data/postmaster.pid" 2>/dev/null)
            if [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null; then
                for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
                kill -KILL "$pid" 2>/dev/null
            fi
            rm -rf "$root"
            """;
        var info = new ProcessStartInfo("setsid") { UseShellExecute = false };
        foreach (var argument in (string[])["sh", "-c", script, "reel-pg-watchdog", owner.ToString(CultureInfo.InvariantCulture), root])
        {
            info.ArgumentList.Add(argument);
        }
        return Process.Start(info) ?? throw new InvalidOperationException("could not start the PostgreSQL watchdog");
    }

    private static void DeleteRoot(string root)
    {
        try
        {
            Directory.Delete(root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}

/// <summary>
/// Class fixture: a fresh database on the shared server for one test class, dropped afterwards.
/// Use as <c>IClassFixture&lt;PostgresDatabase&gt;</c>.
/// </summary>
public sealed class PostgresDatabase : IAsyncLifetime
{
    private PostgresServer? server;

    public PostgresServer Server => server ?? throw new InvalidOperationException("the fixture is not initialised");

    public string Name { get; private set; } = "";

    /// <summary>A <c>postgresql://</c> URL to this database.</summary>
    public string Url => Server.Url(Name);

    public string ConnectionString => Server.ConnectionString(Name);

    public async Task InitializeAsync()
    {
        server = await PostgresServer.Shared.ConfigureAwait(false);
        Name = await server.CreateDatabaseAsync("class").ConfigureAwait(false);
    }

    public async Task DisposeAsync()
    {
        if (server is { IsRunning: true } && Name.Length > 0)
        {
            await server.DropDatabaseAsync(Name).ConfigureAwait(false);
        }
    }
}
