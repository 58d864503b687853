using System.Runtime.InteropServices;
using Reel.Media.Imaging;
using Reel.Media.Native;

namespace Reel.Media;

/// <summary>One open file with a video decoder: reads packets, decodes frames, seeks. Not thread-safe.</summary>
internal sealed unsafe class MediaReader : IDisposable
{
    private nint _handle;

    private MediaReader(nint handle, AvNative.VideoInfo info)
    {
        _handle = handle;
        Info = info;
    }

    public AvNative.VideoInfo Info { get; }

    public required string Path { get; init; }

    public string CodecName
    {
        get
        {
            var info = Info;
            return Marshal.PtrToStringUTF8((nint)info.CodecName) ?? "unknown";
        }
    }

    public string PixelFormatName
    {
        get
        {
            var info = Info;
            return Marshal.PtrToStringUTF8((nint)info.PixelFormatName) ?? "unknown";
        }
    }

    /// <exception cref="MediaException">The file cannot be opened as a video.</exception>
    /// <param name="path">The file.</param>
    /// <param name="decoderThreads">Threads for the video decoder.</param>
    /// <param name="analyze">Read the streams fully (as a probe must); a decoder of a probed file can skip it.</param>
    public static MediaReader Open(string path, int decoderThreads, bool analyze = false)
    {
        var error = stackalloc byte[512];
        var code = AvNative.Open(path, decoderThreads, analyze ? 1 : 0, out var handle, out var info, error, 512);
        if (code < 0)
        {
            throw new MediaException(Marshal.PtrToStringUTF8((nint)error) ?? AvNative.Describe(code));
        }
        return new MediaReader(handle, info) { Path = path };
    }

    /// <summary>Reads the next video packet; false at the end of the file.</summary>
    /// <exception cref="MediaException">The container cannot be read further.</exception>
    public bool ReadPacket(out PacketInfo packet)
    {
        var code = AvNative.ReadPacket(_handle, out var pts, out var dts, out var duration, out var flags);
        if (code == AvNative.Eof)
        {
            packet = default;
            return false;
        }
        if (code < 0)
        {
            throw new MediaException($"cannot read the container: {AvNative.Describe(code)}");
        }
        packet = new PacketInfo(pts == long.MinValue ? null : pts, dts == long.MinValue ? null : dts, duration, flags);
        return true;
    }

    /// <summary>Sends the packet last read; returns false when the decoder rejected it as invalid data.</summary>
    public bool SendPacket(bool skipNonReference)
    {
        var code = AvNative.SendPacket(_handle, skipNonReference ? 1 : 0);
        if (code == AvNative.Again)
        {
            throw new InvalidOperationException("The decoder must be drained before it takes another packet.");
        }
        return code >= 0;
    }

    public void SendEndOfStream() => AvNative.SendEof(_handle);

    /// <summary>Receives the next decoded frame; valid until the next call on this reader.</summary>
    public FrameStatus ReceiveFrame(out AvNative.Frame frame)
    {
        var code = AvNative.ReceiveFrame(_handle, out frame);
        return code switch
        {
            AvNative.Ok => FrameStatus.Frame,
            AvNative.Again => FrameStatus.NeedsInput,
            AvNative.Eof => FrameStatus.Drained,
            _ => FrameStatus.Error,
        };
    }

    public bool Seek(long timestamp) => AvNative.Seek(_handle, timestamp) >= 0;

    /// <summary>Converts (and scales) the last received frame into a picture of the destination's size and layout.</summary>
    /// <param name="fast">Bilinear, without exact rounding: for analysis, not for images people keep.</param>
    public void Convert(FrameImage destination, bool fast = false)
    {
        var planes = stackalloc byte*[4];
        var strides = stackalloc int[4];
        destination.Describe(planes, strides);
        var code = AvNative.Convert(_handle, destination.AvPixelFormat, destination.Width, destination.Height, planes, strides, fast ? 1 : 0);
        destination.VerifyGuard("libswscale");
        if (code < 0)
        {
            throw new MediaException($"cannot convert the frame: {AvNative.Describe(code)}");
        }
    }

    public void Dispose()
    {
        if (_handle != 0)
        {
            AvNative.Close(_handle);
            _handle = 0;
        }
    }
}

internal enum FrameStatus
{
    Frame,
    NeedsInput,
    Drained,
    Error,
}

internal readonly record struct PacketInfo(long? Pts, long? Dts, long Duration, int Flags)
{
    public bool IsKey => (Flags & AvNative.PacketKey) != 0;

    public bool IsCorrupt => (Flags & AvNative.PacketCorrupt) != 0;

    public bool IsDiscarded => (Flags & AvNative.PacketDiscard) != 0;
}

/// <summary>A file that cannot be read as video, with a one-line reason.</summary>
public sealed class MediaException : Exception
{
    public MediaException(string message)
        : base(message)
    {
    }

    public MediaException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public MediaException()
    {
    }
}
