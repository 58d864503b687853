using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using Reel.Testing;

namespace Reel.Cli.Tests;

/// <summary>
/// Fuzzed uploads to a real <c>reel serve</c> process under glibc's malloc checking: the server never goes down, each
/// damaged video's analysis ends Completed or Failed with a one-line reason, and a clean video analyzed afterwards
/// completes. <c>REEL_SERVE_FUZZ_CASES</c> sets the count (bench/fuzz.sh).
/// </summary>
public class ServeFuzzTests
{
    private const string Token = "serve-fuzz-token";

    [Fact]
    public async Task Serve_FuzzedUploads_EachFailsWithAReasonAndTheNextAnalysisWorks()
    {
        var cases = int.TryParse(Environment.GetEnvironmentVariable("REEL_SERVE_FUZZ_CASES"), out var n) ? n : 30;
        var bases = FuzzedMedia.Bases();
        var folder = TestMedia.TempDirectory();
        var files = FuzzedMedia.Write(folder, seed: 7, first: 0, cases, bases);
        await using var server = await ServerProcess.StartAsync();

        var outcomes = new Dictionary<string, int>();
        foreach (var file in files.Append(bases[0]))
        {
            var status = await server.AnalyzeUploadAsync(file);
            var state = status.GetProperty("status").GetString()!;
            Assert.True(state is "Completed" or "Failed", $"{Path.GetFileName(file)}: still {state}; server: {server.Log()}");
            if (state == "Failed")
            {
                var reason = status.GetProperty("error").GetString();
                Assert.False(string.IsNullOrWhiteSpace(reason), $"{Path.GetFileName(file)} failed without a reason");
                Assert.DoesNotContain('\n', reason);
            }
            outcomes[state] = outcomes.GetValueOrDefault(state) + 1;
            Assert.False(server.HasExited, $"the server died analyzing {Path.GetFileName(file)}: {server.Log()}");
        }

        // The clean video, last, completed: the server still analyzes after every damaged one.
        var last = await server.AnalyzeUploadAsync(bases[0]);
        Assert.Equal("Completed", last.GetProperty("status").GetString());
        Assert.True(outcomes.GetValueOrDefault("Failed") > 0, "no fuzzed case failed: the campaign damaged nothing");
    }

    /// <summary>A <c>reel serve</c> child process on a free loopback port, killed with its children at the end.</summary>
    private sealed class ServerProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly HttpClient _client;
        private readonly System.Text.StringBuilder _log = new();

        private ServerProcess(Process process, HttpClient client)
        {
            _process = process;
            _client = client;
        }

        public bool HasExited => _process.HasExited;

        public string Log()
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }

        public static async Task<ServerProcess> StartAsync()
        {
            var port = FreePort();
            var start = NativeChecker.StartInfo(
                "serve", "--urls", $"http://127.0.0.1:{port}", "--data-dir", Path.Combine(TestMedia.TempDirectory(), "data"), "--token", Token);
            var process = Process.Start(start)!;
            var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            var server = new ServerProcess(process, client);
            process.OutputDataReceived += (_, e) => server.Append(e.Data);
            process.ErrorDataReceived += (_, e) => server.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (true)
            {
                Assert.False(process.HasExited, $"reel serve exited at start: {server.Log()}");
                try
                {
                    if ((await client.GetAsync("/analysis/videos")).IsSuccessStatusCode)
                    {
                        return server;
                    }
                }
                catch (HttpRequestException)
                {
                    // Not listening yet.
                }
                Assert.True(DateTime.UtcNow < deadline, $"reel serve did not answer within 60 s: {server.Log()}");
                await Task.Delay(200);
            }
        }

        /// <summary>Uploads a video for colors and faces and waits (bounded) until its analysis ends.</summary>
        public async Task<JsonElement> AnalyzeUploadAsync(string file)
        {
            using var body = new ByteArrayContent(await File.ReadAllBytesAsync(file));
            body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            var name = Path.GetFileName(file);
            var created = await _client.PostAsync($"/api/v1/analyses?videoName={name}&models=color_detection,faces_detection&frameStep=5", body);
            Assert.True(created.StatusCode == HttpStatusCode.Created, $"{name}: upload answered {created.StatusCode}: {await created.Content.ReadAsStringAsync()}");
            var statusUrl = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status_url").GetString()!;
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while (true)
            {
                Assert.False(_process.HasExited, $"the server died analyzing {name}: {Log()}");
                var status = await _client.GetFromJsonAsync<JsonElement>(statusUrl);
                if (status.GetProperty("status").GetString() is "Completed" or "Failed" || DateTime.UtcNow > deadline)
                {
                    return status;
                }
                await Task.Delay(100);
            }
        }

        public async ValueTask DisposeAsync()
        {
            _client.Dispose();
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
            _process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is null)
            {
                return;
            }
            lock (_log)
            {
                _log.AppendLine(line);
            }
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}
