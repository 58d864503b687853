namespace Reel.Data;

/// <summary>
/// One writer per data directory at a time, across processes (an exclusive lock on <c>write.lock</c>, which
/// the OS releases when the holder dies). Whoever holds it knows every unfinished commit is abandoned.
/// </summary>
internal sealed class WriteLock : IDisposable
{
    private readonly FileStream _file;

    private WriteLock(FileStream file) => _file = file;

    public static WriteLock? TryAcquire(string path)
    {
        try
        {
            return new WriteLock(new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static async Task<WriteLock> AcquireAsync(string path, TimeSpan wait, TimeProvider time, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        while (true)
        {
            if (TryAcquire(path) is { } acquired)
            {
                return acquired;
            }
            if (time.GetElapsedTime(started) >= wait)
            {
                throw new DataException(DataErrorKind.Busy, $"another reel process is writing to {Path.GetDirectoryName(path)}; try again later");
            }
            await Task.Delay(TimeSpan.FromMilliseconds(50), time, cancellationToken);
        }
    }

    public void Dispose() => _file.Dispose();
}
