namespace Reel.Cluster;

/// <summary>
/// One engine per data directory: an exclusive lock on <c>engine.lock</c>, released by the OS when its holder dies,
/// so a crashed engine never blocks the next one.
/// </summary>
public sealed class EngineLock : IDisposable
{
    private readonly FileStream _file;

    private EngineLock(FileStream file) => _file = file;

    public static EngineLock? TryAcquire(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        try
        {
            return new EngineLock(new FileStream(Path.Combine(dataDirectory, "engine.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static bool IsHeld(string dataDirectory)
    {
        using var probe = TryAcquire(dataDirectory);
        return probe is null;
    }

    public void Dispose() => _file.Dispose();
}
