using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Reel.Media.Native;

namespace Reel.Media.Imaging;

/// <summary>
/// A picture in native memory laid out as FFmpeg lays out its own frames (<c>av_frame_get_buffer</c>): 64-byte aligned
/// lines padded past the last pixel, spare rows and padding after each plane. It is the one kind of buffer Reel lets
/// native code write into (libswscale, encoders, OpenCV through <c>Mat</c> views), because their vector code writes
/// and reads whole blocks beyond the last pixel of a line. A guard band after the buffer is checked after each native
/// write, so a writer that still strays past it fails loudly instead of corrupting the heap.
/// </summary>
public sealed unsafe class FrameImage : IDisposable
{
    private const int GuardBytes = 64;
    private const byte GuardValue = 0xA5;
    private const int PooledPerSize = 32;

    // Freed buffers by size: extraction allocates one picture per frame, and a fresh allocation of megabytes costs
    // page faults every time.
    private static readonly ConcurrentDictionary<long, ConcurrentBag<nint>> Pool = new();

    private readonly long _size;
    private readonly int[] _strides = new int[4];
    private readonly long[] _offsets = new long[4];
    private byte* _buffer;

    public FrameImage(PixelLayout layout, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 1);
        Layout = layout;
        Width = width;
        Height = height;
        fixed (int* strides = _strides)
        fixed (long* offsets = _offsets)
        {
            _size = AvNative.ImageLayout(PixelFormat(layout), width, height, strides, offsets);
        }
        if (_size <= 0)
        {
            throw new MediaException($"cannot lay out a {width}x{height} {layout} picture: {AvNative.Describe((int)_size)}");
        }
        _buffer = Rent(_size + GuardBytes);
        new Span<byte>(_buffer + _size, GuardBytes).Fill(GuardValue);
    }

    ~FrameImage() => Release();

    public PixelLayout Layout { get; }

    public int Width { get; }

    public int Height { get; }

    /// <summary>Bytes laid out for the picture, from the first plane's start; the guard band follows.</summary>
    internal long Size => _size;

    /// <summary>The libav pixel format with this picture's memory layout (full-range YUV for the YUV layouts).</summary>
    public int AvPixelFormat => PixelFormat(Layout);

    public int PlaneCount() => PlaneCount(Layout);

    /// <summary>The first byte of a plane; valid until the image is disposed.</summary>
    public byte* Plane(int index)
    {
        ObjectDisposedException.ThrowIf(_buffer is null, this);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, PlaneCount());
        return _buffer + _offsets[index];
    }

    /// <summary>Bytes from one line of a plane to the next: a multiple of 64, at least the line's pixels.</summary>
    public int Stride(int index)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, PlaneCount());
        return _strides[index];
    }

    /// <summary>The pixels of one line of a plane, without its padding.</summary>
    public Span<byte> Row(int plane, int y)
    {
        var (width, height) = PlaneSize(plane);
        ArgumentOutOfRangeException.ThrowIfNegative(y);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(y, height);
        return new Span<byte>(Plane(plane) + ((long)y * _strides[plane]), width * BytesPerPixel(Layout));
    }

    /// <summary>Fills the plane pointers and strides native code takes (4 entries each; unused ones null and 0).</summary>
    public void Describe(byte** planes, int* strides)
    {
        for (var p = 0; p < 4; p++)
        {
            planes[p] = p < PlaneCount() ? Plane(p) : null;
            strides[p] = p < PlaneCount() ? _strides[p] : 0;
        }
    }

    /// <summary>Checks that the guard band after the buffer is intact; call after native code wrote into the image.</summary>
    /// <exception cref="InvalidOperationException">Something wrote past the end of the buffer.</exception>
    public void VerifyGuard(string writer)
    {
        ObjectDisposedException.ThrowIf(_buffer is null, this);
        if (new ReadOnlySpan<byte>(_buffer + _size, GuardBytes).ContainsAnyExcept(GuardValue))
        {
            throw new InvalidOperationException(
                $"{writer} wrote past the end of a {Width}x{Height} {Layout} picture buffer ({_size} bytes); the process memory may be damaged");
        }
    }

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
        PixelLayout.Rgb24 or PixelLayout.Bgr24 => 3,
        PixelLayout.Bgra => 4,
        _ => 1,
    };

    public static int PlaneCount(PixelLayout layout) => layout switch
    {
        PixelLayout.Gray or PixelLayout.Rgb24 or PixelLayout.Bgr24 or PixelLayout.Bgra => 1,
        _ => 3,
    };

    public void Dispose()
    {
        Release();
        GC.SuppressFinalize(this);
    }

    private void Release()
    {
        var buffer = _buffer;
        _buffer = null;
        if (buffer is null)
        {
            return;
        }
        var bag = Pool.GetOrAdd(_size + GuardBytes, _ => []);
        if (bag.Count < PooledPerSize && !new ReadOnlySpan<byte>(buffer + _size, GuardBytes).ContainsAnyExcept(GuardValue))
        {
            bag.Add((nint)buffer);
        }
        else
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    private static byte* Rent(long bytes) =>
        Pool.TryGetValue(bytes, out var bag) && bag.TryTake(out var pooled)
            ? (byte*)pooled
            : (byte*)NativeMemory.AlignedAlloc(checked((nuint)bytes), 64);

    private static readonly int[] PixelFormats =
    [
        AvNative.PixelFormatId("yuvj420p"),
        AvNative.PixelFormatId("yuvj422p"),
        AvNative.PixelFormatId("yuvj440p"),
        AvNative.PixelFormatId("yuvj444p"),
        AvNative.PixelFormatId("gray"),
        AvNative.PixelFormatId("rgb24"),
        AvNative.PixelFormatId("bgra"),
        AvNative.PixelFormatId("bgr24"),
    ];

    private static int PixelFormat(PixelLayout layout) => PixelFormats[(int)layout];
}
