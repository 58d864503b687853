using Reel.Media.Imaging;

namespace Reel.Media.Tests;

public class FrameImageTests
{
    public static TheoryData<PixelLayout> Layouts => [.. Enum.GetValues<PixelLayout>()];

    [Theory]
    [MemberData(nameof(Layouts))]
    public unsafe void Layout_EverySmallAndOddSize_LinesPaddedForVectorWritesAndPlanesApart(PixelLayout layout)
    {
        var sizes = Enumerable.Range(1, 70).SelectMany(n => new[] { (n, 1), (n, 17), (1, n), (17, n) }).Concat([(200, 200), (202, 202), (4097, 17)]);
        foreach (var (w, h) in sizes)
        {
            using var image = new FrameImage(layout, w, h);
            for (var p = 0; p < image.PlaneCount(); p++)
            {
                var (pw, ph) = image.PlaneSize(p);
                var stride = image.Stride(p);
                Assert.True((long)image.Plane(p) % 64 == 0, $"{layout} {w}x{h} plane {p} starts unaligned");
                Assert.True(stride % 64 == 0, $"{layout} {w}x{h} plane {p}: stride {stride}");
                // Vector code writes whole 16-pixel blocks (and more): the line must hold the last block whole.
                Assert.True(stride >= ((pw + 15) / 16 * 16 * FrameImage.BytesPerPixel(layout)), $"{layout} {w}x{h} plane {p}: stride {stride} for {pw} pixels");
                Assert.Equal(pw * FrameImage.BytesPerPixel(layout), image.Row(p, ph - 1).Length);
                if (p + 1 < image.PlaneCount())
                {
                    // The plane's rows, spare rows included, end at least 64 bytes before the next plane.
                    Assert.True(image.Plane(p + 1) - image.Plane(p) >= ((long)stride * ph) + 64, $"{layout} {w}x{h}: planes {p} and {p + 1} overlap");
                }
            }
            image.VerifyGuard("nothing");
        }
    }

    [Fact]
    public unsafe void VerifyGuard_AfterAWritePastTheEnd_Throws()
    {
        using var image = new FrameImage(PixelLayout.Bgr24, 200, 200);
        // The first plane starts the buffer; the guard follows its last byte.
        *(image.Plane(0) + image.Size + 10) = 0;

        var error = Assert.Throws<InvalidOperationException>(() => image.VerifyGuard("a test"));
        Assert.Contains("a test wrote past the end of a 200x200 Bgr24 picture", error.Message, StringComparison.Ordinal);
    }
}
