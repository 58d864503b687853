using System.Buffers;

namespace Reel.Media.Imaging;

/// <summary>A decoded picture in buffers it owns (rented from the shared pool, returned on dispose).</summary>
public sealed class FrameImage : IDisposable
{
    private readonly byte[][] _planes;

    public FrameImage(PixelLayout layout, int width, int height)
    {
        Layout = layout;
        Width = width;
        Height = height;
        var count = PlaneCount(layout);
        _planes = new byte[count][];
        Strides = new int[count];
        for (var p = 0; p < count; p++)
        {
            var (w, h) = PlaneSize(p);
            Strides[p] = Align(w * BytesPerPixel(layout));
            _planes[p] = ArrayPool<byte>.Shared.Rent(Strides[p] * h);
        }
    }

    public PixelLayout Layout { get; }

    public int Width { get; }

    public int Height { get; }

    public int[] Strides { get; }

    public int PlaneCount() => _planes.Length;

    public byte[] Plane(int index) => _planes[index];

    public Span<byte> Row(int plane, int y) => _planes[plane].AsSpan(y * Strides[plane], PlaneSize(plane).Width * BytesPerPixel(Layout));

    /// <summary>Pixel size of a plane: chroma planes are smaller in the subsampled layouts.</summary>
    public (int Width, int Height) PlaneSize(int plane) => plane == 0 ? (Width, Height) : Layout switch
    {
        PixelLayout.Yuv420 => ((Width + 1) / 2, (Height + 1) / 2),
        PixelLayout.Yuv422 => ((Width + 1) / 2, Height),
        PixelLayout.Yuv440 => (Width, (Height + 1) / 2),
        _ => (Width, Height),
    };

    public static int BytesPerPixel(PixelLayout layout) => layout switch
    {
        PixelLayout.Rgb24 => 3,
        PixelLayout.Bgra => 4,
        _ => 1,
    };

    public static int PlaneCount(PixelLayout layout) => layout switch
    {
        PixelLayout.Gray or PixelLayout.Rgb24 or PixelLayout.Bgra => 1,
        _ => 3,
    };

    public void Dispose()
    {
        for (var p = 0; p < _planes.Length; p++)
        {
            if (_planes[p].Length > 0)
            {
                ArrayPool<byte>.Shared.Return(_planes[p]);
                _planes[p] = [];
            }
        }
    }

    private static int Align(int bytes) => (bytes + 63) & ~63;
}
