namespace Reel.Media.Imaging;

/// <summary>Turns pictures clockwise by quarter turns, plane by plane.</summary>
internal static class Rotation
{
    /// <summary>Returns a new image turned clockwise by degrees (90, 180 or 270); the source is left as it is.</summary>
    public static unsafe FrameImage Rotate(FrameImage source, int degrees)
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
            RotatePlane(source.Plane(p), source.Stride(p), result.Plane(p), result.Stride(p), w, h, bpp, degrees);
        }
        return result;
    }

    private static unsafe void RotatePlane(byte* src, int sourceStride, byte* dst, int destinationStride, int w, int h, int bpp, int degrees)
    {
        const int Tile = 64;
        var rows = degrees == 180 ? h : w;
        var columns = degrees == 180 ? w : h;
        // Along a destination row the source pointer moves by a fixed step: up or down a column, or back along a row.
        long step = degrees switch
        {
            90 => -sourceStride,
            270 => sourceStride,
            _ => -bpp,
        };
        // Tiles keep the source lines a column walk touches in cache.
        for (var ty = 0; ty < rows; ty += Tile)
        {
            for (var tx = 0; tx < columns; tx += Tile)
            {
                var rowEnd = Math.Min(ty + Tile, rows);
                var columnEnd = Math.Min(tx + Tile, columns);
                for (var dy = ty; dy < rowEnd; dy++)
                {
                    var (sx, sy) = degrees switch
                    {
                        90 => (dy, h - 1 - tx),
                        180 => (w - 1 - tx, h - 1 - dy),
                        _ => (w - 1 - dy, tx),
                    };
                    var from = src + ((long)sy * sourceStride) + ((long)sx * bpp);
                    var to = dst + ((long)dy * destinationStride) + ((long)tx * bpp);
                    if (bpp == 1)
                    {
                        for (var dx = tx; dx < columnEnd; dx++, from += step)
                        {
                            *to++ = *from;
                        }
                    }
                    else
                    {
                        for (var dx = tx; dx < columnEnd; dx++, from += step, to += bpp)
                        {
                            for (var b = 0; b < bpp; b++)
                            {
                                to[b] = from[b];
                            }
                        }
                    }
                }
            }
        }
    }
}
