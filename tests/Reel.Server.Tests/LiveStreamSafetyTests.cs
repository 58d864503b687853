using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Reel.Server.Analysis;
using Reel.Testing;

namespace Reel.Server.Tests;

/// <summary>Live endpoints: the stream key is enforced, a failed listener is a JSON answer that leaves nothing, caps hold.</summary>
public sealed class LiveStreamSafetyTests
{
    private static string Clip => TestMedia.Generate(
        "live-3s.mp4", "-f lavfi -i testsrc2=size=320x240:rate=25:duration=3 -c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p");

    [Fact]
    public async Task PushToAWrongStreamKey_IsRefused_RecordsNothing_AndTheRightKeyStillWorks()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);
        var (id, endpoint) = await OpenAsync(server);
        var wrong = endpoint[..(endpoint.LastIndexOf('/') + 1)] + "0123456789abcdef0123456789abcdef";

        await PushAsync(Clip, wrong);

        // Refused: the endpoint drops what came and listens again; the analysis has nothing.
        var live = Path.Combine(server.DataDirectory, "analyses", id, "live");
        var port = new Uri(endpoint.Replace("rtmp://", "http://", StringComparison.Ordinal)).Port;
        await WaitUntilAsync(() => !Directory.EnumerateFiles(live).Any() && !File.Exists(Path.Combine(server.DataDirectory, "analyses", id, "source.ts"))
            && IsListening(port));
        var status = await server.Client.GetFromJsonAsync<JsonElement>($"/analysis/{id}");
        Assert.Equal("Pending", status.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync($"/analysis/{id}/results")).StatusCode);

        Assert.Equal(0, await PushAsync(Clip, endpoint));
        var final = await server.WaitAsync($"/analysis/{id}");
        Assert.Equal("Completed", final.GetProperty("status").GetString());
        var results = (await server.Client.GetFromJsonAsync<JsonElement>($"/analysis/{id}/results")).EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(1, 15).Select(i => i * 5), results.Select(r => r.GetProperty("frame_number").GetInt32()));
    }

    [Fact]
    public async Task ListenerThatCannotStart_IsAPlainTextAnswer_LeavesNothing_AndFreesItsSlot()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxLiveStreams = 1 });
        var live = (LiveStreams)server.Services.GetService(typeof(LiveStreams))!;
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        live.PortFor = _ => ((IPEndPoint)taken.LocalEndpoint).Port;

        using (var refused = await server.Client.PostAsync("/analysis/rtmp-endpoint", Json("""{"modelsToRun": ["color_detection"]}""")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.Equal("text/plain", refused.Content.Headers.ContentType?.MediaType);
            Assert.StartsWith("the RTMP endpoint could not be opened", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        Assert.Equal(0, (await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/analyses")).GetArrayLength());
        var analyses = Path.Combine(server.DataDirectory, "analyses");
        Assert.True(!Directory.Exists(analyses) || !Directory.EnumerateFileSystemEntries(analyses).Any());

        // The one slot is free again.
        live.PortFor = address =>
        {
            using var probe = new TcpListener(address, 0);
            probe.Start();
            return ((IPEndPoint)probe.LocalEndpoint).Port;
        };
        using var opened = await server.Client.PostAsync("/analysis/rtmp-endpoint", Json("""{"modelsToRun": ["color_detection"]}"""));
        Assert.Equal(HttpStatusCode.Created, opened.StatusCode);
    }

    [Fact]
    public async Task ConcurrentOpens_NeverPassTheCap()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxLiveStreams = 2 });

        var answers = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => server.Client.PostAsync("/analysis/rtmp-endpoint", Json("""{"modelsToRun": ["color_detection"]}"""))));

        Assert.Equal(2, answers.Count(a => a.StatusCode == HttpStatusCode.Created));
        Assert.Equal(6, answers.Count(a => a.StatusCode == HttpStatusCode.TooManyRequests));
        Assert.Equal(2, (await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/analyses")).GetArrayLength());
    }

    [Fact]
    public async Task StreamOverTheSizeCap_IsCutOff_WithTheReason()
    {
        await using var server = await TestServer.StartAsync(o => o with { MaxLiveBytes = 20_000 });
        var (id, endpoint) = await OpenAsync(server);

        await PushAsync(Clip, endpoint);

        var final = await server.WaitAsync($"/analysis/{id}");
        Assert.Equal("Failed", final.GetProperty("status").GetString());
        Assert.StartsWith("the stream went over the 20000-byte limit", final.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    private static async Task<(string Id, string Endpoint)> OpenAsync(TestServer server)
    {
        using var created = await server.Client.PostAsync("/analysis/rtmp-endpoint", Json("""{"modelsToRun": ["color_detection"], "frameStep": 5}"""));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var live = await created.Content.ReadFromJsonAsync<JsonElement>();
        return (live.GetProperty("video_id").GetString()!, live.GetProperty("rtmp_endpoint").GetString()!);
    }

    private static async Task<int> PushAsync(string clip, string endpoint)
    {
        using var push = Process.Start(new ProcessStartInfo("ffmpeg", ["-nostdin", "-v", "error", "-re", "-i", clip, "-c", "copy", "-f", "flv", endpoint])
        {
            RedirectStandardError = true,
        })!;
        _ = push.StandardError.ReadToEndAsync();
        await push.WaitForExitAsync();
        return push.ExitCode;
    }

    /// <summary>Whether a socket listens on the port (from /proc: connecting would take the one push a listener accepts).</summary>
    private static bool IsListening(int port) => new[] { "/proc/net/tcp", "/proc/net/tcp6" }.Any(table => File.ReadLines(table).Skip(1)
        .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        .Any(fields => fields[1].EndsWith($":{port:X4}", StringComparison.Ordinal) && fields[3] == "0A"));

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), "timed out waiting");
            await Task.Delay(100);
        }
    }
}
