namespace Reel.Media.Imaging;

/// <summary>How a <see cref="FrameImage"/> stores its pixels.</summary>
public enum PixelLayout
{
    /// <summary>Full-range Y, U, V planes, chroma halved both ways (JPEG 4:2:0).</summary>
    Yuv420,

    /// <summary>Chroma halved horizontally.</summary>
    Yuv422,

    /// <summary>Chroma halved vertically (a 4:2:2 picture turned by a quarter).</summary>
    Yuv440,

    Yuv444,

    /// <summary>Luma only.</summary>
    Gray,

    /// <summary>One plane, 3 bytes per pixel: R, G, B.</summary>
    Rgb24,

    /// <summary>One plane, 4 bytes per pixel: B, G, R, A.</summary>
    Bgra,

    /// <summary>One plane, 3 bytes per pixel: B, G, R (OpenCV's order).</summary>
    Bgr24,
}
