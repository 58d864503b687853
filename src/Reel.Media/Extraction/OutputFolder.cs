using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Reel.Media.Extraction;

/// <summary>
/// The folder one video's frames go to. <c>frames.jsonl</c> is written last, by rename, so its presence means
/// the folder is complete; <c>extract.json</c> beside it says which source and settings produced it.
/// </summary>
internal sealed partial class OutputFolder
{
    public const string ManifestName = "frames.jsonl";
    public const string SettingsName = "extract.json";

    public OutputFolder(string root, string input)
    {
        Path = System.IO.Path.Combine(root, System.IO.Path.GetFileName(input));
        Input = input;
    }

    public string Path { get; }

    public string Input { get; }

    public string ManifestPath => System.IO.Path.Combine(Path, ManifestName);

    public string FramePath(int index, string extension) => System.IO.Path.Combine(Path, $"{index:D10}.{extension}");

    /// <summary>The settings a finished folder was made with, or null when the folder holds no finished extraction.</summary>
    public ExtractionRecord? ReadFinished()
    {
        if (!File.Exists(ManifestPath))
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(System.IO.Path.Combine(Path, SettingsName)), ManifestJson.Default.ExtractionRecord);
        }
        catch (Exception e) when (e is IOException or JsonException)
        {
            return new ExtractionRecord("unreadable", 0, 0, "unreadable", 0);
        }
    }

    /// <summary>Removes a previous extraction, manifest first, so a crash midway never leaves it looking finished.</summary>
    public void Clear()
    {
        if (!Directory.Exists(Path))
        {
            return;
        }
        File.Delete(ManifestPath);
        File.Delete(System.IO.Path.Combine(Path, SettingsName));
        foreach (var file in Directory.EnumerateFiles(Path))
        {
            if (FrameFileName().IsMatch(System.IO.Path.GetFileName(file)))
            {
                File.Delete(file);
            }
        }
    }

    public void Prepare() => Directory.CreateDirectory(Path);

    /// <summary>Writes the settings, then the manifest by atomic rename.</summary>
    public void Commit(ExtractionRecord record, IEnumerable<ManifestEntry> entries)
    {
        File.WriteAllText(System.IO.Path.Combine(Path, SettingsName), JsonSerializer.Serialize(record, ManifestJson.Default.ExtractionRecord));
        var temporary = ManifestPath + ".tmp";
        using (var stream = new StreamWriter(temporary, append: false, new UTF8Encoding(false)))
        {
            foreach (var entry in entries)
            {
                stream.Write(JsonSerializer.Serialize(entry, ManifestJson.Default.ManifestEntry));
                stream.Write('\n');
            }
        }
        File.Move(temporary, ManifestPath, overwrite: true);
    }

    [GeneratedRegex(@"^\d{10}\.(jpg|png|webp)$")]
    private static partial Regex FrameFileName();
}

/// <summary>One line of <c>frames.jsonl</c>: a written frame and where it sits in the source.</summary>
public sealed record ManifestEntry(
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("pts")] long Pts,
    [property: JsonPropertyName("time")] double Time,
    [property: JsonPropertyName("keyframe")] bool Keyframe,
    [property: JsonPropertyName("file")] string File);

/// <summary>The contents of <c>extract.json</c>.</summary>
public sealed record ExtractionRecord(
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("sourceBytes")] long SourceBytes,
    [property: JsonPropertyName("sourceModifiedUnixMs")] long SourceModifiedUnixMs,
    [property: JsonPropertyName("settings")] string Settings,
    [property: JsonPropertyName("frames")] int Frames);

[JsonSerializable(typeof(ManifestEntry))]
[JsonSerializable(typeof(ExtractionRecord))]
internal sealed partial class ManifestJson : JsonSerializerContext;
