using Reel.Media.Native;

namespace Reel.Media.Imaging;

/// <summary>Turns the frame a decoder just produced into an owned <see cref="FrameImage"/> ready for an image encoder.</summary>
internal sealed unsafe class FrameConverter
{
    private static readonly int Yuv420 = AvNative.PixelFormatId("yuv420p");
    private static readonly int Yuvj420 = AvNative.PixelFormatId("yuvj420p");
    private static readonly int Yuv422 = AvNative.PixelFormatId("yuv422p");
    private static readonly int Yuvj422 = AvNative.PixelFormatId("yuvj422p");
    private static readonly int Yuv444 = AvNative.PixelFormatId("yuv444p");
    private static readonly int Yuvj444 = AvNative.PixelFormatId("yuvj444p");
    private static readonly int Gray8 = AvNative.PixelFormatId("gray");

    private readonly ImageFormat _format;
    private readonly int? _width;
    private readonly int? _height;

    /// <param name="format">The image format the result is for.</param>
    /// <param name="width">Coded width to scale to (before rotation), or null for the source's.</param>
    /// <param name="height">Coded height to scale to (before rotation), or null for the source's.</param>
    public FrameConverter(ImageFormat format, int? width, int? height)
    {
        _format = format;
        _width = width;
        _height = height;
    }

    public FrameImage Convert(MediaReader reader, in AvNative.Frame frame)
    {
        var width = _width ?? frame.Width;
        var height = _height ?? frame.Height;
        var scaled = width != frame.Width || height != frame.Height;
        if (_format == ImageFormat.Jpeg && !scaled && DirectLayout(frame.Format) is { } layout)
        {
            return CopyPlanes(frame, layout);
        }

        var target = _format switch
        {
            ImageFormat.Png => PixelLayout.Rgb24,
            ImageFormat.Webp => PixelLayout.Bgra,
            _ => PixelLayout.Yuv420,
        };
        var image = new FrameImage(target, width, height);
        try
        {
            reader.Convert(image);
            return image;
        }
        catch
        {
            image.Dispose();
            throw;
        }
    }

    private static PixelLayout? DirectLayout(int format)
    {
        if (format == Yuv420 || format == Yuvj420)
        {
            return PixelLayout.Yuv420;
        }
        if (format == Yuv422 || format == Yuvj422)
        {
            return PixelLayout.Yuv422;
        }
        if (format == Yuv444 || format == Yuvj444)
        {
            return PixelLayout.Yuv444;
        }
        return format == Gray8 ? PixelLayout.Gray : null;
    }

    private static FrameImage CopyPlanes(in AvNative.Frame frame, PixelLayout layout)
    {
        var fullRange = frame.ColorRange == AvNative.ColorRangeFull
            || frame.Format == Yuvj420 || frame.Format == Yuvj422 || frame.Format == Yuvj444;
        var image = new FrameImage(layout, frame.Width, frame.Height);
        for (var p = 0; p < image.PlaneCount(); p++)
        {
            var (w, h) = image.PlaneSize(p);
            var data = p == 0 ? frame.Data0 : p == 1 ? frame.Data1 : frame.Data2;
            var stride = p == 0 ? frame.Linesize0 : p == 1 ? frame.Linesize1 : frame.Linesize2;
            for (var y = 0; y < h; y++)
            {
                var source = new ReadOnlySpan<byte>(data + ((long)y * stride), w);
                var destination = image.Row(p, y);
                if (fullRange)
                {
                    source.CopyTo(destination);
                }
                else if (p == 0)
                {
                    VideoRange.ExpandLuma(source, destination);
                }
                else
                {
                    VideoRange.ExpandChroma(source, destination);
                }
            }
        }
        return image;
    }
}
