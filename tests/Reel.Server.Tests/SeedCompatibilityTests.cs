using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OpenCvSharp;
using Reel.Operators.Tests.Onnx;
using Reel.Testing;

namespace Reel.Server.Tests;

/// <summary>
/// The seed's React client, step by step over HTTP, against a 2-minute video: start with its default models, poll
/// the status once a second, fetch the greatest frame and its results each time, then history, metrics and results;
/// every value checked against the seed's rules (frames from 1, frame n analyzed when n % step == 0, seconds,
/// display names, three [R, G, B] colors, metrics rows, plain-text errors).
/// </summary>
public sealed class SeedCompatibilityTests
{
    private const int Fps = 25;
    private const int Frames = 120 * Fps;
    private const int Step = 5;
    private const int Coco = 80;

    /// <summary>Two minutes of testsrc2, small so the suite stays fast; x264's default keyframe spacing (250).</summary>
    private static string TwoMinuteVideo() => TestMedia.Generate(
        "seed-2min.mp4", $"-f lavfi -i testsrc2=size=320x240:rate={Fps}:duration=120 -c:v libx264 -preset ultrafast -pix_fmt yuv420p");

    /// <summary>A YOLOv8-shaped model that sees one person in every frame, and an emotion classifier (testsrc2 has no faces).</summary>
    private static readonly Lazy<(string Objects, string Emotions)> Models = new(() => (
        TestModels.ConstantDetector("seed-yolov8", [1, 3, 640, 640], [1, 4 + Coco, 1],
            TestModels.YoloV8Output(Coco, new FakeBox(320, 320, 100, 50, ClassId: 0, Score: 0.9f))),
        TestModels.GreyClassifier([0, 0.05f, 0, -0.05f, 0, 0, 0, 0], [0, 0, 0, 5, 0, 0, 0, 0])));

    private static readonly string[] ClientDefaults = ["objects_detection", "emotions_detection", "color_detection"];

    [Fact]
    public async Task SeedClient_DefaultModels_PolledEverySecond_SeesOnlyTheSeedsValues_AndResultsAsTheyAreAnalyzed()
    {
        await using var server = await TestServer.StartAsync(o => o with
        {
            AllowPrivateUrls = true, ObjectModel = Models.Value.Objects, EmotionModel = Models.Value.Emotions,
        });
        var url = server.Serve(TwoMinuteVideo());
        using var client = new HttpClient { BaseAddress = new Uri(server.Url) };
        client.DefaultRequestHeaders.Add("Origin", "http://localhost:3000");

        using var start = await client.PostAsync("/analysis/start", new StringContent(
            JsonSerializer.Serialize(new { videoURL = url, modelsToRun = ClientDefaults, frameStep = Step.ToString(System.Globalization.CultureInfo.InvariantCulture) }),
            Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, start.StatusCode);
        var started = await start.Content.ReadFromJsonAsync<JsonElement>();
        // Before any frame is analyzed: 0, which names no frame (frames count from 1).
        Assert.Equal(0, started.GetProperty("greatest_frame_analyzed").GetInt32());
        var id = started.GetProperty("video_id").GetString()!;

        // The client's loop: status, then the greatest frame's image and results, once a second.
        var seenWhileProcessing = new List<int>();
        var previous = 0;
        JsonElement status;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        while (true)
        {
            using var statusResponse = await client.GetAsync($"/analysis/{id}");
            Assert.Equal(HttpStatusCode.OK, statusResponse.StatusCode);
            Assert.Equal("*", statusResponse.Headers.GetValues("Access-Control-Allow-Origin").Single());
            status = await statusResponse.Content.ReadFromJsonAsync<JsonElement>();
            var state = status.GetProperty("status").GetString();
            var greatest = status.GetProperty("greatest_frame_analyzed").GetInt32();
            Assert.True(greatest >= previous, $"greatest_frame_analyzed went back from {previous} to {greatest}");
            Assert.Equal(0, greatest % Step);
            previous = greatest;
            if (greatest > 0)
            {
                // A frame status names is there, image and results: never a 404.
                using var image = await client.GetAsync($"/analysis/{id}/frame/{greatest}");
                Assert.True(image.StatusCode == HttpStatusCode.OK, $"frame {greatest} named by status ({state}): {image.StatusCode} {await image.Content.ReadAsStringAsync()}");
                Assert.Equal("image/jpeg", image.Content.Headers.ContentType?.MediaType);
                using (var decoded = Cv2.ImDecode(await image.Content.ReadAsByteArrayAsync(), ImreadModes.Color))
                {
                    Assert.Equal((320, 240), (decoded.Width, decoded.Height));
                }
                using var frameResults = await client.GetAsync($"/analysis/{id}/frame/{greatest}/results");
                Assert.True(frameResults.StatusCode == HttpStatusCode.OK, $"results of frame {greatest} named by status ({state}): {frameResults.StatusCode}");
                var rows = (await frameResults.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().ToList();
                Assert.Equal(3, rows.Count);
                Assert.All(rows, r => Assert.Equal(greatest, r.GetProperty("frame_number").GetInt32()));
                if (state == "Processing")
                {
                    seenWhileProcessing.Add(greatest);
                }
            }
            if (state is "Completed" or "Failed" || DateTime.UtcNow > deadline)
            {
                break;
            }
            await Task.Delay(1000);
        }
        Assert.Equal("Completed", status.GetProperty("status").GetString());
        Assert.True(seenWhileProcessing.Count > 0, "no frame was analyzed and served while the analysis was processing");
        Assert.Equal(Frames, status.GetProperty("greatest_frame_analyzed").GetInt32());

        // History lists it.
        var videos = await client.GetFromJsonAsync<JsonElement>("/analysis/videos");
        Assert.Contains(videos.EnumerateArray(), v => v.GetProperty("video_id").GetString() == id);

        // Results: the seed's frames, times, units and names.
        var all = (await client.GetFromJsonAsync<JsonElement>(status.GetProperty("results_url").GetString())).EnumerateArray().ToList();
        var expectedFrames = Enumerable.Range(1, Frames / Step).Select(i => i * Step).ToList();
        foreach (var model in new[] { "Object Detection", "Joy Detection", "Color Palette Detection" })
        {
            var rows = all.Where(r => r.GetProperty("inference_model").GetString() == model).ToList();
            Assert.Equal(expectedFrames, rows.Select(r => r.GetProperty("frame_number").GetInt32()));
        }
        Assert.Equal(3 * expectedFrames.Count, all.Count);
        foreach (var row in all)
        {
            var frame = row.GetProperty("frame_number").GetInt32();
            Assert.Equal((frame - 1) / (double)Fps, row.GetProperty("video_timestamp").GetDouble(), 6);
            // Seconds, not milliseconds: each model takes well under a second on a 320x240 frame.
            Assert.InRange(row.GetProperty("inference_time").GetDouble(), 0, 1);
            Assert.EndsWith($"/analysis/{id}/frame/{frame}", row.GetProperty("frames_url").GetString(), StringComparison.Ordinal);
            var results = row.GetProperty("inference_results");
            switch (row.GetProperty("inference_model").GetString())
            {
                case "Color Palette Detection":
                    Assert.Equal(3, results.GetArrayLength());
                    Assert.All(results.EnumerateArray(), c => Assert.Equal(3, c.EnumerateArray().Count(v => v.GetInt32() is >= 0 and <= 255)));
                    break;
                case "Object Detection":
                    var person = Assert.Single(results.EnumerateArray().ToList());
                    Assert.Equal("person", person.GetProperty("label").GetString());
                    Assert.Equal(0.9, person.GetProperty("probability").GetDouble(), 3);
                    Assert.Equal(4, person.GetProperty("coordinates").GetArrayLength());
                    break;
                default:
                    // Joy Detection: an expression per face found, boxed like any detection.
                    Assert.All(results.EnumerateArray(), e =>
                    {
                        Assert.InRange(e.GetProperty("probability").GetDouble(), 0, 1);
                        Assert.Equal(4, e.GetProperty("coordinates").GetArrayLength());
                    });
                    break;
            }
        }
        Assert.True(all.Sum(r => r.GetProperty("inference_time").GetDouble()) > 0, "every inference time is 0");

        // Metrics: the seed's rows.
        var metrics = (await client.GetFromJsonAsync<JsonElement>($"/analysis/{id}/metrics")).EnumerateArray().ToList();
        Assert.All(metrics, m =>
        {
            Assert.Equal(id, m.GetProperty("video_id").GetString());
            Assert.Equal(JsonValueKind.Number, m.GetProperty("metric_value").ValueKind);
        });
        var byName = metrics.ToDictionary(m => m.GetProperty("metric_name").GetString()!, m => m.GetProperty("metric_value").GetDouble());
        Assert.Equal(expectedFrames.Count, byName["frames_analyzed"]);
        Assert.Equal(Frames, byName["greatest_frame_analyzed"]);
        Assert.Equal(expectedFrames.Count, byName["objects_detection_detections"]);
        Assert.InRange(byName["color_detection_average_inference_time"], 0, 1);

        // The image of frame n (kept as it was analyzed) is ffmpeg's frame n - 1, not a neighbour.
        var work = TestMedia.TempDirectory();
        try
        {
            var served = Path.Combine(work, "served.jpg");
            await File.WriteAllBytesAsync(served, await client.GetByteArrayAsync($"/analysis/{id}/frame/{Frames}"));
            string FfmpegFrame(int index)
            {
                var path = Path.Combine(work, $"{index}.png");
                TestMedia.Ffmpeg($"-v error -i \"{TwoMinuteVideo()}\" -vf \"select=eq(n\\,{index})\" -fps_mode passthrough -frames:v 1 \"{path}\"");
                return path;
            }
            var own = TestMedia.Psnr(served, FfmpegFrame(Frames - 1));
            foreach (var neighbour in new[] { Frames - 2, Frames - 1 - Step })
            {
                var other = TestMedia.Psnr(served, FfmpegFrame(neighbour));
                Assert.True(own > other, $"frame {Frames} is closer to ffmpeg's frame {neighbour} ({other:0.0} dB) than to {Frames - 1} ({own:0.0} dB)");
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }

        // Frames that are not analyzed have no image, as in the seed.
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/analysis/{id}/frame/{Step + 1}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/analysis/{id}/frame/{Step}")).StatusCode);
    }

    [Fact]
    public async Task SeedClient_DefaultModels_WithoutModelFiles_RunTheBundledModels()
    {
        // No --object-model or --emotion-model: the client's default ticks run on the bundled CenterNet and emotion models.
        await using var server = await TestServer.StartAsync(o => o with { AllowPrivateUrls = true, ObjectModel = null, EmotionModel = null });
        using var client = new HttpClient { BaseAddress = new Uri(server.Url) };
        using var start = await client.PostAsync("/analysis/start", new StringContent(
            JsonSerializer.Serialize(new { videoURL = $"{server.FilesUrl}/videos/small.ogv", modelsToRun = ClientDefaults, frameStep = "10" }),
            Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, start.StatusCode);
        var id = (await start.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("video_id").GetString()!;

        JsonElement status;
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        do
        {
            await Task.Delay(500);
            status = await client.GetFromJsonAsync<JsonElement>($"/analysis/{id}");
        }
        while (status.GetProperty("status").GetString() is not ("Completed" or "Failed") && DateTime.UtcNow < deadline);
        Assert.Equal("Completed", status.GetProperty("status").GetString());

        // small.ogv is an elephant walking: CenterNet names it, and no person.
        var rows = (await client.GetFromJsonAsync<JsonElement>(status.GetProperty("results_url").GetString())).EnumerateArray().ToList();
        var labels = rows.Where(r => r.GetProperty("inference_model").GetString() == "Object Detection")
            .SelectMany(r => r.GetProperty("inference_results").EnumerateArray())
            .Select(d => d.GetProperty("label").GetString())
            .ToList();
        Assert.Contains("elephant", labels);
        Assert.DoesNotContain("person", labels);
        Assert.Contains(rows, r => r.GetProperty("inference_model").GetString() == "Joy Detection");
    }

    [Fact]
    public async Task LiveStream_FrameBeforeItExists_Is404WithCors_NotAServerError()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);
        using var created = await server.Client.PostAsync("/analysis/rtmp-endpoint", new StringContent(
            """{"modelsToRun": ["color_detection"], "frameStep": 5}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("video_id").GetString();
        // What a capture that has not started leaves: an empty recording.
        await File.WriteAllBytesAsync(Path.Combine(server.DataDirectory, "analyses", id!, "source.ts"), []);

        foreach (var path in new[] { $"/analysis/{id}/frame/5", $"/analysis/{id}/frame/5/results", $"/analysis/{id}/results" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Add("Origin", "http://localhost:3000");
            using var response = await server.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
            Assert.False(string.IsNullOrWhiteSpace(await response.Content.ReadAsStringAsync()), $"{path}: empty body");
        }
    }
}
