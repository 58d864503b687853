using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Reel.Testing;

/// <summary>
/// A real S3 endpoint for tests: npm's <c>s3rver</c> (a devDependency in package.json) on a free port, storing into a
/// temporary directory. <see cref="Shared"/> is one server per test run, bound to every address so that network
/// namespaces reach it too; <see cref="Start"/> starts a private one bound to a given address. The server watches its
/// stdin: when this process ends, even by kill -9, the pipe closes and s3rver exits, so none is ever left behind.
/// </summary>
internal sealed partial class S3Server : IDisposable
{
    /// <summary>s3rver's built-in key pair; any region is accepted.</summary>
    public const string AccessKey = "S3RVER";
    public const string SecretKey = "S3RVER";
    public const string Region = "us-east-1";

    // Runs s3rver in-process in node and exits when stdin closes (our end of the pipe dies with the test host).
    private const string Launcher = """
        const S3rver = require(process.argv[1]);
        const [directory, address] = process.argv.slice(2);
        const server = new S3rver({ directory, address, port: 0, silent: true });
        server.run().then(
          bound => process.stdout.write(`listening ${bound.port}\n`),
          error => { process.stderr.write(`s3rver: ${error.message}\n`); process.exit(1); });
        const stop = () => server.close().finally(() => process.exit(0));
        process.stdin.on('end', stop);
        process.stdin.on('error', stop);
        process.stdin.resume();
        """;

    private static readonly Lazy<S3Server> SharedServer = new(() =>
    {
        var server = Start("0.0.0.0");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Dispose();
        return server;
    });

    private readonly Process process;
    private int disposed;

    private S3Server(Process process, string directory, string address, int port)
    {
        this.process = process;
        Directory = directory;
        Address = address;
        Port = port;
    }

    /// <summary>The server of this test run (started on first use, stopped and deleted when the run ends).</summary>
    public static S3Server Shared => SharedServer.Value;

    /// <summary>Where s3rver keeps buckets: <c>DIRECTORY/BUCKET/KEY._S3rver_object</c>.</summary>
    public string Directory { get; }

    /// <summary>The address the server is bound to (<c>0.0.0.0</c> for every interface).</summary>
    public string Address { get; }

    public int Port { get; }

    /// <summary>The node process serving S3.</summary>
    public int ProcessId => process.Id;

    /// <summary>The endpoint URL for clients on this machine.</summary>
    public string Endpoint => EndpointAt(Address == "0.0.0.0" ? "127.0.0.1" : Address);

    /// <summary>The endpoint URL through a given address of this host (e.g. a bridge's, from a network namespace).</summary>
    public string EndpointAt(string host) => $"http://{host}:{Port.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Starts a private server bound to <paramref name="address"/> on a free port; dispose it to stop it.</summary>
    public static S3Server Start(string address = "127.0.0.1")
    {
        var module = Path.Combine(TestMedia.RepositoryRoot, "node_modules", "s3rver");
        Assert.True(File.Exists(Path.Combine(module, "package.json")), $"s3rver is not installed at {module}: run 'npm ci' in the repository");
        var directory = System.IO.Directory.CreateTempSubdirectory("reel-s3rver-").FullName;
        var start = new ProcessStartInfo("node")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { "-e", Launcher, module, directory, address })
        {
            start.ArgumentList.Add(argument);
        }
        var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start");
        var errors = process.StandardError.ReadToEndAsync();
        try
        {
            var line = process.StandardOutput.ReadLineAsync();
            if (!line.Wait(TimeSpan.FromSeconds(30)) || line.Result is not { } text || !text.StartsWith("listening ", StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"s3rver did not start on {address}: {(errors.Wait(TimeSpan.FromSeconds(2)) ? errors.Result : "")}");
            }
            var port = int.Parse(text["listening ".Length..], CultureInfo.InvariantCulture);
            // Keep stdout drained so the child never blocks on a full pipe.
            _ = process.StandardOutput.ReadToEndAsync();
            return new S3Server(process, directory, address, port);
        }
        catch
        {
            Stop(process);
            System.IO.Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    /// <summary>Creates a bucket with a name no other test uses (s3rver accepts an unsigned PUT).</summary>
    public string CreateBucket(string prefix = "reel")
    {
        var name = $"{prefix}-{Guid.NewGuid():N}".ToLowerInvariant();
        using var http = new HttpClient();
        using var response = http.PutAsync($"{Endpoint}/{name}", content: null).GetAwaiter().GetResult();
        Assert.True(response.IsSuccessStatusCode, $"s3rver refused to create bucket {name}: {(int)response.StatusCode}");
        return name;
    }

    /// <summary>The file in which s3rver holds the body of <paramref name="key"/> (to corrupt an object behind S3's back).</summary>
    public string ObjectFile(string bucket, string key)
    {
        Assert.Matches(PlainKey(), key);
        var slash = key.LastIndexOf('/');
        var folder = slash < 0 ? "" : key[..slash];
        return Path.Combine(Directory, bucket, folder, $"{key[(slash + 1)..]}._S3rver_object");
    }

    /// <summary>Stops the server (closing its stdin, killing it if it lingers) and deletes its directory.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }
        Stop(process);
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    private static void Stop(Process process)
    {
        try
        {
            process.StandardInput.Close();
            if (!process.WaitForExit(TimeSpan.FromSeconds(5)))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(TimeSpan.FromSeconds(5));
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        process.Dispose();
    }

    [GeneratedRegex("^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")]
    private static partial Regex PlainKey();
}
