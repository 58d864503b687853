using Reel.Media.Decoding;
using Reel.Media.Imaging;
using Reel.Media.Sampling;

namespace Reel.Media.Extraction;

/// <summary>What <see cref="FrameExtractor"/> writes and how hard it works.</summary>
public sealed record ExtractOptions
{
    /// <summary>Frames go to <c>OutputDirectory/&lt;video file name&gt;/&lt;index:D10&gt;.&lt;ext&gt;</c>.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>Which frames to keep; every frame by default.</summary>
    public FrameSampling Sampling { get; init; } = FrameSampling.AllFrames;

    public ImageFormat Format { get; init; } = ImageFormat.Jpeg;

    /// <summary>JPEG and WebP quality, 1-100. 90 keeps 1080p frames visually lossless (about 40 dB PSNR).</summary>
    public int Quality { get; init; } = DefaultQuality;

    /// <summary>Output width in pixels (upright); the height follows the aspect ratio unless also given.</summary>
    public int? Width { get; init; }

    /// <summary>Output height in pixels (upright); the width follows the aspect ratio unless also given.</summary>
    public int? Height { get; init; }

    /// <summary>Threads that decode and encode; defaults to the number of cores.</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>Replace frames a previous run finished; otherwise a finished video is left as it is.</summary>
    public bool Overwrite { get; init; }

    /// <summary>
    /// Only this keyframe-aligned piece of the (single) input, from <see cref="SegmentPlanner.Spread"/>: one task of a
    /// video split across machines. The folder is not cleared and no manifest is written; <see cref="FrameExtractor.WriteManifest"/>
    /// writes it once every piece is done.
    /// </summary>
    public FramePiece? Piece { get; init; }

    /// <summary>
    /// Names the source in <c>extract.json</c> by its file name and size, without its directory and modification time,
    /// so the same video gives the same bytes on any machine and in any scratch directory (pipelines).
    /// </summary>
    public bool PortableRecord { get; init; }

    /// <summary>
    /// Told each frame file's path once it is written, on the worker that wrote it; the extractor never touches the file
    /// again, so the caller may move it away at once (a pipeline stores frames while the rest are extracted).
    /// </summary>
    public Action<string>? FrameDone { get; init; }

    public const int DefaultQuality = 90;

    /// <exception cref="ArgumentException">An option is out of range.</exception>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(OutputDirectory))
        {
            throw new ArgumentException("an output directory is required");
        }
        if (Quality is < 1 or > 100)
        {
            throw new ArgumentException($"quality must be 1-100, not {Quality}");
        }
        if (Width is <= 0 || Height is <= 0)
        {
            throw new ArgumentException("width and height must be positive");
        }
        if (Workers < 1)
        {
            throw new ArgumentException($"workers must be at least 1, not {Workers}");
        }
        if (Sampling.Mode == SamplingMode.Every && Sampling.Step < 1)
        {
            throw new ArgumentException($"--every must be at least 1, not {Sampling.Step}");
        }
        if (Sampling.Mode == SamplingMode.Fps && Sampling.Fps.Numerator <= 0)
        {
            throw new ArgumentException($"fps must be positive, not {Sampling.Fps}");
        }
        if (Sampling is { Start: { } start, End: { } end } && end <= start)
        {
            throw new ArgumentException($"--end ({end}s) must come after --start ({start}s)");
        }
        if (Sampling.Start is < 0 || Sampling.End is < 0)
        {
            throw new ArgumentException("--start and --end cannot be negative");
        }
        if (Piece is { } piece && (piece.First < 0 || piece.End <= piece.First))
        {
            throw new ArgumentException($"a piece must be a non-empty frame range, not {piece}");
        }
    }

    /// <summary>Everything that shapes the output; a finished folder is reused only when this matches.</summary>
    internal string Fingerprint() =>
        $"{Sampling}; {Format.Extension()}; quality {(Format == ImageFormat.Png ? "-" : Quality)}; size {Width?.ToString() ?? "auto"}x{Height?.ToString() ?? "auto"}";
}
