namespace Reel.Data;

/// <summary>Paths inside a commit: absolute, '/'-separated, no empty, '.' or '..' segments; the root is "/".</summary>
public static class DataPath
{
    public const string Root = "/";

    /// <summary>"a//b/" → "/a/b"; throws <see cref="DataException"/> (Invalid) for '..' or control characters.</summary>
    public static string Normalize(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var segments = new List<string>();
        foreach (var segment in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            if (segment == ".")
            {
                continue;
            }
            if (segment == ".." || segment.Any(char.IsControl))
            {
                throw new DataException(DataErrorKind.Invalid, $"invalid path '{path}': no '..' or control characters allowed");
            }
            segments.Add(segment);
        }
        return "/" + string.Join('/', segments);
    }

    public static string Combine(string directory, string relative) =>
        Normalize(directory.TrimEnd('/') + "/" + relative.Replace('\\', '/'));

    /// <summary>True when <paramref name="path"/> is <paramref name="directory"/> itself or lies under it.</summary>
    public static bool IsUnder(string path, string directory) =>
        directory == Root || path == directory || path.StartsWith(directory + "/", StringComparison.Ordinal);

    /// <summary>"/a/b/c" → "/a", "/a/b"; the root is not included.</summary>
    public static IEnumerable<string> Ancestors(string path)
    {
        for (var i = path.IndexOf('/', 1); i > 0; i = path.IndexOf('/', i + 1))
        {
            yield return path[..i];
        }
    }
}
