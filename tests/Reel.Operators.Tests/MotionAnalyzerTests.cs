using OpenCvSharp;
using Reel.Media;
using Reel.Operators.Motion;
using Reel.Testing;

namespace Reel.Operators.Tests;

public class MotionAnalyzerTests
{
    [Fact]
    public void Pan_ContentMovingLeftTwoPixelsAFrame_IsACameraPanRightOfTwoPixels()
    {
        var results = MotionTestVideos.Analyze(new MotionAnalyzer(), MotionTestVideos.Pan);

        Assert.Equal(50, results.Count);
        Assert.All(results.Skip(1), r =>
        {
            var m = r.Motion!;
            Assert.InRange(m.Dx, 1.85, 2.15);
            Assert.InRange(m.Dy, -0.15, 0.15);
            Assert.InRange(m.Zoom, 0.998, 1.002);
            Assert.InRange(m.Rotation, -0.05, 0.05);
            Assert.InRange(m.Confidence, 0.8, 1);
            Assert.False(m.Still);
        });
    }

    [Fact]
    public void Zoom_ContentGrowingAboutTheCentre_IsAZoomInWithoutPanOrRoll()
    {
        var results = MotionTestVideos.Analyze(new MotionAnalyzer(), MotionTestVideos.Zoom);

        Assert.Equal(50, results.Count);
        Assert.All(results.Skip(1), r =>
        {
            var m = r.Motion!;
            // zoompan shows frame n at 1 + 0.01·n, so each frame is that much larger than the one before.
            var expected = (1 + (0.01 * r.Frame)) / (1 + (0.01 * (r.Frame - 1)));
            Assert.InRange(m.Zoom, expected - 0.001, expected + 0.001);
            // zoompan places its window on whole pixels of the 2240-pixel picture: up to a pixel of jitter here.
            Assert.InRange(m.Dx, -1.5, 1.5);
            Assert.InRange(m.Dy, -1.5, 1.5);
            Assert.InRange(m.Rotation, -0.05, 0.05);
            Assert.False(m.Still);
        });
    }

    [Fact]
    public void Rotation_ContentTurningClockwise_IsACounterclockwiseRollOfTheCamera()
    {
        var results = MotionTestVideos.Analyze(new MotionAnalyzer(), MotionTestVideos.Rotation);

        var perFrame = 0.01 * 180 / Math.PI;
        Assert.Equal(50, results.Count);
        Assert.All(results.Skip(1), r =>
        {
            var m = r.Motion!;
            Assert.InRange(m.Rotation, perFrame - 0.03, perFrame + 0.03);
            Assert.InRange(m.Zoom, 0.998, 1.002);
            Assert.InRange(m.Dx, -0.3, 0.3);
            Assert.InRange(m.Dy, -0.3, 0.3);
            Assert.False(m.Still);
        });
    }

    [Fact]
    public void Still_UnchangingView_IsStillThroughoutAndOneStretch()
    {
        var results = MotionTestVideos.Analyze(new MotionAnalyzer(), MotionTestVideos.Still);

        Assert.All(results, r => Assert.True(r.Motion!.Still, $"frame {r.Frame} moved: {r.Motion}"));
        Assert.All(results.Skip(1), r => Assert.InRange(r.Motion!.Confidence, 0.9, 1));
        var stretch = Assert.Single(MotionAnalyzer.StillStretches(results, TimeSpan.FromSeconds(1)));
        Assert.Equal(new StillStretch(0, 49, 0, 1.96), stretch with { EndTime = Math.Round(stretch.EndTime, 6) });
    }

    [Fact]
    public void StillStretches_PanThenStill_StartAtTheFrameThePanEndsOn()
    {
        var results = MotionTestVideos.Analyze(new MotionAnalyzer(), MotionTestVideos.PanThenStill);

        Assert.All(results.Skip(1).Take(24), r => Assert.False(r.Motion!.Still, $"frame {r.Frame}"));
        Assert.All(results.Skip(25), r => Assert.True(r.Motion!.Still, $"frame {r.Frame}"));
        var stretch = Assert.Single(MotionAnalyzer.StillStretches(results, TimeSpan.FromSeconds(0.5)));
        Assert.Equal((24, 49), (stretch.FirstFrame, stretch.LastFrame));
        Assert.Equal(1.0, stretch.Duration, 6);
        Assert.Empty(MotionAnalyzer.StillStretches(results, TimeSpan.FromSeconds(1.01)));
    }

    [Fact]
    public void Compare_FirstFrame_IsZeroMotionStillWithNoConfidence()
    {
        using var frame = new AnalysisFrame(Textured(640, 360), 7, 0.28);
        var analyzer = new MotionAnalyzer();

        var result = analyzer.Compare(null, analyzer.Describe(frame), 7, 0.28);

        Assert.Equal((7, 0.28, "motion"), (result.Frame, result.Time, result.Model));
        Assert.Equal(new CameraMotion(0, 0, 1, 0, 0, true), result.Motion);
        Assert.True(result.InferenceMs > 0);
    }

    [Fact]
    public void Compare_BlankFrames_CannotMeasureAndIsStillOnlyWhenThePictureIsUnchanged()
    {
        var analyzer = new MotionAnalyzer();
        using var gray = new AnalysisFrame(new Mat(360, 640, MatType.CV_8UC3, Scalar.All(128)), 0, 0);
        using var sameGray = new AnalysisFrame(new Mat(360, 640, MatType.CV_8UC3, Scalar.All(129)), 1, 0.04);
        using var white = new AnalysisFrame(new Mat(360, 640, MatType.CV_8UC3, Scalar.All(250)), 2, 0.08);
        var (a, b, c) = (analyzer.Describe(gray), analyzer.Describe(sameGray), analyzer.Describe(white));

        Assert.Equal(new CameraMotion(0, 0, 1, 0, 0, true), analyzer.Compare(a, b, 1, 0.04).Motion);
        Assert.Equal(new CameraMotion(0, 0, 1, 0, 0, false), analyzer.Compare(b, c, 2, 0.08).Motion);
    }

    [Fact]
    public void Describe_ManyThreadsAtOnce_GiveTheSameMotionAsOneThread()
    {
        var analyzer = new MotionAnalyzer();
        var frames = MotionTestVideos.Frames(MotionTestVideos.Rotation).Take(12).ToList();
        try
        {
            var sequential = frames.Select(analyzer.Describe).ToList();
            var parallel = new object[frames.Count];
            var options = new ParallelOptions { MaxDegreeOfParallelism = 4 };
            Parallel.For(0, frames.Count, options, i => parallel[i] = analyzer.Describe(frames[i]));

            for (var i = 1; i < frames.Count; i++)
            {
                var expected = analyzer.Compare(sequential[i - 1], sequential[i], i, 0).Motion;
                Assert.Equal(expected, analyzer.Compare(parallel[i - 1], parallel[i], i, 0).Motion);
            }
        }
        finally
        {
            frames.ForEach(f => f.Dispose());
        }
    }

    [Fact]
    public void Samsungfun_HandheldShotsCutsAndEndCard_OnlyTheEndCardIsALongStillStretch()
    {
        var path = TestMedia.Fixture("samsungfun.mp4");
        var results = MotionTestVideos.Analyze(new MotionAnalyzer(), path);

        // Across the shot changes (where the encoder put its keyframes) nothing can be tracked and the picture changed.
        var cuts = VideoProbe.Probe(path).Frames.Where(f => f.IsKeyframe && f.Index > 0).Select(f => f.Index).ToList();
        Assert.Equal([33, 137, 178, 252], cuts);
        Assert.All(cuts, i => Assert.Equal(new CameraMotion(0, 0, 1, 0, 0, false), results[i].Motion));
        // The handheld shots drift by a few pixels a frame; the closing title card does not move.
        Assert.True(results.Take(33).Count(r => !r.Motion!.Still) > 25);
        var stretch = Assert.Single(MotionAnalyzer.StillStretches(results, TimeSpan.FromSeconds(2)));
        Assert.Equal((252, 330), (stretch.FirstFrame, stretch.LastFrame));
    }

    [Fact]
    public void StillStretches_MixedResults_IgnoreOtherModelsAndDropShortStretches()
    {
        FrameResult Motion(int frame, bool still) =>
            new() { Frame = frame, Time = frame / 10.0, Model = "motion", Motion = new CameraMotion(0, 0, 1, 0, 1, still) };
        FrameResult Colors(int frame) => new() { Frame = frame, Time = frame / 10.0, Model = "colors", Colors = [] };
        var results = new List<FrameResult>
        {
            Motion(0, true), Motion(1, true), Colors(1), Motion(2, true),
            Motion(3, false), Motion(4, true), Colors(5), Motion(5, false),
            Motion(6, false), Motion(7, true), Motion(8, true), Motion(9, true), Motion(10, true),
        };

        Assert.Equal(
            [new StillStretch(0, 2, 0, 0.2), new StillStretch(3, 4, 0.3, 0.4), new StillStretch(6, 10, 0.6, 1.0)],
            MotionAnalyzer.StillStretches(results, TimeSpan.Zero));
        Assert.Equal([new StillStretch(6, 10, 0.6, 1.0)], MotionAnalyzer.StillStretches(results, TimeSpan.FromSeconds(0.3)));
        Assert.Empty(MotionAnalyzer.StillStretches([Motion(0, true), Motion(1, false)], TimeSpan.Zero));
    }

    [Fact]
    public void Options_OutOfRange_AreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new MotionAnalyzer(new MotionOptions { SampleSide = 8 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MotionAnalyzer(new MotionOptions { MaxFeatures = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new MotionAnalyzer(new MotionOptions { StillTolerance = 0 }));
    }

    private static Mat Textured(int width, int height)
    {
        var mat = new Mat(height, width, MatType.CV_8UC3);
        Cv2.Randu(mat, Scalar.All(0), Scalar.All(255));
        return mat;
    }
}
