using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Reel.Testing;

namespace Reel.Cli.Tests;

/// <summary><c>--server URL</c>: the CLI against a real <c>reel serve</c> process, including a pipeline run by the server's engine.</summary>
public sealed class RemoteCommandTests : IAsyncLifetime
{
    private readonly string _work = TestMedia.TempDirectory();
    private Process? _server;
    private string _url = "";

    public async Task InitializeAsync()
    {
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            _url = $"http://127.0.0.1:{((IPEndPoint)probe.LocalEndpoint).Port}";
        }
        _server = Process.Start(ReelProcess.StartInfo("serve", "--urls", _url, "--data-dir", Path.Combine(_work, "server-data")))!;
        using var http = new HttpClient();
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                (await http.GetAsync($"{_url}/analysis/videos")).EnsureSuccessStatusCode();
                return;
            }
            catch (HttpRequestException) when (clock.Elapsed < TimeSpan.FromMinutes(1) && !_server.HasExited)
            {
                await Task.Delay(100);
            }
        }
    }

    [Fact]
    public void DataAndPipelineVerbs_WorkOverTheServer_AndItsEngineRunsTheJob()
    {
        var spec = Path.Combine(_work, "copy.yaml");
        File.WriteAllText(spec, """
            pipeline: {name: upper}
            input: {pfs: {repo: inbox, glob: "/*"}}
            transform: {cmd: [sh, -c, 'for f in /pfs/inbox/*; do tr a-z A-Z < "$f" > /pfs/out/$(basename "$f"); done']}
            """);
        var note = Path.Combine(_work, "note.txt");
        File.WriteAllText(note, "hello server\n");

        Ok("repo", "create", "inbox");
        Ok("pipeline", "create", "-f", spec);
        var commit = Ok("put", "inbox@master:/note.txt", "-f", note).Trim();
        Assert.Matches("^[0-9a-f]{32}$", commit);
        var wait = Run("job", "wait");
        Assert.True(wait.ExitCode == 0, wait.StdErr);

        using var ls = JsonDocument.Parse(Ok("ls", "upper@master:/", "--json"));
        Assert.Equal("/note.txt", Assert.Single(ls.RootElement.EnumerateArray().ToList()).GetProperty("path").GetString());
        var got = Path.Combine(_work, "got.txt");
        Ok("get", "upper@master:/note.txt", "-o", got);
        Assert.Equal("HELLO SERVER\n", File.ReadAllText(got));
        Assert.Contains("inbox", Ok("repo", "list"), StringComparison.Ordinal);
        using var jobs = JsonDocument.Parse(Ok("job", "list", "--json"));
        var job = Assert.Single(jobs.RootElement.EnumerateArray().ToList());
        Assert.Equal("Success", job.GetProperty("state").GetString());
        var id = job.GetProperty("id").GetString()!;
        Assert.Contains("1 succeeded", Ok("job", "inspect", id[..8]), StringComparison.Ordinal);
        using var datums = JsonDocument.Parse(Ok("datum", "list", id, "--json"));
        Assert.Equal("inbox:/note.txt", Assert.Single(datums.RootElement.EnumerateArray().ToList()).GetProperty("files")[0].GetString());
        var stop = Run("job", "stop", id);
        Assert.Equal(1, stop.ExitCode);
        Assert.Contains("already finished", stop.StdErr, StringComparison.Ordinal);
    }

    [Fact]
    public void WithoutTheKey_ChangingVerbsAreRefused_AndChangeNothing()
    {
        // Another data directory holds no key: the server refuses what would change its data.
        string[] elsewhere = ["--server", _url, "--data-dir", Path.Combine(_work, "local-data")];
        var create = ReelProcess.Run(["repo", "create", "intruder", .. elsewhere]);
        Assert.Equal(1, create.ExitCode);
        Assert.Contains("needs the server's key", create.StdErr, StringComparison.Ordinal);
        // Reads stay open, and show that nothing was created; the local directory was never opened.
        Assert.DoesNotContain("intruder", ReelProcess.Run(["repo", "list", .. elsewhere]).StdOut, StringComparison.Ordinal);
        Assert.DoesNotContain("intruder", Ok("repo", "list"), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_work, "local-data")));
    }

    [Fact]
    public void ServerErrors_AreOneLineReasons_AndAMissingServerIsNamed()
    {
        var missing = Run("ls", "nothing@master:/");
        Assert.Equal(1, missing.ExitCode);
        Assert.Equal("reel ls: repo 'nothing' does not exist", missing.StdErr.Trim());

        var unsupported = Run("log", "inbox@master");
        Assert.Equal(2, unsupported.ExitCode);
        Assert.StartsWith("reel log: --server (or $REEL_SERVER) is not supported by this command", unsupported.StdErr.Trim(), StringComparison.Ordinal);

        var refused = ReelProcess.Run("repo", "list", "--server", "http://127.0.0.1:9");
        Assert.Equal(1, refused.ExitCode);
        Assert.StartsWith("reel repo list: cannot reach http://127.0.0.1:9/", refused.StdErr.Trim(), StringComparison.Ordinal);
    }

    public async Task DisposeAsync()
    {
        if (_server is { HasExited: false })
        {
            Signals.Send(_server.Id, 15);
            if (!_server.WaitForExit(TimeSpan.FromSeconds(20)))
            {
                _server.Kill(entireProcessTree: true);
            }
        }
        _server?.Dispose();
        await Task.Yield();
        Directory.Delete(_work, recursive: true);
    }

    /// <summary>The CLI as the server's own user on the server's data directory: it finds the server's key there.</summary>
    private (int ExitCode, string StdOut, string StdErr) Run(params string[] arguments) =>
        ReelProcess.Run([.. arguments, "--server", _url, "--data-dir", Path.Combine(_work, "server-data")]);

    private string Ok(params string[] arguments)
    {
        var result = Run(arguments);
        Assert.True(result.ExitCode == 0, $"reel {string.Join(' ', arguments)} exited {result.ExitCode}: {result.StdErr}");
        return result.StdOut;
    }
}
