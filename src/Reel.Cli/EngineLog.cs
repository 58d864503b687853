using System.Globalization;
using System.Runtime.InteropServices;

namespace Reel.Cli;

/// <summary>
/// <c>logs/engine.log</c> of a background engine, kept to a size: once it reaches <see cref="MaxBytes"/> it becomes
/// <c>engine.log.1</c> (older generations move up to <c>engine.log.3</c>; the oldest is dropped) and a new log starts.
/// Checked when a command starts an engine and, in the engine, every <see cref="CheckInterval"/>.
/// </summary>
internal static partial class EngineLog
{
    /// <summary>Set for the engine a command starts: the file its stdout and stderr are appended to.</summary>
    public const string PathVariable = "REEL_ENGINE_LOG";

    /// <summary>Overrides <see cref="DefaultMaxBytes"/> (tests use a small cap).</summary>
    public const string MaxBytesVariable = "REEL_ENGINE_LOG_MAX_BYTES";

    public const long DefaultMaxBytes = 10L * 1024 * 1024;

    /// <summary>Rotated generations kept beside the current log.</summary>
    public const int Generations = 3;

    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(10);

    public static long MaxBytes =>
        long.TryParse(Environment.GetEnvironmentVariable(MaxBytesVariable), NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) && bytes > 0
            ? bytes
            : DefaultMaxBytes;

    /// <summary>Shifts the generations when <paramref name="path"/> has reached <paramref name="maxBytes"/>; true if it did.</summary>
    public static bool RotateIfFull(string path, long maxBytes)
    {
        try
        {
            var log = new FileInfo(path);
            if (!log.Exists || log.Length < maxBytes)
            {
                return false;
            }
            File.Delete(Generation(path, Generations));
            for (var i = Generations - 1; i >= 1; i--)
            {
                if (File.Exists(Generation(path, i)))
                {
                    File.Move(Generation(path, i), Generation(path, i + 1), overwrite: true);
                }
            }
            File.Move(path, Generation(path, 1), overwrite: true);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Another process rotated it meanwhile, or the disk refuses: a log is never worth failing a command.
            return false;
        }
    }

    /// <summary>
    /// In an engine whose stdout and stderr go to <paramref name="path"/>: rotates the log when full and points
    /// file descriptors 1 and 2 (where .NET, native libraries and Orleans all write) at the new one. Runs until cancelled.
    /// </summary>
    public static async Task KeepRotatedAsync(string path, long maxBytes, TimeProvider time, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(CheckInterval, time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (RotateIfFull(path, maxBytes))
                {
                    Reopen(path);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The engine stopped.
        }
    }

    private static string Generation(string path, int generation) => path + "." + generation.ToString(CultureInfo.InvariantCulture);

    private static void Reopen(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        Console.Out.Flush();
        Console.Error.Flush();
        try
        {
            using var log = File.OpenHandle(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            var fd = (int)log.DangerousGetHandle();
            // Should dup2 fail, the engine keeps writing to the renamed generation, as it would without rotation.
            _ = Dup2(fd, 1);
            _ = Dup2(fd, 2);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // As above: it keeps writing where it did.
        }
    }

    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    private static partial int Dup2(int oldFd, int newFd);
}
