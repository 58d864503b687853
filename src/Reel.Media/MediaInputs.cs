namespace Reel.Media;

/// <summary>Turns what a user typed (files, directories, globs) into the list of files to process.</summary>
public static class MediaInputs
{
    private static readonly HashSet<string> VideoExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ogv", ".ogg", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
        ".flv", ".wmv", ".3gp", ".y4m", ".nut", ".mxf", ".gif", ".h264", ".264", ".hevc", ".h265", ".ivf",
    };

    private static readonly HashSet<string> ImageExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff",
    };

    /// <summary>True for the still-image file types Reel reads as one-frame inputs.</summary>
    public static bool IsImage(string path) => ImageExtensions.Contains(Path.GetExtension(path));

    /// <summary>
    /// A file stands for itself (even a missing one, so it is reported by name); a directory for the videos
    /// directly in it, by name; a pattern with * or ? in its last part for the files it matches.
    /// </summary>
    /// <param name="inputs">What the user typed.</param>
    /// <param name="includeImages">Directories also yield still images (for analysis).</param>
    /// <returns>The files, and a reason for each input that named nothing.</returns>
    public static (IReadOnlyList<string> Files, IReadOnlyList<string> Errors) Expand(IEnumerable<string> inputs, bool includeImages = false)
    {
        var files = new List<string>();
        var errors = new List<string>();
        foreach (var input in inputs)
        {
            if (Directory.Exists(input))
            {
                var videos = Directory.EnumerateFiles(input)
                    .Where(f => (VideoExtensions.Contains(Path.GetExtension(f)) || (includeImages && IsImage(f)))
                        && !Path.GetFileName(f).StartsWith('.'))
                    .Order(StringComparer.Ordinal)
                    .ToList();
                if (videos.Count == 0)
                {
                    errors.Add($"{input}: no {(includeImages ? "video or image" : "video")} files in this directory");
                }
                files.AddRange(videos);
            }
            else if (!File.Exists(input) && Path.GetFileName(input).IndexOfAny(['*', '?']) >= 0)
            {
                var directory = Path.GetDirectoryName(input) is { Length: > 0 } d ? d : ".";
                var matches = Directory.Exists(directory)
                    ? Directory.EnumerateFiles(directory, Path.GetFileName(input)).Order(StringComparer.Ordinal).ToList()
                    : [];
                if (matches.Count == 0)
                {
                    errors.Add($"{input}: matches no files");
                }
                files.AddRange(matches);
            }
            else
            {
                files.Add(input);
            }
        }
        return (files, errors);
    }
}
