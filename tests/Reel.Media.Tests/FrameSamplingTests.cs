using Reel.Media.Sampling;
using Reel.Testing;

namespace Reel.Media.Tests;

public class FrameSamplingTests
{
    public static TheoryData<string, string> FpsCases => new()
    {
        { "samsungfun.mp4", "1" },
        { "samsungfun.mp4", "7.5" },
        { "samsungfun.mp4", "30000/1001" },
        { "samsungfun.mp4", "60" },
        { "small.ogv", "1" },
        { "small.ogv", "7" },
        { "counter24", "0.5" },
        { "counter24", "5" },
        { "counter24", "24000/1001" },
    };

    [Theory]
    [MemberData(nameof(FpsCases))]
    public void Fps_KeepsExactlyTheFramesFfmpegsFpsFilterKeeps(string video, string rate)
    {
        var path = video == "counter24" ? GeneratedMedia.Counter24 : TestMedia.Fixture(video);
        Assert.True(Rational.TryParse(rate, out var fps));
        var source = VideoProbe.Probe(path);
        var all = TestMedia.FrameHashes(path);
        Assert.Equal(source.Frames.Count, all.Count);

        var selected = new FrameSampling { Mode = SamplingMode.Fps, Fps = fps }.Select(source);

        // ffmpeg repeats a frame to fill ticks; Reel writes it once. Compare the pictures, repeats folded.
        var ffmpeg = Fold(TestMedia.FrameHashes(path, $"fps={rate}"));
        Assert.Equal(ffmpeg, Fold(selected.Select(i => all[i]).ToList()));
        Assert.Equal(selected.Distinct().Count(), selected.Count);
    }

    [Fact]
    public void Every_KeepsEveryNthIndexFromZero()
    {
        var source = VideoProbe.Probe(TestMedia.Fixture("samsungfun.mp4"));

        var selected = new FrameSampling { Mode = SamplingMode.Every, Step = 10 }.Select(source);

        Assert.Equal(Enumerable.Range(0, 34).Select(i => i * 10), selected);
    }

    [Fact]
    public void Keyframes_KeepsOnlyKeyframes()
    {
        var source = VideoProbe.Probe(TestMedia.Fixture("samsungfun.mp4"));

        var selected = new FrameSampling { Mode = SamplingMode.Keyframes }.Select(source);

        Assert.Equal(source.Frames.Where(f => f.IsKeyframe).Select(f => f.Index), selected);
    }

    [Fact]
    public void TimeRange_KeepsFramesFromStartInclusiveToEndExclusive()
    {
        var path = TestMedia.Fixture("samsungfun.mp4");
        var times = TestMedia.Lines(TestMedia.Ffprobe($"-v error -select_streams v:0 -show_entries frame=pts_time -of csv=p=0 \"{path}\""))
            .Select(t => double.Parse(t, System.Globalization.CultureInfo.InvariantCulture))
            .ToList();
        var source = VideoProbe.Probe(path);

        var selected = new FrameSampling { Start = 2, End = 4 }.Select(source);

        var expected = Enumerable.Range(0, times.Count).Where(i => times[i] >= 2 && times[i] < 4);
        Assert.Equal(expected, selected);
        Assert.Equal(60, selected.Count);
    }

    [Fact]
    public void TimeRangeWithEvery_CountsStepsFromTheFirstFrameInRange()
    {
        var source = VideoProbe.Probe(TestMedia.Fixture("samsungfun.mp4"));
        var first = new FrameSampling { Start = 5 }.Select(source)[0];

        var selected = new FrameSampling { Mode = SamplingMode.Every, Step = 7, Start = 5, End = 6 }.Select(source);

        Assert.Equal(first, selected[0]);
        Assert.All(selected.Zip(selected.Skip(1)), pair => Assert.Equal(7, pair.Second - pair.First));
    }

    [Fact]
    public void TimeRange_PastTheEnd_KeepsNothing()
    {
        var source = VideoProbe.Probe(TestMedia.Fixture("small.ogv"));

        Assert.Empty(new FrameSampling { Start = 60 }.Select(source));
    }

    private static List<string> Fold(IReadOnlyList<string> hashes) =>
        hashes.Where((h, i) => i == 0 || hashes[i - 1] != h).ToList();
}
