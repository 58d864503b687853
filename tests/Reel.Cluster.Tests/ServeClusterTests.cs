using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Reel.Testing;

namespace Reel.Cluster.Tests;

/// <summary>
/// <c>reel serve --cluster FILE</c>: a node that also serves HTTP, on the cluster's PostgreSQL and S3 (real ones), beside a
/// plain <c>reel node join</c> process, both on loopback. In the failure tests' collection, so its two nodes never take
/// cores from their lease-timed nodes.
/// </summary>
[Collection(nameof(ClusterFailureTests))]
public sealed class ServeClusterTests : IAsyncLifetime
{
    private const string Key = "serve-cluster-test-key";
    private const int Inputs = 12;
    private const string Chromium = "/usr/bin/chromium";

    private PostgresServer _postgres = null!;
    private string _database = null!;
    private readonly string _directory = Directory.CreateTempSubdirectory("reel-serve-cluster-").FullName;

    public async Task InitializeAsync()
    {
        _postgres = await PostgresServer.Shared;
        _database = await _postgres.CreateDatabaseAsync("serve");
    }

    public async Task DisposeAsync()
    {
        await _postgres.DropDatabaseAsync(_database);
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task ServeCluster_BesideANode_RunsThePipelineOnBothServesItsOutput_AndShowsTheKilledNodeDead()
    {
        var s3 = S3Server.Shared;
        var objects = $"s3://{s3.CreateBucket()}?endpoint={Uri.EscapeDataString(s3.Endpoint)}&access_key={S3Server.AccessKey}&secret_key={S3Server.SecretKey}";
        var file = Path.Combine(_directory, "cluster.json");
        await OkAsync("cluster", "init", "--db", _postgres.Url(_database), "--objects", objects, "--probe-timeout", "1", "--lease", "6", "-o", file);
        var (nodePort, serverPort, httpPort) = (FreePort(), FreePort(), FreePort());
        using var node = NodeProcess.Start(file, "127.0.0.1", Path.Combine(_directory, "node"), null,
            "--silo-port", nodePort, "--gateway-port", FreePort(), "--slots", "2");
        using var server = NodeProcess.StartServer(file, "127.0.0.1", Path.Combine(_directory, "server"),
            "--silo-port", serverPort, "--gateway-port", FreePort(), "--slots", "2", "--urls", $"http://127.0.0.1:{httpPort}", "--token", Key);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        var (nodeWorker, serverWorker) = ("127.0.0.1:" + nodePort, "127.0.0.1:" + serverPort);
        string Logs() => $"--- node ---\n{node.Log()}\n--- server ---\n{server.Log()}";

        // Both nodes are members, and the server lists them with their state.
        await BothActiveAsync(http, (nodeWorker, node), (serverWorker, server));
        // ... and so does the dashboard, in a real browser.
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium (test.sh does)");
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync();
        page.SetDefaultTimeout(45_000);
        await page.GotoAsync(http.BaseAddress!.ToString());
        ILocator State(string worker) => page.Locator($"#workers tbody tr[data-id='{worker}'] td.state");
        await State(nodeWorker).Filter(new() { HasText = "active" }).WaitForAsync();
        await State(serverWorker).Filter(new() { HasText = "active" }).WaitForAsync();

        // A video through the HTTP API lands in the cluster's stores and comes back whole.
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("/api/v1/repos", new { name = "videos" })).StatusCode);
        var video = await File.ReadAllBytesAsync(TestMedia.Fixture("small.ogv"));
        using (var put = await http.PutAsync("/api/v1/repos/videos/branches/master/files/clips/small.ogv", new ByteArrayContent(video) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } }))
        {
            Assert.True(put.StatusCode == HttpStatusCode.Created, await put.Content.ReadAsStringAsync());
        }
        Assert.Equal(video, await http.GetByteArrayAsync("/api/v1/repos/videos/branches/master/files/clips/small.ogv"));
        // ... and a command given the cluster file sees the same commit: one store, not the server's own.
        Assert.Contains("small.ogv", await OkAsync("--cluster", file, "ls", "videos@master:/clips"), StringComparison.Ordinal);

        // A pipeline created over HTTP; its input committed at once by the CLI, so one job has all the datums.
        Assert.Equal(HttpStatusCode.Created, (await http.PostAsJsonAsync("/api/v1/repos", new { name = "inbox" })).StatusCode);
        const string Spec = """
            pipeline: {name: sums}
            input: {pfs: {repo: inbox, glob: "/*"}}
            transform:
              cmd: [sh, -c, 'sleep 5; for f in /pfs/inbox/*; do sha256sum < "$f" > /pfs/out/$(basename "$f").sum; done']
            """;
        using (var created = await http.PostAsync("/api/v1/pipelines", new StringContent(Spec, Encoding.UTF8, "application/yaml")))
        {
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        }
        var inbox = Directory.CreateDirectory(Path.Combine(_directory, "inbox")).FullName;
        for (var i = 0; i < Inputs; i++)
        {
            await File.WriteAllTextAsync(Path.Combine(inbox, $"f{i:D2}"), $"content {i}\n");
        }
        await OkAsync("--cluster", file, "put", "inbox@master:/", "-f", inbox, "-r");
        // While it runs, the dashboard names what each node works on: the pipeline and the datum's file.
        await page.Locator("#workers tbody td.working").Filter(new() { HasTextRegex = new System.Text.RegularExpressions.Regex(@"^sums /f\d\d") })
            .First.WaitForAsync(new() { Timeout = 30_000 });

        var job = await Eventually.WaitAsync(async () => await http.GetFromJsonAsync<JsonElement>("/api/v1/jobs?pipeline=sums"),
            j => j.GetArrayLength() == 1 && j[0].GetProperty("state").GetString() is not ("Starting" or "Running"), TimeSpan.FromSeconds(45), "the job finished");
        Assert.True(job[0].GetProperty("state").GetString() == "Success", $"{job}\n{Logs()}");

        // The output, read through the server's HTTP API.
        for (var i = 0; i < Inputs; i++)
        {
            var expected = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"content {i}\n"))) + "  -\n";
            Assert.Equal(expected, await http.GetStringAsync($"/api/v1/repos/sums/branches/master/files/f{i:D2}.sum"));
        }

        // Each node's worker ran some of the datums (as each reports under its node's name), together all of them.
        var workers = await Eventually.WaitAsync(() => WorkersAsync(http), w => Done(w, nodeWorker) + Done(w, serverWorker) == Inputs,
            TimeSpan.FromSeconds(20), "both workers reported every datum");
        Assert.True(Done(workers, nodeWorker) > 0 && Done(workers, serverWorker) > 0, $"datums did not run on both nodes: {workers}");

        node.Kill9();
        var after = await Eventually.WaitAsync(() => WorkersAsync(http), w => Status(w, nodeWorker) is not (null or "active"),
            TimeSpan.FromSeconds(45), "the killed node shown not active");
        Assert.Equal("dead", Status(after, nodeWorker));
        Assert.Equal("active", Status(after, serverWorker));
        await State(nodeWorker).Filter(new() { HasText = "dead" }).WaitForAsync();
        Assert.Equal("active", await State(serverWorker).InnerTextAsync());
        await browser.CloseAsync();
        Assert.False(server.HasExited, Logs());

        // SIGTERM stops the server and its node together, normally.
        server.Terminate();
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the server did not stop on SIGTERM:\n" + Logs());
        Assert.True(server.ExitCode == 0, $"exit code {server.ExitCode}\n{Logs()}");
    }

    [Fact]
    public async Task ServeCluster_HttpAnalysisOfALongVideo_RunsAsPiecesOnBothNodes_AndAnswersAsTheSeedApi()
    {
        var s3 = S3Server.Shared;
        var objects = $"s3://{s3.CreateBucket()}?endpoint={Uri.EscapeDataString(s3.Endpoint)}&access_key={S3Server.AccessKey}&secret_key={S3Server.SecretKey}";
        var file = Path.Combine(_directory, "cluster.json");
        await OkAsync("cluster", "init", "--db", _postgres.Url(_database), "--objects", objects, "--probe-timeout", "1", "--lease", "6", "-o", file);
        var (nodePort, serverPort, httpPort) = (FreePort(), FreePort(), FreePort());
        using var node = NodeProcess.Start(file, "127.0.0.1", Path.Combine(_directory, "node"), null,
            "--silo-port", nodePort, "--gateway-port", FreePort(), "--slots", "2");
        using var server = NodeProcess.StartServer(file, "127.0.0.1", Path.Combine(_directory, "server"),
            "--silo-port", serverPort, "--gateway-port", FreePort(), "--slots", "2", "--urls", $"http://127.0.0.1:{httpPort}", "--token", Key);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Key);
        var (nodeWorker, serverWorker) = ("127.0.0.1:" + nodePort, "127.0.0.1:" + serverPort);
        string Logs() => $"--- node ---\n{node.Log()}\n--- server ---\n{server.Log()}";
        await BothActiveAsync(http, (nodeWorker, node), (serverWorker, server));

        // Two minutes of video uploaded for an analysis: with 4 free slots, its datum splits into pieces over both nodes.
        const int Frames = 120 * 25;
        var video = TestMedia.Generate("serve-cluster-2min.mp4",
            "-f lavfi -i testsrc2=size=320x240:rate=25:duration=120 -c:v libx264 -preset ultrafast -pix_fmt yuv420p");
        string id;
        using (var upload = await http.PostAsync("/api/v1/analyses?videoName=long.mp4&models=color_detection,faces_detection&frameStep=5",
            new ByteArrayContent(await File.ReadAllBytesAsync(video)) { Headers = { ContentType = new MediaTypeHeaderValue("application/octet-stream") } }))
        {
            Assert.True(upload.StatusCode == HttpStatusCode.Created, await upload.Content.ReadAsStringAsync());
            id = (await upload.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("video_id").GetString()!;
        }
        var pipeline = $"analysis-{Guid.Parse(id):N}";
        bool WorksOnIt(JsonElement workers, string worker) => Row(workers, worker)?.GetProperty("workingOn") is { ValueKind: JsonValueKind.Array } lines
            && lines.EnumerateArray().Any(l => l.GetString()!.StartsWith(pipeline + " ", StringComparison.Ordinal) && l.GetString()!.Contains(" piece ", StringComparison.Ordinal));
        var (onNode, onServer) = (false, false);
        JsonElement status;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        do
        {
            var workers = await WorkersAsync(http);
            onNode |= WorksOnIt(workers, nodeWorker);
            onServer |= WorksOnIt(workers, serverWorker);
            status = await http.GetFromJsonAsync<JsonElement>($"/analysis/{id}");
            await Task.Delay(200);
        }
        while (status.GetProperty("status").GetString() is "Pending" or "Processing" && DateTime.UtcNow < deadline);

        Assert.True(status.GetProperty("status").GetString() == "Completed", $"{status}\n{Logs()}");
        // The job grain logs each piece's worker; the worker list is sampled, and a piece can start and end between samples.
        bool RanAPiece(string worker) => Regex.IsMatch(Logs(), $@"piece \d+ of \d+ \(frames [0-9-]+\) done on {Regex.Escape(worker)}\b");
        (onNode, onServer) = (onNode || RanAPiece(nodeWorker), onServer || RanAPiece(serverWorker));
        Assert.True(onNode && onServer, $"pieces of the analysis did not run on both nodes (node {onNode}, server {onServer})\n{Logs()}");
        Assert.Equal(Frames, status.GetProperty("greatest_frame_analyzed").GetInt32());
        var rows = (await http.GetFromJsonAsync<JsonElement>($"/analysis/{id}/results")).EnumerateArray().ToList();
        Assert.Equal(2 * Frames / 5, rows.Count);
        Assert.Equal(Enumerable.Range(1, Frames / 5).Select(i => i * 5), rows.Select(r => r.GetProperty("frame_number").GetInt32()).Distinct());
        Assert.All(rows, r => Assert.True(r.GetProperty("inference_time").GetDouble() > 0));
        // A frame of a piece the other node analyzed: its image from the server's copy of the video.
        using (var image = await http.GetAsync($"/analysis/{id}/frame/{Frames}"))
        {
            Assert.Equal(HttpStatusCode.OK, image.StatusCode);
        }
        var job = (await http.GetFromJsonAsync<JsonElement>($"/api/v1/jobs?pipeline={pipeline}")).EnumerateArray().Single();
        Assert.Equal("Success", job.GetProperty("state").GetString());
        server.Terminate();
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), "the server did not stop on SIGTERM:\n" + Logs());
    }

    [Fact]
    public async Task ServeCluster_FileMissing_OneLineNamingItExitCode2()
    {
        var missing = Path.Combine(_directory, "missing.json");
        var (code, stdout, stderr) = await ReelCli.RunAsync("serve", "--cluster", missing, "--urls", "http://127.0.0.1:0");
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("reel serve: cluster file " + missing, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServeCluster_DatabaseUnreachable_OneLineSayingSoExitCode1()
    {
        var file = Path.Combine(_directory, "unreachable.json");
        // Port 1 on loopback: nothing listens there, so the connection is refused at once.
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(new { database = "postgresql://reel:reel@127.0.0.1:1/reel", objects = _directory, clusterId = "gone" }));
        var (code, stdout, stderr) = await ReelCli.RunAsync("serve", "--cluster", file, "--urls", "http://127.0.0.1:0");
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("reel serve: cannot reach the cluster database", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_NodeOptionWithoutCluster_RefusedAsUsage()
    {
        var (code, _, stderr) = await ReelCli.RunAsync("serve", "--data-dir", Path.Combine(_directory, "data"), "--slots", "3", "--urls", "http://127.0.0.1:0");
        Assert.Equal(2, code);
        Assert.Equal("reel serve: --slots is for a cluster node: give --cluster FILE (or set $REEL_CLUSTER)", stderr.Trim());
    }

    private static async Task<string> OkAsync(params string[] arguments)
    {
        var (code, stdout, stderr) = await ReelCli.RunAsync(arguments);
        Assert.True(code == 0, $"reel {string.Join(' ', arguments)} failed ({code}): {stderr}");
        return stdout;
    }

    /// <summary>
    /// Waits until /api/v1/workers shows both processes active. Both start beside the other test classes' nodes on a
    /// 2-core machine, so the wait is as long as <see cref="ClusterLab.WaitForNodesAsync"/>'s; a process that never
    /// showed fails the test with a line per process first, then their logs.
    /// </summary>
    private static async Task BothActiveAsync(HttpClient http, (string Worker, NodeProcess Process) a, (string Worker, NodeProcess Process) b)
    {
        try
        {
            await Eventually.WaitAsync(() => WorkersAsync(http), w => Status(w, a.Worker) == "active" && Status(w, b.Worker) == "active",
                TimeSpan.FromSeconds(90), "both nodes active in /api/v1/workers");
        }
        catch (TimeoutException e)
        {
            string Line((string Worker, NodeProcess Process) p) =>
                $"{p.Worker}: {(p.Process.HasExited ? $"exited ({p.Process.ExitCode})" : "running")}; last line: " +
                (p.Process.Log().Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "(none)");
            throw new TimeoutException($"{Line(a)}\n{Line(b)}\n{e.Message}\n--- {a.Worker} ---\n{a.Process.Log()}\n--- {b.Worker} ---\n{b.Process.Log()}", e);
        }
    }

    private static async Task<JsonElement> WorkersAsync(HttpClient http)
    {
        try
        {
            return await http.GetFromJsonAsync<JsonElement>("/api/v1/workers");
        }
        catch (HttpRequestException)
        {
            // Not listening yet.
            return JsonDocument.Parse("[]").RootElement;
        }
    }

    private static JsonElement? Row(JsonElement workers, string id) =>
        workers.EnumerateArray().Where(w => w.GetProperty("id").GetString() == id).Select(w => (JsonElement?)w).FirstOrDefault();

    private static string? Status(JsonElement workers, string id) => Row(workers, id)?.GetProperty("status").GetString();

    private static long Done(JsonElement workers, string id) =>
        Row(workers, id)?.GetProperty("done") is { ValueKind: JsonValueKind.Number } done ? done.GetInt64() : 0;

    private static string FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
    }
}
