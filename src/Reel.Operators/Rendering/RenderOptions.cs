using Reel.Operators.Faces;
using Reel.Operators.Filters;

namespace Reel.Operators.Rendering;

/// <summary>How <see cref="VideoRenderer"/> renders a video.</summary>
public sealed record RenderOptions
{
    /// <summary>The output file; its extension picks the container: .mp4 (also when it has none), .mov, .mkv or .ts.</summary>
    public required string Output { get; init; }

    /// <summary>Applied in order to every frame.</summary>
    public IReadOnlyList<IFrameFilter> Filters { get; init; } = [];

    /// <summary>The BlazeFace network for filters that need faces.</summary>
    public FaceModel FaceModel { get; init; } = FaceModel.ShortRange;

    /// <summary>
    /// Longer side, in pixels, of the copy faces are looked for in (results are mapped back to full size); the
    /// network sees 128 or 192 pixels anyway, so a full-size search only costs time.
    /// </summary>
    public int DetectionSize { get; init; } = 960;

    /// <summary>Segments rendered at once; each holds a decoder, a face detector and an encoder process.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>Replace an existing output file.</summary>
    public bool Overwrite { get; init; }

    /// <summary>libx264 constant rate factor (0-51, lower is better).</summary>
    public int Crf { get; init; } = 18;

    /// <summary>libx264 preset.</summary>
    public string Preset { get; init; } = "veryfast";

    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Output))
        {
            throw new ArgumentException("an output file is required");
        }
        if (Workers is < 1 or > 256)
        {
            throw new ArgumentException($"--workers must be between 1 and 256, not {Workers}");
        }
        if (DetectionSize is < 64 or > 16384)
        {
            throw new ArgumentException($"detection size must be between 64 and 16384, not {DetectionSize}");
        }
        if (Crf is < 0 or > 51)
        {
            throw new ArgumentException($"crf must be between 0 and 51, not {Crf}");
        }
        _ = Muxer(Output);
        if (Preset is not ("ultrafast" or "superfast" or "veryfast" or "faster" or "fast" or "medium" or "slow" or "slower" or "veryslow"))
        {
            throw new ArgumentException($"unknown x264 preset '{Preset}'");
        }
    }

    /// <summary>ffmpeg's muxer for an output file, by its extension (mp4 when it has none).</summary>
    /// <exception cref="ArgumentException">The extension names a container that cannot hold H.264.</exception>
    internal static string Muxer(string output) => Path.GetExtension(output).ToLowerInvariant() switch
    {
        "" or "." or ".mp4" or ".m4v" => "mp4",
        ".mov" => "mov",
        ".mkv" => "matroska",
        ".ts" => "mpegts",
        var other => throw new ArgumentException($"cannot write '{other}' files; use .mp4, .mov, .mkv or .ts"),
    };
}
