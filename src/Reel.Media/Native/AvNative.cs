using System.Runtime.InteropServices;

namespace Reel.Media.Native;

/// <summary>P/Invoke surface of <c>reel_av.c</c>, the shim over libavformat, libavcodec and libswscale.</summary>
internal static unsafe partial class AvNative
{
    private const string Library = "reelav";

    public const int Ok = 0;
    public const int Again = 1;
    public const int Eof = 2;

    public const int PacketKey = 1;
    public const int PacketCorrupt = 2;
    public const int PacketDiscard = 4;

    /// <summary>AVCOL_RANGE_JPEG: samples use the full 0-255 range.</summary>
    public const int ColorRangeFull = 2;

    [StructLayout(LayoutKind.Sequential)]
    public struct VideoInfo
    {
        public int StreamIndex;
        public int Width;
        public int Height;
        public int PixelFormat;
        public int TimeBaseNum;
        public int TimeBaseDen;
        public int RateNum;
        public int RateDen;
        public long StreamStart;
        public long FormatStartMicroseconds;
        public long DurationMicroseconds;
        public long DeclaredFrames;
        public int Reorders;
        public int Rotation;
        public int ColorRange;
        public int ColorSpace;
        public int AudioStreams;
        public fixed byte CodecName[32];
        public fixed byte PixelFormatName[32];
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Frame
    {
        public byte* Data0;
        public byte* Data1;
        public byte* Data2;
        public byte* Data3;
        public int Linesize0;
        public int Linesize1;
        public int Linesize2;
        public int Linesize3;
        public int Width;
        public int Height;
        public int Format;
        public int KeyFrame;
        public int ColorRange;
        public int ColorSpace;
        public int Corrupt;
        public long Pts;
    }

    [LibraryImport(Library, EntryPoint = "reel_open", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int threads, int analyze, out nint reader, out VideoInfo info, byte* error, int errorLength);

    [LibraryImport(Library, EntryPoint = "reel_close")]
    public static partial void Close(nint reader);

    [LibraryImport(Library, EntryPoint = "reel_read_packet")]
    public static partial int ReadPacket(nint reader, out long pts, out long dts, out long duration, out int flags);

    [LibraryImport(Library, EntryPoint = "reel_send_packet")]
    public static partial int SendPacket(nint reader, int skipNonReference);

    [LibraryImport(Library, EntryPoint = "reel_send_eof")]
    public static partial int SendEof(nint reader);

    [LibraryImport(Library, EntryPoint = "reel_receive_frame")]
    public static partial int ReceiveFrame(nint reader, out Frame frame);

    [LibraryImport(Library, EntryPoint = "reel_seek")]
    public static partial int Seek(nint reader, long timestamp);

    [LibraryImport(Library, EntryPoint = "reel_convert")]
    public static partial int Convert(nint reader, int pixelFormat, int width, int height, byte** data, int* linesize, int fast);

    [LibraryImport(Library, EntryPoint = "reel_encode_image", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int EncodeImage(
        string encoder, int pixelFormat, int width, int height, byte** data, int* linesize, int quality,
        out byte* output, out int outputSize, byte* error, int errorLength);

    [LibraryImport(Library, EntryPoint = "reel_image_layout")]
    public static partial long ImageLayout(int pixelFormat, int width, int height, int* linesize, long* offset);

    [LibraryImport(Library, EntryPoint = "reel_join_begin")]
    public static partial int JoinBegin(long* pts, int frameCount, long lastDuration, int timeBaseNum, int timeBaseDen, out nint joiner);

    [LibraryImport(Library, EntryPoint = "reel_join_add", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int JoinAdd(nint joiner, string piece, byte* error, int errorLength);

    [LibraryImport(Library, EntryPoint = "reel_join_write", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int JoinWrite(nint joiner, string output, byte* error, int errorLength);

    [LibraryImport(Library, EntryPoint = "reel_join_free")]
    public static partial void JoinFree(nint joiner);

    [LibraryImport(Library, EntryPoint = "reel_free")]
    public static partial void Free(void* pointer);

    [LibraryImport(Library, EntryPoint = "reel_pix_fmt", StringMarshalling = StringMarshalling.Utf8)]
    public static partial int PixelFormatId(string name);

    [LibraryImport(Library, EntryPoint = "reel_error_string")]
    private static partial void ErrorString(int code, byte* buffer, int length);

    public static string Describe(int code)
    {
        var buffer = stackalloc byte[256];
        ErrorString(code, buffer, 256);
        return Marshal.PtrToStringUTF8((nint)buffer) ?? $"error {code}";
    }
}
