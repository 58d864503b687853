using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Reel.Testing;

namespace Reel.Server.Tests;

/// <summary>
/// The API's analyses are jobs of the pipeline engine: listed with pipeline jobs while they run and when they end,
/// run by the engine's workers, failing as jobs with their reason, and resumed by the engine after a restart.
/// </summary>
public sealed class AnalysisJobTests
{
    /// <summary>Two minutes of testsrc2 at 320x240: long enough to watch an analysis run and to stop a server in the middle of one.</summary>
    private static string LongVideo() => TestMedia.Generate(
        "jobs-2min.mp4", "-f lavfi -i testsrc2=size=320x240:rate=25:duration=120 -c:v libx264 -preset ultrafast -pix_fmt yuv420p");

    private const int LongVideoFrames = 120 * 25;

    [Fact]
    public async Task RunningAnalysis_ShowsAsARunningJob_OnTheEnginesWorker_ThenSucceeds()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: true);
        // Faces too, on every frame, so the job runs for seconds: a worker reports what it runs a second after it starts a
        // task, and this loop samples the list (every other frame was over too soon for it on a fast machine).
        var id = await StartAsync(server, server.Serve(LongVideo()), step: 1, models: "color_detection,faces_detection");
        var pipeline = $"analysis-{id:N}";

        // While it runs: a running job of its pipeline, a worker of the engine working on it, and rows already served.
        var sawRunningJob = false;
        var sawWorker = false;
        JsonElement status;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        do
        {
            status = await server.Client.GetFromJsonAsync<JsonElement>($"/analysis/{id}");
            var job = (await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/jobs")).EnumerateArray()
                .FirstOrDefault(j => j.GetProperty("pipeline").GetString() == pipeline);
            if (status.GetProperty("status").GetString() == "Processing" && job.ValueKind == JsonValueKind.Object
                && job.GetProperty("state").GetString() == "Running")
            {
                sawRunningJob = true;
                var workers = (await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/workers")).EnumerateArray().ToList();
                sawWorker |= workers.Any(w => w.GetProperty("kind").GetString() == "datums" && w.GetProperty("running").GetInt32() > 0
                    && w.GetProperty("workingOn").EnumerateArray().Any(line => line.GetString()!.Contains(pipeline, StringComparison.Ordinal)));
            }
            await Task.Delay(100);
        }
        while (status.GetProperty("status").GetString() is "Pending" or "Processing" && DateTime.UtcNow < deadline);

        Assert.Equal("Completed", status.GetProperty("status").GetString());
        Assert.True(sawRunningJob, "the analysis never showed as a running job");
        Assert.True(sawWorker, "no worker of the engine said it was working on the analysis");
        Assert.Equal(LongVideoFrames, status.GetProperty("greatest_frame_analyzed").GetInt32());
        var finished = (await server.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs?pipeline={pipeline}")).EnumerateArray().Single();
        Assert.Equal("Success", finished.GetProperty("state").GetString());
        var rows = await server.Client.GetFromJsonAsync<JsonElement>($"/analysis/{id}/results");
        Assert.Equal(2 * LongVideoFrames, rows.GetArrayLength());
    }

    [Fact]
    public async Task AnalysisThatFails_IsAFailedJob_AndTheSeedStatusGivesItsOneLineReason()
    {
        var work = TestMedia.TempDirectory();
        try
        {
            // A model file that is no model: the video is fine, the analysis of it fails on the engine's worker.
            var broken = Path.Combine(work, "broken.onnx");
            await File.WriteAllTextAsync(broken, "not an ONNX model");
            await using var server = await TestServer.StartAsync(o => o with { AllowPrivateUrls = true, ObjectModel = broken });
            var id = await StartAsync(server, $"{server.FilesUrl}/videos/small.ogv", step: 10, models: "objects_detection");
            var status = await server.WaitAsync($"/analysis/{id}");

            Assert.Equal("Failed", status.GetProperty("status").GetString());
            var reason = status.GetProperty("error").GetString()!;
            Assert.False(string.IsNullOrWhiteSpace(reason));
            Assert.DoesNotContain('\n', reason);
            var job = (await server.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs?pipeline=analysis-{id:N}")).EnumerateArray().Single();
            Assert.Equal("Failure", job.GetProperty("state").GetString());
            var datum = (await server.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs/{job.GetProperty("id").GetString()}/datums")).EnumerateArray().Single();
            Assert.Equal("Failed", datum.GetProperty("state").GetString());
            Assert.Contains(reason, datum.GetProperty("error").GetString()!, StringComparison.Ordinal);
            Assert.Equal(1, (await server.WorkerAsync(w => w.GetProperty("failed").GetInt64() > 0)).GetProperty("failed").GetInt64());
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task AnalysisLeftHalfDone_ByAStoppedServer_IsCompletedByItsJob_AfterTheRestart()
    {
        var server = await TestServer.StartAsync(o => o with { AllowPrivateUrls = true });
        string data;
        Guid id;
        try
        {
            id = await StartAsync(server, server.Serve(LongVideo()), step: 1);
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            JsonElement status;
            do
            {
                await Task.Delay(100);
                status = await server.Client.GetFromJsonAsync<JsonElement>($"/analysis/{id}");
            }
            while (status.GetProperty("greatest_frame_analyzed").GetInt32() == 0 && DateTime.UtcNow < deadline);
            Assert.Equal("Processing", status.GetProperty("status").GetString());
            server.KeepData = true;
            data = server.DataDirectory;
        }
        finally
        {
            await server.DisposeAsync();
        }

        await using var restarted = await TestServer.StartAsync(o => o with { AllowPrivateUrls = true }, dataDirectory: data);
        var final = await restarted.WaitAsync($"/analysis/{id}");
        Assert.Equal("Completed", final.GetProperty("status").GetString());
        Assert.Equal(LongVideoFrames, final.GetProperty("greatest_frame_analyzed").GetInt32());
        var rows = (await restarted.Client.GetFromJsonAsync<JsonElement>($"/analysis/{id}/results")).EnumerateArray().ToList();
        Assert.Equal(Enumerable.Range(1, LongVideoFrames), rows.Select(r => r.GetProperty("frame_number").GetInt32()));
        // The same job, resumed by the engine: not a second one.
        var job = (await restarted.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs?pipeline=analysis-{id:N}")).EnumerateArray().Single();
        Assert.Equal("Success", job.GetProperty("state").GetString());
    }

    [Fact]
    public async Task VideoOverTheDurationLimit_FailsWithTheLimit_StartsNoJob_AndKeepsNoVideo()
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowPrivateUrls = true, MaxVideoDuration = TimeSpan.FromSeconds(2) });
        var id = await StartAsync(server, $"{server.FilesUrl}/videos/small.ogv", step: 10);
        var status = await server.WaitAsync($"/analysis/{id}");

        Assert.Equal("Failed", status.GetProperty("status").GetString());
        Assert.Contains("over the 0:00:02 limit", status.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, (await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/jobs")).GetArrayLength());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(server.DataDirectory, "analyses", id.ToString("D")), "source.*"));
    }

    private static async Task<Guid> StartAsync(TestServer server, string url, int step, string models = "color_detection")
    {
        using var start = await server.StartAnalysisAsync(JsonSerializer.Serialize(new { videoURL = url, modelsToRun = models.Split(','), frameStep = step }));
        Assert.Equal(HttpStatusCode.Created, start.StatusCode);
        return Guid.Parse((await start.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("video_id").GetString()!);
    }
}
