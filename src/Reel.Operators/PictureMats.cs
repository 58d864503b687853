using OpenCvSharp;
using Reel.Media.Imaging;

namespace Reel.Operators;

/// <summary>
/// OpenCV views of <see cref="FrameImage"/>s: the one way operators hand native picture memory to OpenCV, with the
/// image's own stride (its lines are padded for FFmpeg's vector code, so they are wider than the pixels).
/// </summary>
public static class PictureMats
{
    /// <summary>A <see cref="Mat"/> over the image's memory; it must not outlive the image.</summary>
    public static unsafe Mat View(FrameImage image)
    {
        var type = image.Layout switch
        {
            PixelLayout.Bgr24 or PixelLayout.Rgb24 => MatType.CV_8UC3,
            PixelLayout.Bgra => MatType.CV_8UC4,
            PixelLayout.Gray => MatType.CV_8UC1,
            _ => throw new ArgumentException($"a {image.Layout} picture has several planes; OpenCV views take one", nameof(image)),
        };
        return Mat.FromPixelData(image.Height, image.Width, type, (nint)image.Plane(0), image.Stride(0));
    }
}
