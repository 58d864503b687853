using System.Security.Cryptography;
using System.Text;

namespace Reel.Server.Security;

/// <summary>
/// The server's key: given with <c>--token</c>, or generated at first start and kept in the data directory, readable by
/// its owner only, so the CLI run by the same user on the same data directory finds it.
/// </summary>
public static class ServerKey
{
    /// <summary>The key file's name inside the data directory.</summary>
    public const string FileName = "server-key";

    public static string PathIn(string dataDirectory) => Path.Combine(dataDirectory, FileName);

    /// <summary>The stored key, or null when there is none (or it cannot be read by this user).</summary>
    public static string? TryRead(string dataDirectory)
    {
        try
        {
            return File.ReadAllText(PathIn(dataDirectory)).Trim() is { Length: > 0 } key ? key : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The stored key, created (256 random bits, mode 0600) when there is none yet.</summary>
    public static (string Key, bool Created) LoadOrCreate(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        var path = PathIn(dataDirectory);
        if (TryRead(dataDirectory) is { } existing)
        {
            // A key file others can read is no secret: tighten it rather than trust it silently.
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            return (existing, false);
        }
        var key = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var temporary = path + "." + Guid.NewGuid().ToString("N");
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var file = new FileStream(temporary, options))
        {
            file.Write(Encoding.ASCII.GetBytes(key + "\n"));
            file.Flush(flushToDisk: true);
        }
        try
        {
            // Two servers starting at once agree on one key: the first rename wins, the other reads it.
            File.Move(temporary, path, overwrite: false);
        }
        catch (IOException) when (TryRead(dataDirectory) is { } raced)
        {
            File.Delete(temporary);
            return (raced, false);
        }
        return (key, true);
    }

    /// <summary>SHA-256 of a key: digests of equal length make the comparison constant-time in length too.</summary>
    public static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    /// <summary>Whether <paramref name="presented"/> is the key whose digest is <paramref name="expectedDigest"/>, in constant time.</summary>
    public static bool Matches(string? presented, byte[] expectedDigest) =>
        CryptographicOperations.FixedTimeEquals(Digest(presented ?? ""), expectedDigest) & presented is { Length: > 0 };
}
