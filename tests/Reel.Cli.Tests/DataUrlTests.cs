using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Reel.Testing;

namespace Reel.Cli.Tests;

/// <summary><c>reel put -f http://…</c> against a server on the loopback interface only.</summary>
public sealed class DataUrlTests : IDisposable
{
    private readonly byte[] _clip = RandomNumberGenerator.GetBytes(3_000_000);
    private readonly HttpListener _server = new();
    private readonly string _work = TestMedia.TempDirectory();
    private readonly string _base;

    public DataUrlTests()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        _base = $"http://127.0.0.1:{port}/";
        _server.Prefixes.Add(_base);
        _server.Start();
        _ = ServeAsync();
    }

    private string DataDir => Path.Combine(_work, "data");

    [Fact]
    public void Put_HttpUrl_StoresTheBodyUnderTheUrlsFileName()
    {
        Assert.Equal(0, Reel("repo", "create", "videos").ExitCode);

        var (exit, _, stderr) = Reel("put", "videos:/clips/", "-f", _base + "media/clip%201.mp4");

        Assert.True(exit == 0, stderr);
        var got = Path.Combine(_work, "got.mp4");
        Assert.Equal(0, Reel("get", "videos:/clips/clip 1.mp4", "-o", got).ExitCode);
        Assert.Equal(_clip, File.ReadAllBytes(got));
    }

    [Fact]
    public void Put_HttpUrlNotFound_ExitsOneAndCommitsNothing()
    {
        Assert.Equal(0, Reel("repo", "create", "videos").ExitCode);

        var (exit, _, stderr) = Reel("put", "videos", "-f", _base + "missing.mp4");

        Assert.Equal(1, exit);
        Assert.Contains("HTTP 404", Assert.Single(ReelProcess.Lines(stderr)), StringComparison.Ordinal);
        using var repo = JsonDocument.Parse(Reel("repo", "inspect", "videos", "--json").StdOut);
        Assert.Equal(0, repo.RootElement.GetProperty("commits").GetInt32());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(DataDir, "objects"), "*", SearchOption.AllDirectories));
    }

    public void Dispose()
    {
        _server.Close();
        Directory.Delete(_work, recursive: true);
    }

    private async Task ServeAsync()
    {
        while (_server.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _server.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            if (context.Request.Url!.AbsolutePath == "/media/clip%201.mp4" || context.Request.Url.AbsolutePath == "/media/clip 1.mp4")
            {
                context.Response.ContentLength64 = _clip.Length;
                await context.Response.OutputStream.WriteAsync(_clip);
            }
            else
            {
                context.Response.StatusCode = 404;
            }
            context.Response.Close();
        }
    }

    private (int ExitCode, string StdOut, string StdErr) Reel(params string[] arguments) =>
        ReelProcess.Run([.. arguments, "--data-dir", DataDir]);
}
