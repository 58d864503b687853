using System.Runtime.InteropServices;

namespace Reel.Media.Native;

/// <summary>libjpeg-turbo's TurboJPEG API (Debian <c>libturbojpeg0</c>): JPEG straight from planar YUV.</summary>
internal static unsafe partial class TurboJpeg
{
    private const string Library = "libturbojpeg.so.0";

    public const int Sampling444 = 0;
    public const int Sampling422 = 1;
    public const int Sampling420 = 2;
    public const int SamplingGray = 3;
    public const int Sampling440 = 4;

    public const int FlagNoRealloc = 1024;

    [LibraryImport(Library, EntryPoint = "tjInitCompress")]
    public static partial nint InitCompress();

    [LibraryImport(Library, EntryPoint = "tjDestroy")]
    public static partial int Destroy(nint handle);

    [LibraryImport(Library, EntryPoint = "tjBufSize")]
    public static partial nuint BufferSize(int width, int height, int subsampling);

    [LibraryImport(Library, EntryPoint = "tjCompressFromYUVPlanes")]
    public static partial int CompressFromYuvPlanes(
        nint handle, byte** planes, int width, int* strides, int height, int subsampling,
        byte** jpegBuffer, nuint* jpegSize, int quality, int flags);

    [LibraryImport(Library, EntryPoint = "tjGetErrorStr2")]
    private static partial byte* ErrorString(nint handle);

    public static string LastError(nint handle) => Marshal.PtrToStringUTF8((nint)ErrorString(handle)) ?? "unknown TurboJPEG error";
}
