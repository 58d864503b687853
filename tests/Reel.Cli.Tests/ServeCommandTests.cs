using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using Reel.Testing;

namespace Reel.Cli.Tests;

/// <summary>
/// <c>reel serve</c> as a process: no child of it outlives it, even when it is killed with SIGKILL and has no chance to
/// clean up; unsafe or impossible options are refused before it starts.
/// </summary>
public sealed class ServeCommandTests : IDisposable
{
    private readonly string _work = TestMedia.TempDirectory();

    [Fact]
    public async Task ServeKilledWithSigkill_WhileAnRtmpListenerAndAPipelineCommandRun_LeavesNoProcess()
    {
        var data = Path.Combine(_work, "data");
        var url = FreeUrl();
        using var server = Process.Start(ReelProcess.StartInfo("serve", "--urls", url, "--data-dir", data))!;
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        await WaitUntilAsync(async () =>
        {
            try
            {
                return (await http.GetAsync("/analysis/videos")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        });
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", File.ReadAllText(Path.Combine(data, "server-key")).Trim());

        // A pipeline command that starts a process of its own in the background, then waits.
        var started = Path.Combine(_work, "started");
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("/api/v1/repos", new { name = "inbox" })).StatusCode);
        var spec = $$$"""
            {"pipeline": {"name": "linger"}, "input": {"pfs": {"repo": "inbox", "glob": "/*"}},
             "transform": {"cmd": ["sh", "-c", "sleep 601 & echo $$ > {{{started}}}.tmp && mv {{{started}}}.tmp {{{started}}}; sleep 602; wait"]}}
            """;
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsync("/api/v1/pipelines", new StringContent(spec, Encoding.UTF8, "application/json"))).StatusCode);
        using var file = new ByteArrayContent("x"u8.ToArray()) { Headers = { ContentType = new("application/octet-stream") } };
        Assert.Equal(HttpStatusCode.Created, (await http.PutAsync("/api/v1/repos/inbox/branches/master/files/x", file)).StatusCode);
        using var live = await http.PostAsync("/analysis/rtmp-endpoint", new StringContent("""{"modelsToRun": ["color_detection"]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, live.StatusCode);
        await WaitUntilAsync(() => Task.FromResult(File.Exists(started)));

        var children = TestProcesses.Descendants(server.Id);
        var lines = children.Select(TestProcesses.CommandLine).ToList();
        Assert.Contains(lines, l => l.Contains("ffmpeg", StringComparison.Ordinal) && l.Contains("-listen", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("sleep 601", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("sleep 602", StringComparison.Ordinal));

        server.Kill();
        await server.WaitForExitAsync();
        await WaitUntilAsync(() => Task.FromResult(!children.Any(TestProcesses.IsAlive)));
        Assert.DoesNotContain(children, TestProcesses.IsAlive);
    }

    [Theory]
    [InlineData("--no-auth --urls http://0.0.0.0:0", "reel serve: --no-auth is only for a server bound to loopback addresses")]
    [InlineData("--no-auth --urls http://127.0.0.1:0 --token abc", "reel serve: --no-auth and a key")]
    [InlineData("--retain-days 0", "reel serve: --retain-days must be above zero")]
    [InlineData("--max-upload-mb 0", "reel serve: --max-upload-mb must be above zero")]
    public void UnsafeOrImpossibleOptions_AreUsageErrors_AndStartNothing(string options, string message)
    {
        var data = Path.Combine(_work, "data");

        var serve = ReelProcess.Run(["serve", .. options.Split(' '), "--data-dir", data]);

        Assert.Equal(2, serve.ExitCode);
        Assert.StartsWith(message, serve.StdErr.Trim(), StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(data, "server-key")));
    }

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private static string FreeUrl()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return $"http://127.0.0.1:{((IPEndPoint)probe.LocalEndpoint).Port}";
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), "timed out waiting");
            await Task.Delay(100);
        }
    }
}
