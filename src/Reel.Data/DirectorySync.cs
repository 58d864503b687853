using System.Runtime.InteropServices;

namespace Reel.Data;

/// <summary>fsync of a directory (a rename into it survives a power loss, not only a killed process), or syncfs.</summary>
internal static partial class DirectorySync
{
    private const int ReadOnly = 0;
    private const int DirectoryOnly = 0x10000; // O_DIRECTORY on Linux

    public static void Flush(string directory) => Sync(directory, Fsync, "sync directory");

    /// <summary>syncfs: every file written on the file system holding <paramref name="directory"/> reaches the disk.</summary>
    public static void FlushFileSystem(string directory) => Sync(directory, SyncFs, "sync the file system of");

    private static void Sync(string directory, Func<int, int> sync, string what)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        var fd = Open(directory, ReadOnly | DirectoryOnly);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory {directory} to sync it (errno {Marshal.GetLastPInvokeError()})");
        }
        try
        {
            if (sync(fd) != 0)
            {
                throw new IOException($"cannot {what} {directory} (errno {Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "syncfs", SetLastError = true)]
    private static partial int SyncFs(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
