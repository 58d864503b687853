using OpenCvSharp;
using Reel.Media.Extraction;
using Reel.Operators.Filters;
using Reel.Operators.Rendering;
using Reel.Testing;

namespace Reel.Operators.Tests;

/// <summary>samsungfun.mp4 rendered once with blur-faces on two workers.</summary>
public sealed class BlurredSamsungfun
{
    public BlurredSamsungfun()
    {
        Source = TestMedia.Fixture("samsungfun.mp4");
        Output = Path.Combine(TestMedia.TempDirectory(), "blurred.mp4");
        var renderer = new VideoRenderer(new RenderOptions { Output = Output, Filters = [new BlurFacesFilter()], Workers = 2 });
        Result = renderer.RenderAsync(Source).GetAwaiter().GetResult();
    }

    public string Source { get; }

    public string Output { get; }

    public VideoResult Result { get; }
}

public class RenderTests(BlurredSamsungfun rendered) : IClassFixture<BlurredSamsungfun>
{
    [Fact]
    public void Render_BlurFaces_KeepsEveryFrameTheDurationAndTheAudio()
    {
        Assert.Null(rendered.Result.Error);
        Assert.Equal(VideoOutcome.Completed, rendered.Result.Outcome);
        Assert.Equal(331, TestMedia.CountFrames(rendered.Output));
        var frame = 1001.0 / 30000;
        Assert.InRange(Duration(rendered.Output, "v:0"), Duration(rendered.Source, "v:0") - frame, Duration(rendered.Source, "v:0") + frame);
        Assert.Equal("aac", TestMedia.Ffprobe($"-v error -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 \"{rendered.Output}\"").Trim());
        Assert.Equal("30000/1001", TestMedia.Ffprobe($"-v error -select_streams v:0 -show_entries stream=r_frame_rate -of csv=p=0 \"{rendered.Output}\"").Trim());
        // No temporary pieces or partial outputs left beside the result.
        Assert.Equal(["blurred.mp4"], Directory.GetFileSystemEntries(Path.GetDirectoryName(rendered.Output)!).Select(Path.GetFileName));
    }

    [Fact]
    public void Render_BlurFaces_FacesChangeStronglyBackgroundStaysClose()
    {
        using var source = FrameAt(rendered.Source, 5);
        using var output = FrameAt(rendered.Output, 5);

        // The man, the boy and the woman at t=5 s (source pixels).
        foreach (var centre in (Point[])[new(555, 330), new(740, 650), new(1020, 340)])
        {
            var difference = MeanAbsoluteDifference(source, output, new Rect(centre.X - 40, centre.Y - 40, 80, 80));
            Assert.True(difference > 12, $"face at {centre} changed by only {difference:0.0}");
        }
        // The wall at the top left, far from any face.
        Assert.True(MeanAbsoluteDifference(source, output, new Rect(20, 20, 300, 200)) < 3);
    }

    [Fact]
    public async Task Render_ExistingOutputWithoutOverwrite_FailsAndLeavesItAlone()
    {
        var output = Path.Combine(TestMedia.TempDirectory(), "exists.mp4");
        await File.WriteAllTextAsync(output, "keep me");
        var renderer = new VideoRenderer(new RenderOptions { Output = output, Filters = [new BoxesFilter()], Workers = 2 });

        var result = await renderer.RenderAsync(TestMedia.Fixture("samsungfun.mp4"));

        Assert.Equal(VideoOutcome.Failed, result.Outcome);
        Assert.Contains("--overwrite", result.Error, StringComparison.Ordinal);
        Assert.Equal("keep me", await File.ReadAllTextAsync(output));
    }

    [Fact]
    public async Task Render_RotatedSource_ComesOutUpright()
    {
        var plain = TestMedia.Generate("render-plain.mp4", "-f lavfi -i testsrc2=size=320x180:rate=25:duration=1 -c:v libx264 -g 10 -pix_fmt yuv420p");
        var rotated = TestMedia.Generate("render-rotated.mp4", $"-i \"{plain}\" -c copy -metadata:s:v:0 rotate=90");
        var output = Path.Combine(TestMedia.TempDirectory(), "upright.mp4");
        var renderer = new VideoRenderer(new RenderOptions { Output = output, Filters = [new BoxesFilter()], Workers = 2 });

        var result = await renderer.RenderAsync(rotated);

        Assert.Null(result.Error);
        Assert.Equal((180, 320), TestMedia.Dimensions(output));
        Assert.Equal(25, TestMedia.CountFrames(output));
        // Same pictures as ffmpeg's own autorotated decoding (boxes draws nothing on a test pattern).
        Assert.True(TestMedia.Psnr(rotated, output) > 35);
    }

    [Fact]
    public async Task Render_OneOrThreeWorkers_SameBytes()
    {
        // Units come from the source alone and every encoder runs the same threads: no machine-dependent output.
        var source = TestMedia.Generate("render-units.mp4", "-f lavfi -i testsrc2=size=320x180:rate=25:duration=4 -c:v libx264 -g 10 -pix_fmt yuv420p");
        var directory = TestMedia.TempDirectory();
        var hashes = new List<string>();
        foreach (var workers in new[] { 1, 3 })
        {
            var output = Path.Combine(directory, $"{workers}.mp4");
            var result = await new VideoRenderer(new RenderOptions { Output = output, Filters = [new BoxesFilter()], Workers = workers }).RenderAsync(source);
            Assert.Null(result.Error);
            hashes.Add(Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(output))));
        }

        Assert.Equal(hashes[0], hashes[1]);
        Assert.True(VideoRenderer.Units(Reel.Media.VideoProbe.Probe(source, CancellationToken.None)).Count > 1, "one unit proves nothing");
    }

    [Fact]
    public async Task Render_VariableFrameRateSourceWithAudio_KeepsEveryFrameAtItsSourceTime()
    {
        // 100 frames: 30 at 25 fps, a 1.47 s gap, 30 at 10 fps, a 3.1 s gap, 40 at 25 fps; a keyframe every 20 frames,
        // so the render is cut into several pieces; a 440 Hz tone as audio.
        var source = TestMedia.Generate("render-vfr.mp4",
            "-f lavfi -i testsrc2=size=320x240:rate=25:duration=4 -f lavfi -i sine=frequency=440:duration=10 " +
            "-vf \"setpts='(if(lt(N,30),N*0.04,if(lt(N,60),2.63+(N-30)*0.1,5.63+(N-60)*0.04)))/TB'\" " +
            "-fps_mode vfr -c:v libx264 -g 20 -pix_fmt yuv420p -c:a aac -shortest");
        var output = Path.Combine(TestMedia.TempDirectory(), "vfr-rendered.mp4");
        var renderer = new VideoRenderer(new RenderOptions { Output = output, Filters = [new BoxesFilter()], Workers = 2 });

        var result = await renderer.RenderAsync(source);

        Assert.Null(result.Error);
        var expected = FrameTimes(source);
        Assert.Equal(100, expected.Count);
        Assert.True(expected[30] - expected[29] > 1.4, "the generated source is not variable-rate");
        var actual = FrameTimes(output);
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-6, $"frame {i} at {actual[i]:0.######}s, source {expected[i]:0.######}s");
        }
        Assert.Equal(Duration(source, "a:0"), Duration(output, "a:0"), 3);
        // Only the last frame's display time is the muxer's guess (the joined H.264 carries no frame rate).
        Assert.InRange(Duration(output, "v:0"), Duration(source, "v:0") - 0.001, Duration(source, "v:0") + 0.1);
    }

    /// <summary>Each decoded frame's presentation time in seconds, in order.</summary>
    private static List<double> FrameTimes(string video) =>
        TestMedia.Ffprobe($"-v error -select_streams v:0 -show_entries frame=best_effort_timestamp_time -of csv=p=0 \"{video}\"")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => double.Parse(l.Split(',')[0], System.Globalization.CultureInfo.InvariantCulture))
            .ToList();

    private static double Duration(string video, string stream) => double.Parse(
        TestMedia.Ffprobe($"-v error -select_streams {stream} -show_entries stream=duration -of csv=p=0 \"{video}\"").Trim(),
        System.Globalization.CultureInfo.InvariantCulture);

    private static Mat FrameAt(string video, double seconds)
    {
        var png = Path.Combine(TestMedia.TempDirectory(), "frame.png");
        TestMedia.Ffmpeg($"-v error -ss {seconds} -i \"{video}\" -frames:v 1 \"{png}\"");
        return Cv2.ImRead(png);
    }

    private static double MeanAbsoluteDifference(Mat a, Mat b, Rect region)
    {
        using var first = new Mat(a, region);
        using var second = new Mat(b, region);
        using var difference = new Mat();
        Cv2.Absdiff(first, second, difference);
        var mean = Cv2.Mean(difference);
        return (mean.Val0 + mean.Val1 + mean.Val2) / 3;
    }
}
