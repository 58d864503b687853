using System.Globalization;
using OpenCvSharp;
using Reel.Media;
using Reel.Operators.Scenes;
using Reel.Testing;

namespace Reel.Operators.Tests;

public class ScenesAnalyzerTests
{
    private const string Clip = "-t {1} -f lavfi -i {0}=size=640x360:rate=25";

    /// <summary>2 s of testsrc2 then 2 s of SMPTE bars: the second shot starts at frame 50.</summary>
    private static string TwoShots => TestMedia.Generate("two-shots.mp4",
        $"{Source("testsrc2", 2)} {Source("smptebars", 2)} "
        + "-filter_complex \"[0:v][1:v]concat=n=2:v=1:a=0[v]\" -map \"[v]\" -c:v libx264 -pix_fmt yuv420p");

    /// <summary>2 s of testsrc2, 0.4 s (10 frames) of SMPTE bars, 2 s of mandelbrot: shots start at frames 50 and 60.</summary>
    private static string ShortMiddleShot => TestMedia.Generate("short-middle-shot.mp4",
        $"{Source("testsrc2", 2)} {Source("smptebars", 0.4)} {Source("mandelbrot", 2)} "
        + "-filter_complex \"[0:v][1:v][2:v]concat=n=3:v=1:a=0[v]\" -map \"[v]\" -c:v libx264 -pix_fmt yuv420p");

    [Fact]
    public void TwoShots_ConcatenatedClips_OneCutAtTheFirstFrameOfTheSecond()
    {
        var results = MotionTestVideos.Analyze(new ScenesAnalyzer(), TwoShots);

        Assert.Equal(100, results.Count);
        Assert.Equal([50], results.Where(r => r.Scene!.Cut).Select(r => r.Frame));
        Assert.True(results[50].Scene!.Difference >= 27);
        Assert.All(results.Where(r => r.Frame != 50), r => Assert.InRange(r.Scene!.Difference, 0, 10));
        Assert.Equal(new SceneChange(0, false), results[0].Scene);
        Assert.All(results, r => Assert.Equal("scenes", r.Model));
    }

    [Fact]
    public void ShortMiddleShot_CloserThanTheMinimumSceneLength_IsNotCutAgain()
    {
        var byDefault = MotionTestVideos.Analyze(new ScenesAnalyzer(), ShortMiddleShot);
        var shortScenes = MotionTestVideos.Analyze(new ScenesAnalyzer(new ScenesOptions { MinSceneLength = 10 }), ShortMiddleShot);

        Assert.True(byDefault[60].Scene!.Difference >= 27, $"difference {byDefault[60].Scene!.Difference}");
        Assert.Equal([50], byDefault.Where(r => r.Scene!.Cut).Select(r => r.Frame));
        Assert.Equal([50, 60], shortScenes.Where(r => r.Scene!.Cut).Select(r => r.Frame));
    }

    [Fact]
    public void Sampled_EveryTenthFrame_CutsWhereTheSecondShotIsFirstSeen()
    {
        var every10 = Enumerable.Range(0, 10).Select(i => i * 10).ToList();
        var offset = Enumerable.Range(0, 10).Select(i => 5 + (i * 10)).ToList();

        Assert.Equal([50], MotionTestVideos.Analyze(new ScenesAnalyzer(), TwoShots, every10).Where(r => r.Scene!.Cut).Select(r => r.Frame));
        Assert.Equal([55], MotionTestVideos.Analyze(new ScenesAnalyzer(), TwoShots, offset).Where(r => r.Scene!.Cut).Select(r => r.Frame));
    }

    [Fact]
    public void Samsungfun_ShotChanges_CutWhereTheEncoderPutItsKeyframes()
    {
        var path = TestMedia.Fixture("samsungfun.mp4");

        var results = MotionTestVideos.Analyze(new ScenesAnalyzer(), path);

        // x264's own scene-change detection placed samsungfun's keyframes on its four shot changes (the last one to the
        // closing title card), so both detectors agree; the first 33 frames are one shot.
        var keyframes = VideoProbe.Probe(path).Frames.Where(f => f.IsKeyframe && f.Index > 0).Select(f => f.Index);
        Assert.Equal(331, results.Count);
        Assert.Equal([33, 137, 178, 252], results.Where(r => r.Scene!.Cut).Select(r => r.Frame));
        Assert.Equal(keyframes, results.Where(r => r.Scene!.Cut).Select(r => r.Frame));
    }

    [Fact]
    public void Compare_ShotsShorterThanTheMinimum_AreNotCutAndANewVideoStartsAFreshShot()
    {
        var analyzer = new ScenesAnalyzer();
        using var black = new AnalysisFrame(new Mat(72, 128, MatType.CV_8UC3, Scalar.All(0)), 0, 0);
        using var white = new AnalysisFrame(new Mat(72, 128, MatType.CV_8UC3, Scalar.All(255)), 1, 0);
        var (dark, light) = (analyzer.Describe(black), analyzer.Describe(white));

        Assert.Equal(new SceneChange(0, false), analyzer.Compare(null, dark, 0, 0).Scene);
        // Black to white: value 0 to 255, hue and saturation unchanged.
        Assert.Equal(new SceneChange(85, false), analyzer.Compare(dark, light, 10, 0.4).Scene);
        Assert.Equal(new SceneChange(85, true), analyzer.Compare(light, dark, 20, 0.8).Scene);
        Assert.Equal(new SceneChange(85, false), analyzer.Compare(dark, light, 34, 1.36).Scene);
        Assert.Equal(new SceneChange(85, true), analyzer.Compare(light, dark, 35, 1.4).Scene);

        // The next video's shot starts at its own first frame, not at the last cut of the one before.
        Assert.Equal(new SceneChange(0, false), analyzer.Compare(null, dark, 0, 0).Scene);
        Assert.Equal(new SceneChange(85, true), analyzer.Compare(dark, light, 15, 0.6).Scene);
    }

    [Fact]
    public void Options_OutOfRange_AreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ScenesAnalyzer(new ScenesOptions { Threshold = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ScenesAnalyzer(new ScenesOptions { MinSceneLength = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ScenesAnalyzer(new ScenesOptions { SampleSide = 4 }));
    }

    private static string Source(string name, double seconds) =>
        string.Format(CultureInfo.InvariantCulture, Clip, name, seconds);
}
