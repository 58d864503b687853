using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OpenCvSharp;
using Reel.Server.Analysis;
using Reel.Testing;

namespace Reel.Server.Tests;

/// <summary>
/// <c>GET /analysis/{id}/frame/{n}</c> (seed numbering: n is ffmpeg's n-1): kept as analyzed, or decoded in-process from the
/// frame's keyframe, cached, renders bounded.
/// </summary>
public sealed class FrameImageTests
{
    [Fact]
    public async Task HundredConcurrentFrameRequests_AreAllAnswered_WithBoundedRendersAndEachFrameDecodedOnce()
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowPrivateUrls = true, MaxConcurrentFrameRenders = 2 });
        var id = await AnalyzeAsync(server);
        var images = (FrameImages)server.Services.GetService(typeof(FrameImages))!;

        var responses = await Task.WhenAll(Enumerable.Range(0, 100).Select(i => server.Client.GetAsync($"/analysis/{id}/frame/{1 + (i % 89)}")));

        foreach (var response in responses)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("image/jpeg", response.Content.Headers.ContentType?.MediaType);
            using var image = Cv2.ImDecode(await response.Content.ReadAsByteArrayAsync(), ImreadModes.Color);
            Assert.Equal((400, 300), (image.Width, image.Height));
            response.Dispose();
        }
        Assert.InRange(images.PeakRendering, 1, 2);
        // 89 distinct frames: the repeats came from the cache or shared a render.
        Assert.InRange(images.Decoded, 1, 89);
        var decoded = images.Decoded;
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync($"/analysis/{id}/frame/44")).StatusCode);
        Assert.Equal(decoded, images.Decoded);
    }

    [Fact]
    public async Task QueuedRender_WhoseRequestsAllWentAway_IsGivenUp_OneStillWaitedForIsNot()
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowPrivateUrls = true, MaxConcurrentFrameRenders = 1 });
        var id = await AnalyzeAsync(server);
        var images = (FrameImages)server.Services.GetService(typeof(FrameImages))!;
        var runner = (AnalysisJobs)server.Services.GetService(typeof(AnalysisJobs))!;
        var video = runner.SourceOf(Guid.Parse(id))!;

        // The only render slot is taken: renders queue behind it.
        await images.RenderSlots.WaitAsync();
        using var gone = new CancellationTokenSource();
        using var goneToo = new CancellationTokenSource();
        var abandoned = images.RenderAsync(video, 10, [], gone.Token);
        var waitedFor = images.RenderAsync(video, 20, [], CancellationToken.None);
        var leftEarly = images.RenderAsync(video, 20, [], goneToo.Token);
        Assert.Equal(2, images.InFlight);

        await gone.CancelAsync();
        await goneToo.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leftEarly);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (images.InFlight > 1 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.Equal(1, images.InFlight);
        images.RenderSlots.Release();

        // Frame 20 was still wanted: rendered once. Frame 10 was not: never decoded.
        Assert.NotNull(await waitedFor);
        Assert.Equal(1, images.Decoded);
        Assert.Equal(0, images.InFlight);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(38)]
    [InlineData(89)]
    public async Task Frame_IsTheFrameFfmpegNumbersOneLess(int frame)
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowPrivateUrls = true });
        var id = await AnalyzeAsync(server);
        var work = TestMedia.TempDirectory();
        try
        {
            var served = Path.Combine(work, "served.jpg");
            await File.WriteAllBytesAsync(served, await server.Client.GetByteArrayAsync($"/analysis/{id}/frame/{frame}"));
            var expected = Path.Combine(work, "expected.png");
            TestMedia.Ffmpeg($"-v error -i \"{TestMedia.Fixture("small.ogv")}\" -vf \"select=eq(n\\,{frame - 1})\" -fps_mode passthrough -frames:v 1 \"{expected}\"");
            var other = Path.Combine(work, "other.png");
            TestMedia.Ffmpeg($"-v error -i \"{TestMedia.Fixture("small.ogv")}\" -vf \"select=eq(n\\,{(frame - 1 + 44) % 89})\" -fps_mode passthrough -frames:v 1 \"{other}\"");

            var psnr = TestMedia.Psnr(served, expected);
            Assert.True(psnr > 30, $"PSNR {psnr:0.0} dB against ffmpeg's frame {frame}");
            Assert.True(psnr > TestMedia.Psnr(served, other), "closer to another frame than to its own");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<string> AnalyzeAsync(TestServer server)
    {
        using var start = await server.StartAnalysisAsync($$"""{"videoURL": "{{server.FilesUrl}}/videos/small.ogv", "modelsToRun": ["color_detection"], "frameStep": 1}""");
        var status = await server.WaitAsync((await start.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status_url").GetString()!);
        Assert.Equal("Completed", status.GetProperty("status").GetString());
        return status.GetProperty("video_id").GetString()!;
    }
}
