using Reel.Testing;

namespace Reel.Media.Tests;

public class ProbeTests
{
    [Theory]
    [InlineData("samsungfun.mp4", 331)]
    [InlineData("small.ogv", 89)]
    public void Probe_Fixture_FrameCountMatchesFfprobe(string name, int documented)
    {
        var path = TestMedia.Fixture(name);

        var source = VideoProbe.Probe(path);

        Assert.Equal(TestMedia.CountFrames(path), source.Frames.Count);
        Assert.Equal(documented, source.Frames.Count);
        Assert.Null(source.Damage);
    }

    [Fact]
    public void Probe_GeneratedVideos_FrameCountMatchesFfprobe()
    {
        foreach (var path in new[] { GeneratedMedia.Counter24, GeneratedMedia.OddSize, GeneratedMedia.TenBit, GeneratedMedia.Rotated(90) })
        {
            Assert.Equal(TestMedia.CountFrames(path), VideoProbe.Probe(path).Frames.Count);
        }
    }

    [Fact]
    public void Probe_Samsungfun_KeyframesAreTheOnesFfprobeReports()
    {
        var path = TestMedia.Fixture("samsungfun.mp4");
        var expected = TestMedia.Lines(TestMedia.Ffprobe($"-v error -select_streams v:0 -show_entries frame=key_frame -of csv=p=0 \"{path}\""))
            .Select((flag, index) => (flag, index))
            .Where(f => f.flag == "1")
            .Select(f => f.index);

        var source = VideoProbe.Probe(path);

        Assert.Equal(expected, source.Frames.Where(f => f.IsKeyframe).Select(f => f.Index));
        Assert.Equal(5, source.Frames.Count(f => f.IsKeyframe));
    }

    [Fact]
    public void Probe_Samsungfun_TimestampsAreTheSourcesInPresentationOrder()
    {
        var path = TestMedia.Fixture("samsungfun.mp4");
        var expected = TestMedia.Lines(TestMedia.Ffprobe($"-v error -select_streams v:0 -show_entries frame=pts -of csv=p=0 \"{path}\""))
            .Select(long.Parse);

        var source = VideoProbe.Probe(path);

        Assert.Equal(expected, source.Frames.Select(f => f.Pts));
        Assert.Equal(new Rational(1, 30000), source.TimeBase);
    }

    [Fact]
    public void Probe_RotatedVideo_ReportsQuarterTurnAndUprightSize()
    {
        var source = VideoProbe.Probe(GeneratedMedia.Rotated(90));

        // ffprobe's rotation=90 is counterclockwise: turning the picture upright takes 270 degrees clockwise.
        Assert.Equal(270, source.Rotation);
        Assert.Equal((240, 320), (source.UprightWidth, source.UprightHeight));
    }

    [Fact]
    public void Probe_MissingFile_SaysNotFound()
    {
        var error = Assert.Throws<MediaException>(() => VideoProbe.Probe("/nonexistent/clip.mp4"));
        Assert.Equal("file not found", error.Message);
    }
}
