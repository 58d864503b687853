using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Reel.Server.Analysis;

namespace Reel.Server.Tests;

/// <summary>Uploads and downloads within their limits: refused, cut short or stalled, they leave no file and no row behind.</summary>
public sealed class ResourceLimitTests
{
    [Fact]
    public async Task OversizedUploads_Are413_AndLeaveNothing()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxUploadBytes = 1 << 20 });
        await SecurityTests.SeedAsync(server);
        var before = await SecurityTests.SnapshotAsync(server);
        var big = new byte[(1 << 20) + 1];

        using (var put = await SendExpectingContinueAsync(server, HttpMethod.Put, "/api/v1/repos/videos/branches/master/files/big.bin", Octets(big)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, put.StatusCode);
            Assert.Contains("over the 1048576-byte limit", (await put.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
        }
        // Without a length given up front the limit holds as the body streams in.
        using (var chunked = await server.Client.PutAsync("/api/v1/repos/videos/branches/master/files/big.bin", new StreamContent(new UnknownLength(big))
        {
            Headers = { ContentType = new("application/octet-stream") },
        }))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, chunked.StatusCode);
        }
        using (var upload = await SendExpectingContinueAsync(server, HttpMethod.Post, "/api/v1/analyses?models=color_detection&videoName=big.mp4", Octets(big)))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, upload.StatusCode);
        }

        Assert.Equal(before, await SecurityTests.SnapshotAsync(server));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(server.DataDirectory, "objects", "tmp")));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(server.DataDirectory, "analyses")));
    }

    [Fact]
    public async Task AbortedUploads_LeaveNoFileNoCommitAndNoAnalysis()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);
        await SecurityTests.SeedAsync(server);
        var before = await SecurityTests.SnapshotAsync(server);

        foreach (var path in new[] { "/api/v1/repos/videos/branches/master/files/cut.bin", "/api/v1/analyses?models=color_detection&videoName=cut.mp4" })
        {
            // Promise 8 MiB, send 1 MiB, hang up.
            var uri = new Uri(server.Url);
            using var socket = new TcpClient();
            await socket.ConnectAsync(uri.Host, uri.Port);
            var stream = socket.GetStream();
            var method = path.StartsWith("/api/v1/analyses", StringComparison.Ordinal) ? "POST" : "PUT";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(
                $"{method} {path} HTTP/1.1\r\nHost: {uri.Authority}\r\nAuthorization: Bearer {server.Key}\r\n"
                + $"Content-Type: application/octet-stream\r\nContent-Length: {8 << 20}\r\n\r\n"));
            await stream.WriteAsync(new byte[1 << 20]);
            await stream.FlushAsync();
            socket.Client.LingerState = new LingerOption(true, 0);
            socket.Close();
        }

        // The server notices the abort on its own time: wait (bounded) until nothing is being received.
        var tmp = Path.Combine(server.DataDirectory, "objects", "tmp");
        var analyses = Path.Combine(server.DataDirectory, "analyses");
        for (var i = 0; i < 200 && (Directory.EnumerateFiles(tmp).Any() || (Directory.Exists(analyses) && Directory.EnumerateFileSystemEntries(analyses).Any())); i++)
        {
            await Task.Delay(100);
        }
        Assert.Empty(Directory.EnumerateFiles(tmp));
        Assert.True(!Directory.Exists(analyses) || !Directory.EnumerateFileSystemEntries(analyses).Any());
        Assert.Equal(before, await SecurityTests.SnapshotAsync(server));
    }

    [Fact]
    public async Task SlowUpload_DoesNotHoldUpOtherCommits()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);
        await SecurityTests.SeedAsync(server);
        var uri = new Uri(server.Url);
        using var slow = new TcpClient();
        await slow.ConnectAsync(uri.Host, uri.Port);
        var stream = slow.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"PUT /api/v1/repos/videos/branches/master/files/slow.bin HTTP/1.1\r\nHost: {uri.Authority}\r\nAuthorization: Bearer {server.Key}\r\n"
            + "Content-Type: application/octet-stream\r\nContent-Length: 10\r\n\r\n12345"));
        await stream.FlushAsync();
        var tmp = Path.Combine(server.DataDirectory, "objects", "tmp");
        for (var i = 0; i < 200 && !Directory.EnumerateFiles(tmp).Any(); i++)
        {
            await Task.Delay(50);
        }
        Assert.NotEmpty(Directory.EnumerateFiles(tmp));

        // Half the upload is in: other writers commit meanwhile (before, the upload held the data directory's write lock).
        using (var other = await server.Client.PutAsync("/api/v1/repos/videos/branches/master/files/other.txt", RestApiTests.Binary("other")))
        {
            Assert.Equal(HttpStatusCode.Created, other.StatusCode);
        }
        Assert.Equal(HttpStatusCode.Created, (await server.Client.PostAsJsonAsync("/api/v1/repos", new { name = "more" })).StatusCode);

        await stream.WriteAsync("67890"u8.ToArray());
        using var reader = new StreamReader(stream);
        Assert.Equal("HTTP/1.1 201 Created", await reader.ReadLineAsync());
        Assert.Equal("1234567890", await server.Client.GetStringAsync("/api/v1/repos/videos/branches/master/files/slow.bin"));
        Assert.Equal(3, (await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/repos/videos/branches/master/commits")).GetArrayLength());
        Assert.Empty(Directory.EnumerateFiles(tmp));
    }

    [Fact]
    public async Task StalledDownload_DoesNotHoldUpAnotherAnalysis_AndFailsWithoutLeavingAFile()
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowPrivateUrls = true, DownloadIdleTimeout = TimeSpan.FromSeconds(3) });

        using var stalled = await server.StartAnalysisAsync($$"""{"videoURL": "{{server.FilesUrl}}/stall/a.mp4", "modelsToRun": ["color_detection"]}""");
        Assert.Equal(HttpStatusCode.Created, stalled.StatusCode);
        var stalledUrl = (await stalled.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status_url").GetString()!;
        using var normal = await server.StartAnalysisAsync($$"""{"videoURL": "{{server.FilesUrl}}/videos/small.ogv", "modelsToRun": ["color_detection"], "frameStep": 10}""");

        var done = await server.WaitAsync((await normal.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status_url").GetString()!);
        Assert.Equal("Completed", done.GetProperty("status").GetString());
        var failed = await server.WaitAsync(stalledUrl);
        Assert.Equal("Failed", failed.GetProperty("status").GetString());
        Assert.Contains("the download stalled", failed.GetProperty("error").GetString(), StringComparison.Ordinal);
        var id = failed.GetProperty("video_id").GetString()!;
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(server.DataDirectory, "analyses", id), "source.*"));
    }

    [Theory]
    [InlineData("http://127.0.0.1:9/a.mp4")]
    [InlineData("http://localhost:9/a.mp4")]
    [InlineData("http://[::ffff:127.0.0.1]:9/a.mp4")]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://[64:ff9b::a9fe:a9fe]/latest/meta-data/")]
    [InlineData("http://[2002:a9fe:a9fe::1]/latest/meta-data/")]
    public async Task PublicLookingHost_RedirectingInside_FailsWithoutNamingTheAddress(string inside)
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);
        // The file server (127.0.0.2) stands for a public host; where it redirects is checked like any URL.
        ((VideoFetcher)server.Services.GetService(typeof(VideoFetcher))!).StandsForPublic = a => a.Equals(IPAddress.Parse("127.0.0.2"));
        var url = $"{server.FilesUrl}/redirect?to={Uri.EscapeDataString(inside)}";

        using var start = await server.StartAnalysisAsync($$"""{"videoURL": "{{url}}", "modelsToRun": ["color_detection"]}""");
        Assert.Equal(HttpStatusCode.Created, start.StatusCode);
        var failed = await server.WaitAsync((await start.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status_url").GetString()!);

        Assert.Equal("Failed", failed.GetProperty("status").GetString());
        var error = failed.GetProperty("error").GetString()!;
        Assert.Contains("is a loopback, private, link-local or otherwise internal address", error, StringComparison.Ordinal);
        if (inside.Contains("localhost", StringComparison.Ordinal))
        {
            Assert.DoesNotContain("127.0.0.1", error, StringComparison.Ordinal);
            Assert.DoesNotContain("::1", error, StringComparison.Ordinal);
        }
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(server.DataDirectory, "analyses", failed.GetProperty("video_id").GetString()!), "source.*"));
        Assert.Empty(await server.Client.GetFromJsonAsync<JsonElement[]>("/analysis/videos") ?? []);
    }

    /// <summary>
    /// Sends with <c>Expect: 100-continue</c>, as curl does for large bodies: the server refuses a length over the limit
    /// before the body is sent. Without it the client may still be writing the body when the server answers 413 and
    /// closes, and the client sees a broken pipe instead of the answer (a race the server cannot prevent).
    /// </summary>
    private static Task<HttpResponseMessage> SendExpectingContinueAsync(TestServer server, HttpMethod method, string path, HttpContent content)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.ExpectContinue = true;
        return server.Client.SendAsync(request);
    }

    private static ByteArrayContent Octets(byte[] bytes) => new(bytes) { Headers = { ContentType = new("application/octet-stream") } };

    /// <summary>A stream that does not tell its length, so the client sends it chunked.</summary>
    private sealed class UnknownLength(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
