using System.Runtime.InteropServices;

namespace Reel.Pipelines.Execution;

/// <summary>How a datum's input files appear in its directory.</summary>
public static partial class FileLinks
{
    /// <summary>
    /// A file of the command's own: a command that writes to its input in place must not change the stored object
    /// (a hard link shares its inode, and as root file modes do not stop the write). File.Copy clones where the file
    /// system can (FICLONE) and copies in the kernel otherwise.
    /// </summary>
    public static void Copy(string source, string target) => File.Copy(source, target, overwrite: false);

    /// <summary>
    /// Links <paramref name="target"/> to <paramref name="source"/>, or copies it where a link is impossible (another
    /// file system): only for Reel's own steps, which never write to their inputs.
    /// </summary>
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
