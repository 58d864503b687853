using System.Runtime.InteropServices;

namespace Reel.Pipelines.Execution;

/// <summary>Hard links, so a datum's input files appear in its directory without copying the stored objects.</summary>
internal static partial class FileLinks
{
    /// <summary>Links <paramref name="target"/> to <paramref name="source"/>, or copies it where a link is impossible (another file system).</summary>
    public static void LinkOrCopy(string source, string target)
    {
        if (link(source, target) != 0)
        {
            File.Copy(source, target, overwrite: false);
        }
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int link(string oldPath, string newPath);
}
