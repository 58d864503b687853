using Microsoft.Playwright;
using Reel.Server.Tests;
using Reel.Testing;

namespace Reel.Dashboard.Tests;

/// <summary>
/// The dashboard in a real browser: Debian's chromium driven by Playwright (no browser download), clicking
/// through upload → progress → results. Screenshots go to the test output's screenshots/ folder (or
/// $REEL_SCREENSHOTS).
/// </summary>
public sealed class DashboardTests
{
    private const string Chromium = "/usr/bin/chromium";

    private static string Screenshots => Environment.GetEnvironmentVariable("REEL_SCREENSHOTS") is { Length: > 0 } dir
        ? dir
        : Path.Combine(AppContext.BaseDirectory, "screenshots");

    [Fact]
    public async Task UploadAVideo_WatchItFinish_AndScrubItsFrames()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium (test.sh does)");
        Directory.CreateDirectory(Screenshots);
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 900 } });
        page.SetDefaultTimeout(120_000);

        await page.GotoAsync(server.Client.BaseAddress!.ToString());
        await page.SetInputFilesAsync("#upload-file", TestMedia.Fixture("samsungfun.mp4"));
        await page.CheckAsync("input[value=faces_detection]");
        await page.FillAsync("#frame-step", "151");
        await page.ClickAsync("#start");

        var row = page.Locator("#analyses tbody tr").Filter(new() { HasText = "samsungfun.mp4" });
        await row.Locator(".status-Completed").WaitForAsync();
        Assert.Equal("Completed", await row.Locator(".status").InnerTextAsync());
        Assert.Equal("color_detection, faces_detection", await row.Locator("td").Nth(3).InnerTextAsync());
        // The analysis was a job of the engine: the jobs table lists it, and the engine's worker shows what it did.
        var job = page.Locator("#jobs tbody tr").Filter(new() { HasText = "analysis-" });
        await job.Locator(".status-Success").WaitForAsync();
        Assert.Equal("1/1", (await job.Locator("td").Nth(3).InnerTextAsync()).Trim());
        var worker = page.Locator("#workers tbody tr").Filter(new() { HasText = "datums" });
        await worker.Locator("td").Nth(5).Filter(new() { HasText = "1" }).WaitForAsync();
        Assert.Equal("active", await worker.Locator("td.state").InnerTextAsync());
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-analyses.png") });

        await row.Locator("a").ClickAsync();
        await page.Locator("#results tbody tr").First.WaitForAsync();
        // Seed frame 151 (t = 5 s; frames count from 1) is the first analyzed at step 151: three faces, drawn and listed.
        await page.Locator("#scrubber").FillAsync("0");
        await page.Locator("#frame-number").Filter(new() { HasText = "151" }).WaitForAsync();
        var faces = page.Locator("#results tbody tr").Filter(new() { HasText = "Face Detection" });
        await faces.Locator("td").Nth(1).Filter(new() { HasTextRegex = new System.Text.RegularExpressions.Regex("(face .*){3}", System.Text.RegularExpressions.RegexOptions.Singleline) }).WaitForAsync();
        // Frame images are at the size the analysis saw (640 on the longer side).
        await page.WaitForFunctionAsync("() => { const i = document.getElementById('frame'); return i.src.endsWith('/frame/151') && i.complete && i.naturalWidth === 640; }");
        Assert.Contains("Face Detection", await page.Locator("#detections-legend").InnerTextAsync(), StringComparison.Ordinal);
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-video.png"), FullPage = true });
    }

    [Fact]
    public async Task VideoPage_WhileAnAnalysisRuns_ShowsResultsGrowing()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium (test.sh does)");
        Directory.CreateDirectory(Screenshots);
        // Two minutes at 320x240, every frame with faces and colors: long enough to watch it grow on a 2-core machine.
        var video = TestMedia.Generate("dashboard-2min.mp4", "-f lavfi -i testsrc2=size=320x240:rate=25:duration=120 -c:v libx264 -preset ultrafast -pix_fmt yuv420p");
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync(new() { ViewportSize = new() { Width = 1280, Height = 900 } });
        page.SetDefaultTimeout(120_000);

        await page.GotoAsync(server.Client.BaseAddress!.ToString());
        await page.SetInputFilesAsync("#upload-file", video);
        await page.CheckAsync("input[value=faces_detection]");
        await page.ClickAsync("#start");
        await page.Locator("#analyses tbody tr").Filter(new() { HasText = "dashboard-2min.mp4" }).Locator("a").ClickAsync();

        // Results appear while it is still processing, then more of them, with the newest frame's image.
        const string Processing = "document.querySelector('#video-status .status-Processing')";
        await page.WaitForFunctionAsync($"() => {Processing} && Number(document.getElementById('result-count').textContent) > 0");
        var first = int.Parse(await page.InnerTextAsync("#result-count"), System.Globalization.CultureInfo.InvariantCulture);
        await page.WaitForFunctionAsync($"() => {Processing} && Number(document.getElementById('result-count').textContent) > {first}");
        await page.WaitForFunctionAsync($"() => {{ const i = document.getElementById('frame'); return {Processing} && i.complete && i.naturalWidth === 320; }}");
        Assert.NotEqual(0, await page.Locator("#results tbody tr").CountAsync());
        await page.ScreenshotAsync(new() { Path = Path.Combine(Screenshots, "dashboard-video-processing.png"), FullPage = true });

        // Every frame, two models each, once it completes: a bound, not a speed check — the whole analysis shares two
        // cores with the other test projects, so it gets far longer than a page step.
        var completion = new LocatorWaitForOptions { Timeout = 600_000 };
        await page.Locator("#video-status .status-Completed").WaitForAsync(completion);
        await page.Locator("#result-count").Filter(new() { HasText = "6000" }).WaitForAsync(completion);
    }

    [Fact]
    public async Task StartWithABadUrl_ShowsTheServersReason()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium (test.sh does)");
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync();
        page.SetDefaultTimeout(60_000);

        await page.GotoAsync(server.Client.BaseAddress!.ToString());
        await page.FillAsync("#video-url", "http://127.0.0.1:9/clip.mp4");
        await page.ClickAsync("#start");

        await page.Locator("#start-error").Filter(new() { HasText = "127.0.0.1" }).WaitForAsync();
        Assert.StartsWith("videoURL host '127.0.0.1'", await page.Locator("#start-error").InnerTextAsync(), StringComparison.Ordinal);
        Assert.Equal(0, await page.Locator("#analyses tbody tr").CountAsync());
    }

    [Fact]
    public async Task SignIn_WithTheServersKey_SetsAnHttpOnlyCookie_AndOpensWhatNeedsTheKey()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: install Debian's chromium (test.sh does)");
        await using var server = await TestServer.StartAsync(o => o with { AllowPrivateUrls = true, OpenReads = false, TokenForAnalysis = true });
        using (var start = await server.StartAnalysisAsync($$"""{"videoURL": "{{server.FilesUrl}}/videos/small.ogv", "modelsToRun": ["color_detection"], "frameStep": 30}"""))
        {
            Assert.Equal(System.Net.HttpStatusCode.Created, start.StatusCode);
        }
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = Chromium, Headless = true, Args = ["--no-sandbox"] });
        var context = await browser.NewContextAsync();
        var page = await context.NewPageAsync();
        page.SetDefaultTimeout(60_000);

        await page.GotoAsync(server.Client.BaseAddress!.ToString());
        await page.Locator("#sign-in").WaitForAsync();
        Assert.Equal(0, await page.Locator("#analyses tbody tr").CountAsync());
        await page.FillAsync("#key", "not-the-key");
        await page.ClickAsync("#sign-in button");
        await page.Locator("#sign-in-error").Filter(new() { HasText = "not this server's key" }).WaitForAsync();

        await page.FillAsync("#key", server.Key!);
        await page.ClickAsync("#sign-in button");
        await page.Locator("#signed-in").WaitForAsync();
        await page.Locator("#analyses tbody tr").Filter(new() { HasText = "small.ogv" }).WaitForAsync();
        var cookie = Assert.Single(await context.CookiesAsync(), c => c.Name == "reel_key");
        Assert.True(cookie.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, cookie.SameSite);
        Assert.DoesNotContain("reel_key", await page.EvaluateAsync<string>("() => document.cookie"), StringComparison.Ordinal);
    }
}
