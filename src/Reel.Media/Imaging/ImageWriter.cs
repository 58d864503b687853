using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using Reel.Media.Native;

namespace Reel.Media.Imaging;

/// <summary>Encodes <see cref="FrameImage"/>s and writes them to files. One per thread: it keeps its encoder and buffer.</summary>
public sealed unsafe class ImageWriter : IDisposable
{
    private readonly ImageFormat _format;
    private readonly int _quality;
    private nint _jpeg;
    private byte* _buffer;
    private nuint _bufferSize;

    /// <param name="format">The file format.</param>
    /// <param name="quality">1-100; for JPEG and WebP. PNG is lossless and ignores it.</param>
    public ImageWriter(ImageFormat format, int quality)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        _format = format;
        _quality = quality;
    }

    /// <summary>The pixel layout this writer encodes from; <see cref="FrameImage"/>s of other layouts are refused.</summary>
    public static bool Accepts(ImageFormat format, PixelLayout layout) => format switch
    {
        ImageFormat.Jpeg => layout is PixelLayout.Yuv420 or PixelLayout.Yuv422 or PixelLayout.Yuv440 or PixelLayout.Yuv444 or PixelLayout.Gray,
        ImageFormat.Png => layout == PixelLayout.Rgb24,
        _ => layout == PixelLayout.Bgra,
    };

    public void Write(FrameImage image, string path)
    {
        if (!Accepts(_format, image.Layout))
        {
            throw new ArgumentException($"{_format} cannot be written from {image.Layout}.", nameof(image));
        }
        if (_format == ImageFormat.Jpeg)
        {
            WriteJpeg(image, path);
        }
        else
        {
            WriteWithLibav(image, path);
        }
    }

    private void WriteJpeg(FrameImage image, string path)
    {
        if (_jpeg == 0)
        {
            _jpeg = TurboJpeg.InitCompress();
            if (_jpeg == 0)
            {
                throw new MediaException("cannot start the JPEG encoder (libturbojpeg)");
            }
        }
        var sampling = image.Layout switch
        {
            PixelLayout.Yuv420 => TurboJpeg.Sampling420,
            PixelLayout.Yuv422 => TurboJpeg.Sampling422,
            PixelLayout.Yuv440 => TurboJpeg.Sampling440,
            PixelLayout.Gray => TurboJpeg.SamplingGray,
            _ => TurboJpeg.Sampling444,
        };
        var needed = TurboJpeg.BufferSize(image.Width, image.Height, sampling);
        if (needed > _bufferSize)
        {
            NativeMemory.Free(_buffer);
            _buffer = (byte*)NativeMemory.Alloc(needed);
            _bufferSize = needed;
        }

        var planes = stackalloc byte*[4];
        var strides = stackalloc int[4];
        image.Describe(planes, strides);
        var output = _buffer;
        var size = _bufferSize;
        var code = TurboJpeg.CompressFromYuvPlanes(
            _jpeg, planes, image.Width, strides, image.Height, sampling, &output, &size, _quality, TurboJpeg.FlagNoRealloc);
        if (code != 0)
        {
            throw new MediaException($"JPEG encoding failed: {TurboJpeg.LastError(_jpeg)}");
        }
        WriteFile(path, new ReadOnlySpan<byte>(output, checked((int)size)));
    }

    private void WriteWithLibav(FrameImage image, string path)
    {
        var (encoder, pixelFormat) = _format == ImageFormat.Png ? ("png", "rgb24") : ("libwebp", "bgra");
        var error = stackalloc byte[256];
        var planes = stackalloc byte*[4];
        var strides = stackalloc int[4];
        image.Describe(planes, strides);
        var code = AvNative.EncodeImage(
            encoder, AvNative.PixelFormatId(pixelFormat), image.Width, image.Height, planes, strides, _quality,
            out var output, out var size, error, 256);
        if (code < 0)
        {
            throw new MediaException(Marshal.PtrToStringUTF8((nint)error) ?? AvNative.Describe(code));
        }
        try
        {
            WriteFile(path, new ReadOnlySpan<byte>(output, size));
        }
        finally
        {
            AvNative.Free(output);
        }
    }

    private static void WriteFile(string path, ReadOnlySpan<byte> bytes)
    {
        using SafeFileHandle file = File.OpenHandle(path, FileMode.Create, FileAccess.Write, FileShare.None, FileOptions.None, bytes.Length);
        RandomAccess.Write(file, bytes, 0);
    }

    public void Dispose()
    {
        if (_jpeg != 0)
        {
            TurboJpeg.Destroy(_jpeg);
            _jpeg = 0;
        }
        NativeMemory.Free(_buffer);
        _buffer = null;
        _bufferSize = 0;
    }
}
