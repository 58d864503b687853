namespace Reel.Media.Imaging;

/// <summary>Turns pictures clockwise by quarter turns, plane by plane.</summary>
internal static class Rotation
{
    /// <summary>Returns a new image turned clockwise by degrees (90, 180 or 270); the source is left as it is.</summary>
    public static FrameImage Rotate(FrameImage source, int degrees)
    {
        var quarter = degrees is 90 or 270;
        var layout = (quarter, source.Layout) switch
        {
            (true, PixelLayout.Yuv422) => PixelLayout.Yuv440,
            (true, PixelLayout.Yuv440) => PixelLayout.Yuv422,
            _ => source.Layout,
        };
        var result = quarter ? new FrameImage(layout, source.Height, source.Width) : new FrameImage(layout, source.Width, source.Height);
        var bpp = FrameImage.BytesPerPixel(source.Layout);
        for (var p = 0; p < source.PlaneCount(); p++)
        {
            var (w, h) = source.PlaneSize(p);
            var src = source.Plane(p);
            var dst = result.Plane(p);
            var ss = source.Strides[p];
            var ds = result.Strides[p];
            for (var y = 0; y < h; y++)
            {
                for (var x = 0; x < w; x++)
                {
                    var (dx, dy) = degrees switch
                    {
                        90 => (h - 1 - y, x),
                        180 => (w - 1 - x, h - 1 - y),
                        _ => (y, w - 1 - x),
                    };
                    src.AsSpan((y * ss) + (x * bpp), bpp).CopyTo(dst.AsSpan((dy * ds) + (dx * bpp), bpp));
                }
            }
        }
        return result;
    }
}
