using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OpenCvSharp;
using Reel.Server.Analysis;
using Reel.Testing;

namespace Reel.Server.Tests;

/// <summary>The seed system's client flow and error contract, against a real server fetching real videos over HTTP.</summary>
public sealed class AnalysisApiTests
{
    [Fact]
    public async Task SeedClientFlow_StartStatusResultsFrame_OnSmallOgv()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: true);
        var url = $"{server.FilesUrl}/videos/small.ogv";

        using var start = await server.StartAnalysisAsync(
            $$"""{"videoURL": "{{url}}", "modelsToRun": ["color_detection", "faces_detection"], "videoName": "demo", "frameStep": "10"}""");
        Assert.Equal(HttpStatusCode.Created, start.StatusCode);
        var started = await start.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(Guid.TryParse(started.GetProperty("video_id").GetString(), out var id));
        Assert.Equal(url, started.GetProperty("video_url").GetString());
        Assert.Equal("Pending", started.GetProperty("status").GetString());
        Assert.Equal("demo", started.GetProperty("video_name").GetString());
        Assert.Equal(["color_detection", "faces_detection"], started.GetProperty("models_to_run").EnumerateArray().Select(m => m.GetString()));
        Assert.Equal(10, started.GetProperty("frame_step").GetInt32());
        var statusUrl = started.GetProperty("status_url").GetString()!;
        Assert.EndsWith($"/analysis/{id}", statusUrl, StringComparison.Ordinal);

        var status = await server.WaitAsync(statusUrl);
        Assert.Equal("Completed", status.GetProperty("status").GetString());
        // The seed's frames: numbered from 1, frame n analyzed when n % 10 == 0 (small.ogv has 89 frames at 20 fps).
        Assert.Equal(80, status.GetProperty("greatest_frame_analyzed").GetInt32());
        var results = await server.Client.GetFromJsonAsync<JsonElement>(status.GetProperty("results_url").GetString());
        var rows = results.EnumerateArray().ToList();
        Assert.Equal(8 * 2, rows.Count);
        Assert.Equal([10, 20, 30, 40, 50, 60, 70, 80], rows.Select(r => r.GetProperty("frame_number").GetInt32()).Distinct());
        foreach (var row in rows)
        {
            Assert.Equal(id.ToString(), row.GetProperty("video_id").GetString());
            Assert.Equal((row.GetProperty("frame_number").GetInt32() - 1) / 20.0, row.GetProperty("video_timestamp").GetDouble(), 6);
            // Seconds: a model on a 400x300 frame takes well under a second, and more than nothing.
            Assert.InRange(row.GetProperty("inference_time").GetDouble(), 1e-7, 1);
            Assert.EndsWith($"/frame/{row.GetProperty("frame_number").GetInt32()}", row.GetProperty("frames_url").GetString(), StringComparison.Ordinal);
        }
        Assert.Equal(["Color Palette Detection", "Face Detection"], rows.Select(r => r.GetProperty("inference_model").GetString()).Distinct().Order());
        var colors = rows.First(r => r.GetProperty("inference_model").GetString() == "Color Palette Detection").GetProperty("inference_results");
        Assert.Equal(3, colors.GetArrayLength());
        Assert.All(colors.EnumerateArray(), c => Assert.True(c.GetArrayLength() == 3 && c.EnumerateArray().All(v => v.GetInt32() is >= 0 and <= 255), c.ToString()));

        var jpeg = await server.Client.GetByteArrayAsync(rows[2].GetProperty("frames_url").GetString());
        using (var image = Cv2.ImDecode(jpeg, ImreadModes.Color))
        {
            Assert.Equal((400, 300), (image.Width, image.Height));
        }
        var frameRows = await server.Client.GetFromJsonAsync<JsonElement>($"/analysis/{id}/frame/10/results");
        Assert.Equal(2, frameRows.GetArrayLength());
        var metrics = (await server.Client.GetFromJsonAsync<JsonElement>($"/analysis/{id}/metrics")).EnumerateArray()
            .ToDictionary(m => m.GetProperty("metric_name").GetString()!, m => m.GetProperty("metric_value").GetDouble());
        Assert.Equal(8, metrics["frames_analyzed"]);
        Assert.Equal(80, metrics["greatest_frame_analyzed"]);
        Assert.Equal(8 * 3, metrics["color_detection_detections"]);
        var videos = await server.Client.GetFromJsonAsync<JsonElement>("/analysis/videos");
        Assert.Equal(id.ToString(), Assert.Single(videos.EnumerateArray().ToList()).GetProperty("video_id").GetString());
        // Only analyzed frames have images, as in the seed.
        foreach (var frame in new[] { 0, 1, 9, 11, 89 })
        {
            Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync($"/analysis/{id}/frame/{frame}")).StatusCode);
        }

        // The analysis was a job of the engine, listed with pipeline jobs: its pipeline, one datum, succeeded.
        var job = Assert.Single((await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/jobs")).EnumerateArray().ToList());
        Assert.Equal($"analysis-{id:N}", job.GetProperty("pipeline").GetString());
        Assert.Equal("Success", job.GetProperty("state").GetString());
        Assert.Equal(1, job.GetProperty("counts").GetProperty("success").GetInt32());

        // The engine's worker ran it, and reports it as any datum: one done, a rate (a pool's meter counts datums).
        var worker = await server.WorkerAsync(w => w.GetProperty("done").GetInt64() > 0);
        Assert.Equal("datums", worker.GetProperty("kind").GetString());
        // On the embedded engine every listed worker reported within the last minute.
        Assert.Equal("active", worker.GetProperty("status").GetString());
        Assert.Equal(1, worker.GetProperty("done").GetInt64());
        Assert.Equal(1, worker.GetProperty("frames").GetInt64());
        Assert.True(worker.GetProperty("framesPerSecond").GetDouble() > 0);
        Assert.False(string.IsNullOrEmpty(worker.GetProperty("address").GetString()));
    }

    [Fact]
    public async Task FacesDetection_OnSamsungfun_FindsTheThreeFacesAtFiveSeconds_AndDrawsThem()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: true);
        using var start = await server.StartAnalysisAsync(
            $$"""{"videoURL": "{{server.FilesUrl}}/videos/samsungfun.mp4", "modelsToRun": ["faces_detection"], "frameStep": 151}""");
        Assert.Equal(HttpStatusCode.Created, start.StatusCode);
        var status = await server.WaitAsync((await start.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status_url").GetString()!);
        Assert.Equal("Completed", status.GetProperty("status").GetString());
        var id = status.GetProperty("video_id").GetString();

        // Seed frame 151 is Reel's index 150 (t = 5.005 s).
        var row = Assert.Single((await server.Client.GetFromJsonAsync<JsonElement>($"/analysis/{id}/frame/151/results")).EnumerateArray().ToList());
        Assert.Equal(5.005, row.GetProperty("video_timestamp").GetDouble(), 3);
        var faces = row.GetProperty("inference_results").EnumerateArray().ToList();
        Assert.Equal(3, faces.Count);
        Assert.All(faces, f =>
        {
            Assert.Equal("face", f.GetProperty("label").GetString());
            Assert.InRange(f.GetProperty("probability").GetDouble(), 0.5, 1);
            Assert.Equal(4, f.GetProperty("coordinates").GetArrayLength());
        });
        // The drawn frame differs from the plain one exactly where the boxes are.
        var drawn = await server.Client.GetByteArrayAsync($"/analysis/{id}/frame/151");
        using var image = Cv2.ImDecode(drawn, ImreadModes.Color);
        // At the size the analysis saw (640 on the longer side): the boxes are drawn at a third of their source coordinates.
        Assert.Equal((640, 360), (image.Width, image.Height));
        var box = faces[0].GetProperty("coordinates").EnumerateArray().Select(c => c.GetInt32() / 3.0).ToList();
        var (edgeY, edgeX) = ((int)Math.Round(box[1] + (box[3] / 2)), (int)Math.Round(box[0]));
        var near = Enumerable.Range(-2, 5).SelectMany(dy => Enumerable.Range(-2, 5).Select(dx => image.At<Vec3b>(edgeY + dy, edgeX + dx))).ToList();
        Assert.True(near.Any(p => p.Item1 - Math.Max(p.Item0, p.Item2) > 60), $"no green box edge near ({edgeX}, {edgeY})");
    }

    [Theory]
    [InlineData("text/plain", """{"videoURL": "https://example.com/a.mp4", "modelsToRun": ["color_detection"]}""", 415, "a request that changes something must be JSON")]
    [InlineData("application/yaml", """{"videoURL": "https://example.com/a.mp4", "modelsToRun": ["color_detection"]}""", 400, "Content-Type must be application/json")]
    [InlineData("application/json", """{"videoURL": "https://example.com/a.mp4", "modelsToRun": [""", 400, "the body is not valid JSON")]
    [InlineData("application/json", """["videoURL"]""", 400, "the body must be a JSON object")]
    [InlineData("application/json", """{"videoURL": "not a url", "modelsToRun": ["color_detection"]}""", 400, "Valid URL must be provided")]
    [InlineData("application/json", """{"videoURL": 42, "modelsToRun": ["color_detection"]}""", 400, "Valid URL must be provided")]
    [InlineData("application/json", """{"videoURL": "ftp://example.com/a.mp4", "modelsToRun": ["color_detection"]}""", 400, "Valid URL must be provided")]
    [InlineData("application/json", """{"videoURL": "file:///etc/passwd", "modelsToRun": ["color_detection"]}""", 400, "Valid URL must be provided")]
    [InlineData("application/json", """{"videoURL": "https://example.com/a.mp4", "modelsToRun": "color_detection"}""", 400, "modelsToRun must be a non-empty list")]
    [InlineData("application/json", """{"videoURL": "https://example.com/a.mp4", "modelsToRun": ["hats"]}""", 400, "unknown model \"hats\"")]
    [InlineData("application/json", """{"videoURL": "https://example.com/a.mp4", "modelsToRun": ["color_detection"], "frameStep": "abc"}""", 400, "frameStep must be a whole number")]
    [InlineData("application/json", """{"videoURL": "https://example.com/a.mp4", "modelsToRun": ["color_detection"], "frameStep": 0}""", 400, "frameStep must be a whole number")]
    [InlineData("application/json", """{"videoURL": "https://example.com/a.mp4", "modelsToRun": ["color_detection"], "frameStep": [2]}""", 400, "frameStep must be a whole number")]
    [InlineData("application/json", """{"videoURL": "http://127.0.0.1:9/a.mp4", "modelsToRun": ["color_detection"]}""", 400, "videoURL host '127.0.0.1' is a loopback")]
    [InlineData("application/json", """{"videoURL": "http://169.254.169.254/latest/meta-data", "modelsToRun": ["color_detection"]}""", 400, "videoURL host '169.254.169.254' is a loopback, private, link-local")]
    [InlineData("application/json", """{"videoURL": "http://[::1]/a.mp4", "modelsToRun": ["color_detection"]}""", 400, "videoURL host '::1' is a loopback")]
    [InlineData("application/json", """{"videoURL": "http://localhost:9/a.mp4", "modelsToRun": ["color_detection"]}""", 400, "videoURL host 'localhost' is a loopback")]
    [InlineData("application/json", """{"videoURL": "http://[64:ff9b::a9fe:a9fe]/a.mp4", "modelsToRun": ["color_detection"]}""", 400, "videoURL host '64:ff9b::a9fe:a9fe' is a loopback")]
    [InlineData("application/json", """{"videoURL": "http://[::ffff:10.0.0.1]/a.mp4", "modelsToRun": ["color_detection"]}""", 400, "videoURL host '::ffff:10.0.0.1' is a loopback")]
    public async Task BadStart_GetsItsStatusAndReason_AndCreatesNothing(string contentType, string body, int status, string reason)
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);

        using var response = await server.Client.PostAsync("/analysis/start", new StringContent(body, Encoding.UTF8, contentType));

        Assert.Equal(status, (int)response.StatusCode);
        var error = await TestServer.ErrorOf(response);
        Assert.True(error!.StartsWith(reason, StringComparison.Ordinal), error);
        Assert.Equal(0, (await server.Client.GetFromJsonAsync<JsonElement>("/analysis/videos")).GetArrayLength());
        Assert.False(Directory.Exists(Path.Combine(server.DataDirectory, "analyses")));
    }

    [Fact]
    public async Task HugeBody_Is413_UnknownAndMalformedIds_Are404And400()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);
        var huge = $$"""{"videoURL": "https://example.com/a.mp4", "modelsToRun": ["color_detection"], "videoName": "{{new string('x', 2 << 20)}}"}""";
        using (var response = await server.StartAnalysisAsync(huge))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        }
        var unknown = Guid.NewGuid();
        foreach (var path in new[] { $"/analysis/{unknown}", $"/analysis/{unknown}/results", $"/analysis/{unknown}/frame/0", $"/analysis/{unknown}/metrics" })
        {
            Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync(path)).StatusCode);
        }
        foreach (var path in new[] { "/analysis/12345/results", "/analysis/..%2F..%2Fetc/results", "/analysis/abc/frame/1" })
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await server.Client.GetAsync(path)).StatusCode);
        }
    }

    [Fact]
    public async Task FrameStep_AcceptsNumberNumericStringOrNothing_AndTheResultsAreStepped()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: true);
        var url = $"{server.FilesUrl}/videos/small.ogv";
        var started = new List<(string StatusUrl, int Step)>();
        foreach (var (step, expected) in new[] { ("3", 3), ("\"4\"", 4), ("\"\"", 1), ("null", 1) })
        {
            using var response = await server.StartAnalysisAsync($$"""{"videoURL": "{{url}}", "modelsToRun": ["color_detection"], "frameStep": {{step}}}""");
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(expected, body.GetProperty("frame_step").GetInt32());
            started.Add((body.GetProperty("status_url").GetString()!, expected));
        }
        using (var absent = await server.StartAnalysisAsync($$"""{"videoURL": "{{url}}", "modelsToRun": ["color_detection"]}"""))
        {
            var body = await absent.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(1, body.GetProperty("frame_step").GetInt32());
            started.Add((body.GetProperty("status_url").GetString()!, 1));
        }

        // small.ogv has 89 frames: the rows are exactly the seed's, frames numbered from 1 whose number the step divides.
        foreach (var (statusUrl, step) in started)
        {
            var status = await server.WaitAsync(statusUrl);
            Assert.Equal("Completed", status.GetProperty("status").GetString());
            var frames = (await server.Client.GetFromJsonAsync<JsonElement>(status.GetProperty("results_url").GetString()))
                .EnumerateArray().Select(r => r.GetProperty("frame_number").GetInt32()).ToList();
            Assert.Equal(Enumerable.Range(1, 89 / step).Select(i => i * step), frames);
        }
    }

    [Theory]
    [InlineData("8.8.8.8", true)]
    [InlineData("2606:4700::1111", true)]
    [InlineData("127.0.0.1", false)]
    [InlineData("10.1.2.3", false)]
    [InlineData("172.20.0.1", false)]
    [InlineData("192.168.1.1", false)]
    [InlineData("169.254.169.254", false)]
    [InlineData("100.64.0.1", false)]
    [InlineData("0.0.0.0", false)]
    [InlineData("::1", false)]
    [InlineData("fe80::1", false)]
    [InlineData("fd00::1", false)]
    [InlineData("::ffff:127.0.0.1", false)]
    [InlineData("::ffff:8.8.8.8", true)]
    [InlineData("::127.0.0.1", false)]
    [InlineData("::10.0.0.1", false)]
    [InlineData("::ffff:0:192.168.0.1", false)]
    [InlineData("64:ff9b::7f00:1", false)]
    [InlineData("64:ff9b::a9fe:a9fe", false)]
    [InlineData("64:ff9b::808:808", true)]
    [InlineData("64:ff9b:1::808:808", false)]
    [InlineData("2002:7f00:1::1", false)]
    [InlineData("2002:a00:1::1", false)]
    [InlineData("2002:808:808::1", true)]
    [InlineData("2001:0:4136:e378:8000:63bf:80ff:fffe", false)]
    [InlineData("2001:0:4136:e378:8000:63bf:f5ff:fffe", false)]
    [InlineData("2001:0:4136:e378:8000:63bf:f7f7:f7f7", true)]
    [InlineData("2001:db8::1", false)]
    [InlineData("100::1", false)]
    public void IsPublic_RefusesInternalAddresses(string address, bool expected) =>
        Assert.Equal(expected, VideoFetcher.IsPublic(IPAddress.Parse(address)));
}

/// <summary>The API's description and the optional bearer token.</summary>
public sealed class ServerTests
{
    [Fact]
    public async Task OpenApiDocument_ListsTheAnalysisPaths_AndTheDocsPageServes()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);

        var document = await server.Client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");
        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/analysis/start", paths);
        Assert.Contains("/analysis/{id}/frame/{frame}", paths);
        using var docs = await server.Client.GetAsync("/docs");
        Assert.Equal(HttpStatusCode.OK, docs.StatusCode);
        Assert.Equal("text/html", docs.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task TokenForAnalysis_GuardsAnalysisStarts_ReadsStayOpen()
    {
        await using var server = await TestServer.StartAsync(o => o with { Token = "s3cret", TokenForAnalysis = true });
        const string body = """{"videoURL": "https://example.com/a.mp4", "modelsToRun": ["nothing"]}""";

        using (var anonymous = await server.Anonymous.PostAsync("/analysis/start", new StringContent(body, Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        }
        server.Anonymous.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "wrong");
        using (var wrong = await server.Anonymous.PostAsync("/analysis/start", new StringContent(body, Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }
        using (var right = await server.StartAnalysisAsync(body))
        {
            // Past the token, the request itself is judged: the model does not exist.
            Assert.Equal(HttpStatusCode.BadRequest, right.StatusCode);
        }
        server.Anonymous.DefaultRequestHeaders.Authorization = null;
        Assert.Equal(0, (await server.Anonymous.GetFromJsonAsync<JsonElement>("/analysis/videos")).GetArrayLength());
        Assert.False(Directory.Exists(Path.Combine(server.DataDirectory, "analyses")));
    }
}

/// <summary>Live analysis: a real ffmpeg push to the RTMP endpoint.</summary>
public sealed class LiveStreamTests
{
    [Fact]
    public async Task TwoRtmpPushesAtOnce_AreAnalyzedWhileLive_AndCompleteWhenTheStreamsEnd()
    {
        var clip = TestMedia.Generate("live-6s.mp4", "-f lavfi -i testsrc2=size=320x240:rate=25:duration=6 -c:v libx264 -preset ultrafast -g 25 -pix_fmt yuv420p");
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);

        var streams = new List<(string Id, Process Push)>();
        foreach (var name in new[] { "cam1", "cam2" })
        {
            using var created = await server.Client.PostAsync("/analysis/rtmp-endpoint", new StringContent(
                $$"""{"modelsToRun": ["color_detection"], "frameStep": 5, "videoName": "{{name}}"}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            var live = await created.Content.ReadFromJsonAsync<JsonElement>();
            var endpoint = live.GetProperty("rtmp_endpoint").GetString()!;
            var id = live.GetProperty("video_id").GetString()!;
            Assert.Matches("^rtmp://127\\.0\\.0\\.1:[0-9]+/live/[0-9a-f]{32}$", endpoint);
            // Only this answer carries the stream key; what anyone can read does not.
            Assert.DoesNotContain(endpoint.Split('/')[^1], await server.Anonymous.GetStringAsync($"/analysis/{id}"), StringComparison.Ordinal);
            streams.Add((id, Process.Start(new ProcessStartInfo("ffmpeg", ["-nostdin", "-v", "error", "-re", "-i", clip, "-c", "copy", "-f", "flv", endpoint])
            {
                RedirectStandardError = true,
            })!));
        }

        var resultsWhileLive = new Dictionary<string, int>();
        while (streams.Any(s => !s.Push.HasExited))
        {
            foreach (var (id, _) in streams)
            {
                using var rows = await server.Client.GetAsync($"/analysis/{id}/results");
                var status = await server.Client.GetFromJsonAsync<JsonElement>($"/analysis/{id}");
                if (rows.IsSuccessStatusCode && status.GetProperty("status").GetString() == "Processing")
                {
                    resultsWhileLive[id] = (await rows.Content.ReadFromJsonAsync<JsonElement>()).GetArrayLength();
                }
            }
            await Task.Delay(250);
        }
        foreach (var (id, push) in streams)
        {
            Assert.True(push.ExitCode == 0, await push.StandardError.ReadToEndAsync());
            Assert.True(resultsWhileLive.GetValueOrDefault(id) > 0, $"no results appeared for {id} while its stream was live");

            var final = await server.WaitAsync($"/analysis/{id}");
            Assert.Equal("Completed", final.GetProperty("status").GetString());
            var results = (await server.Client.GetFromJsonAsync<JsonElement>($"/analysis/{id}/results")).EnumerateArray().ToList();
            Assert.Equal(Enumerable.Range(1, 30).Select(i => i * 5), results.Select(r => r.GetProperty("frame_number").GetInt32()));
            Assert.All(results, r => Assert.Equal((r.GetProperty("frame_number").GetInt32() - 1) / 25.0, r.GetProperty("video_timestamp").GetDouble(), 3));
            var jpeg = await server.Client.GetByteArrayAsync($"/analysis/{id}/frame/150");
            using var image = Cv2.ImDecode(jpeg, ImreadModes.Color);
            Assert.Equal((320, 240), (image.Width, image.Height));
            // Its recorded segments were datums of its pipeline's jobs (one per batch of segments), all succeeded; the
            // newest holds every segment, those done before carried over.
            var jobs = (await server.Client.GetFromJsonAsync<JsonElement>($"/api/v1/jobs?pipeline=analysis-{Guid.Parse(id):N}")).EnumerateArray().ToList();
            Assert.NotEmpty(jobs);
            Assert.All(jobs, j => Assert.Equal("Success", j.GetProperty("state").GetString()));
            Assert.InRange(jobs[0].GetProperty("counts").GetProperty("total").GetInt32(), 5, 7);
            push.Dispose();
        }
    }
}

/// <summary>Live streams are capped: one over the limit is refused with 429 and leaves no analysis behind.</summary>
public sealed class LiveStreamLimitTests
{
    [Fact]
    public async Task StreamOverTheLimit_Is429_AndCreatesNothing()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false, maxLiveStreams: 1);
        const string body = """{"modelsToRun": ["color_detection"]}""";

        using var first = await server.Client.PostAsync("/analysis/rtmp-endpoint", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        using var second = await server.Client.PostAsync("/analysis/rtmp-endpoint", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.TooManyRequests, second.StatusCode);
        Assert.StartsWith("1 live streams are already open", await second.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Single((await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/analyses")).EnumerateArray().ToList());
    }
}

/// <summary>CORS on the analysis API, as configured.</summary>
public sealed class CorsTests
{
    [Fact]
    public async Task AnalysisApi_AnswersPreflightForAllowedOrigins()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);

        using var response = await server.Client.SendAsync(Preflight("https://client.example"));

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
    }

    [Fact]
    public async Task ConfiguredOrigins_AreAllowed_OthersAreNot()
    {
        await using var server = await TestServer.StartAsync(o => o with { CorsOrigins = ["https://client.example"] });

        using (var allowed = await server.Client.SendAsync(Preflight("https://client.example")))
        {
            Assert.Equal(HttpStatusCode.NoContent, allowed.StatusCode);
            Assert.Equal("https://client.example", allowed.Headers.GetValues("Access-Control-Allow-Origin").Single());
        }
        using (var other = await server.Client.SendAsync(Preflight("https://evil.example")))
        {
            Assert.False(other.Headers.Contains("Access-Control-Allow-Origin"));
        }
        using var read = new HttpRequestMessage(HttpMethod.Get, "/analysis/videos") { Headers = { { "Origin", "https://evil.example" } } };
        using var readResponse = await server.Client.SendAsync(read);
        Assert.False(readResponse.Headers.Contains("Access-Control-Allow-Origin"));
    }

    private static HttpRequestMessage Preflight(string origin)
    {
        var preflight = new HttpRequestMessage(HttpMethod.Options, "/analysis/start");
        preflight.Headers.Add("Origin", origin);
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "content-type");
        return preflight;
    }
}
