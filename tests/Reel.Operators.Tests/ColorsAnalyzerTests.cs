using OpenCvSharp;
using Reel.Operators.Colors;
using Reel.Testing;

namespace Reel.Operators.Tests;

public class ColorsAnalyzerTests
{
    [Fact]
    public void HalfRedHalfBlue_TwoColorsOfHalfTheFrameEach()
    {
        using var bgr = new Mat(720, 1280, MatType.CV_8UC3, new Scalar(0, 0, 255));
        using (var right = new Mat(bgr, new Rect(640, 0, 640, 720)))
        {
            right.SetTo(new Scalar(255, 0, 0));
        }
        using var frame = new AnalysisFrame(bgr, 3, 0.12);
        using var analyzer = new ColorsAnalyzer();

        var result = analyzer.Analyze(frame);

        Assert.Equal((3, 0.12, "colors"), (result.Frame, result.Time, result.Model));
        Assert.Equal(["#0000ff", "#ff0000"], result.Colors!.Select(c => c.Hex).Order(StringComparer.Ordinal));
        Assert.All(result.Colors!, c => Assert.Equal(0.5, c.Share, 2));
        Assert.True(result.InferenceMs > 0);
    }

    [Fact]
    public void OneColor_OneEntryWithTheWholeFrame()
    {
        // BGR (30, 120, 200) is #c8781e.
        using var frame = new AnalysisFrame(new Mat(360, 640, MatType.CV_8UC3, new Scalar(30, 120, 200)), 0, 0);
        using var analyzer = new ColorsAnalyzer();

        Assert.Equal([new ColorShare("#c8781e", 1)], analyzer.Analyze(frame).Colors);
    }

    [Fact]
    public void FourBands_LargestShareFirst()
    {
        using var bgr = new Mat(400, 1000, MatType.CV_8UC3);
        var bands = new (int Width, Scalar Bgr)[]
        {
            (100, new(0, 255, 0)), (300, new(255, 255, 255)), (200, new(0, 0, 0)), (400, new(0, 200, 255)),
        };
        var x = 0;
        foreach (var (width, color) in bands)
        {
            using var band = new Mat(bgr, new Rect(x, 0, width, 400));
            band.SetTo(color);
            x += width;
        }
        using var frame = new AnalysisFrame(bgr, 0, 0);
        using var analyzer = new ColorsAnalyzer();

        var colors = analyzer.Analyze(frame).Colors!;

        // Pixels on band edges are averaged by the downscaling into small clusters of their own.
        Assert.Equal(["#ffc800", "#ffffff", "#000000", "#00ff00"], colors.Take(4).Select(c => c.Hex));
        Assert.Equal([0.4, 0.3, 0.2, 0.1], colors.Take(4).Select(c => Math.Round(c.Share, 1)));
        Assert.Equal(1, colors.Sum(c => c.Share), 9);
    }

    [Fact]
    public void SmallerK_FewerColorsCoveringTheWholeFrame()
    {
        using var frame = SamsungfunFrame(120);
        using var analyzer = new ColorsAnalyzer(new ColorsOptions { K = 2 });

        var colors = analyzer.Analyze(frame).Colors!;

        Assert.Equal(2, colors.Count);
        Assert.Equal(1, colors.Sum(c => c.Share), 9);
    }

    [Fact]
    public async Task SamsungfunFrame_SameAnswerEveryTimeAndOnEveryThread()
    {
        using var frame = SamsungfunFrame(120);
        using var analyzer = new ColorsAnalyzer();
        using var other = new ColorsAnalyzer();

        var first = analyzer.Analyze(frame).Colors!;

        Assert.Equal(5, first.Count);
        Assert.Equal(1, first.Sum(c => c.Share), 9);
        Assert.Equal(first.OrderByDescending(c => c.Share), first);
        Assert.Equal(first, analyzer.Analyze(frame).Colors);
        Assert.Equal(first, other.Analyze(frame).Colors);
        Assert.Equal(first, await Task.Run(() => other.Analyze(frame).Colors));
    }

    [Fact]
    public void SamsungfunFrame_ColorsWeightedByShareAverageToTheFrameMean()
    {
        // Each color is its cluster's mean, so the share-weighted colors are the mean of the clustered pixels.
        using var frame = SamsungfunFrame(200);
        using var analyzer = new ColorsAnalyzer();

        var colors = analyzer.Analyze(frame).Colors!;

        var mean = Cv2.Mean(frame.Bgr);
        var (r, g, b) = (0.0, 0.0, 0.0);
        foreach (var c in colors)
        {
            r += c.Share * Convert.ToInt32(c.Hex[1..3], 16);
            g += c.Share * Convert.ToInt32(c.Hex[3..5], 16);
            b += c.Share * Convert.ToInt32(c.Hex[5..7], 16);
        }
        Assert.InRange(r, mean.Val2 - 2, mean.Val2 + 2);
        Assert.InRange(g, mean.Val1 - 2, mean.Val1 + 2);
        Assert.InRange(b, mean.Val0 - 2, mean.Val0 + 2);
    }

    [Fact]
    public void Options_OutOfRange_AreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ColorsAnalyzer(new ColorsOptions { K = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ColorsAnalyzer(new ColorsOptions { K = 33 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ColorsAnalyzer(new ColorsOptions { SampleSide = 4 }));
    }

    private static AnalysisFrame SamsungfunFrame(int index) =>
        MotionTestVideos.Frames(TestMedia.Fixture("samsungfun.mp4"), [index]).Single();
}
