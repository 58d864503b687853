using Reel.Media.Imaging;

namespace Reel.Media.Tests;

public class VideoRangeTests
{
    [Fact]
    public void Expand_VectorAndScalarPaths_AgreeOnEveryValue()
    {
        // 256 values fill the SIMD loop; the 7 after them go through the scalar tail.
        var input = Enumerable.Range(0, 263).Select(i => (byte)(i % 256)).ToArray();
        var luma = new byte[input.Length];
        var chroma = new byte[input.Length];

        VideoRange.ExpandLuma(input, luma);
        VideoRange.ExpandChroma(input, chroma);

        for (var i = 256; i < input.Length; i++)
        {
            Assert.Equal(luma[i - 256], luma[i]);
            Assert.Equal(chroma[i - 256], chroma[i]);
        }
        for (var v = 0; v < 256; v++)
        {
            Assert.InRange(luma[v], Math.Clamp((int)Math.Floor((v - 16) * 255.0 / 219), 0, 255), Math.Clamp((int)Math.Ceiling((v - 16) * 255.0 / 219), 0, 255));
            Assert.InRange(chroma[v], Math.Clamp((int)Math.Floor(((v - 128) * 255.0 / 224) + 128), 0, 255), Math.Clamp((int)Math.Ceiling(((v - 128) * 255.0 / 224) + 128), 0, 255));
        }
    }

    [Theory]
    [InlineData(16, 0)]
    [InlineData(235, 255)]
    [InlineData(0, 0)]
    [InlineData(255, 255)]
    [InlineData(126, 128)]
    public void ExpandLuma_MapsVideoRangeEndsToFullRange(byte video, byte full)
    {
        var output = new byte[1];
        VideoRange.ExpandLuma([video], output);
        Assert.Equal(full, output[0]);
    }

    [Fact]
    public void ExpandChroma_KeepsNeutralGrey()
    {
        var output = new byte[1];
        VideoRange.ExpandChroma([128], output);
        Assert.Equal(128, output[0]);
    }
}
