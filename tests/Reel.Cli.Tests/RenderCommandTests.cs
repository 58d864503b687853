using Reel.Testing;

namespace Reel.Cli.Tests;

public class RenderCommandTests
{
    [Fact]
    public void Render_UnknownFilter_ExitsWithUsageErrorAndOneLine()
    {
        var output = Path.Combine(TestMedia.TempDirectory(), "out.mp4");

        var (exit, _, stderr) = ReelProcess.Run("render", TestMedia.Fixture("samsungfun.mp4"), "--filter", "sparkles", "-o", output);

        Assert.Equal(2, exit);
        var line = Assert.Single(ReelProcess.Lines(stderr));
        Assert.Contains("unknown filter 'sparkles'", line, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Render_MissingOverlayImage_ExitsWithUsageError()
    {
        var output = Path.Combine(TestMedia.TempDirectory(), "out.mp4");

        var (exit, _, stderr) = ReelProcess.Run("render", TestMedia.Fixture("samsungfun.mp4"), "-f", "overlay=missing.png", "-o", output);

        Assert.Equal(2, exit);
        Assert.Contains("missing.png", Assert.Single(ReelProcess.Lines(stderr)), StringComparison.Ordinal);
    }

    [Fact]
    public void Render_ExistingOutputWithoutOverwrite_IsRefusedAndUntouched()
    {
        var output = Path.Combine(TestMedia.TempDirectory(), "out.mp4");
        File.WriteAllText(output, "earlier render");

        var (exit, _, stderr) = ReelProcess.Run("render", TestMedia.Fixture("samsungfun.mp4"), "-f", "blur-faces", "-o", output, "--json");

        Assert.Equal(1, exit);
        Assert.Contains("--overwrite", Assert.Single(ReelProcess.Lines(stderr)), StringComparison.Ordinal);
        Assert.Equal("earlier render", File.ReadAllText(output));
    }

    [Fact]
    public void Render_ShortClipWithOverlay_WritesVideoAndJsonSummary()
    {
        var clip = TestMedia.Generate("render-cli.mp4", "-f lavfi -i testsrc2=size=320x240:rate=25:duration=1 -f lavfi -i sine=duration=1 -c:v libx264 -g 10 -pix_fmt yuv420p -c:a aac -shortest");
        var output = Path.Combine(TestMedia.TempDirectory(), "out.mp4");

        var (exit, stdout, _) = ReelProcess.Run(
            "render", clip, "-f", $"overlay={TestMedia.Fixture("glasses.png")}", "-f", "boxes", "-o", output, "--workers", "2", "--json");

        Assert.Equal(0, exit);
        using var summary = System.Text.Json.JsonDocument.Parse(stdout);
        Assert.Equal("rendered", summary.RootElement.GetProperty("videos")[0].GetProperty("status").GetString());
        Assert.Equal(25, summary.RootElement.GetProperty("framesWritten").GetInt32());
        Assert.Equal(25, TestMedia.CountFrames(output));
        Assert.Equal("aac", TestMedia.Ffprobe($"-v error -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 \"{output}\"").Trim());
    }
}
