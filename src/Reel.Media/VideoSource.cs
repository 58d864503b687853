namespace Reel.Media;

/// <summary>A video as probed: its stream facts and every frame in presentation order.</summary>
public sealed record VideoSource
{
    public required string Path { get; init; }

    public required string Codec { get; init; }

    public required string PixelFormat { get; init; }

    /// <summary>Coded size, before rotation.</summary>
    public required int Width { get; init; }

    public required int Height { get; init; }

    /// <summary>Clockwise degrees (0, 90, 180, 270) that turn the coded picture upright.</summary>
    public required int Rotation { get; init; }

    public required Rational TimeBase { get; init; }

    public required Rational FrameRate { get; init; }

    public required int AudioStreams { get; init; }

    /// <summary>Where the container's timeline starts, in <see cref="TimeBase"/> units.</summary>
    public required long StartPts { get; init; }

    /// <summary>Where the last frame ends, in <see cref="TimeBase"/> units.</summary>
    public required long EndPts { get; init; }

    /// <summary>Every frame in presentation order; <see cref="SourceFrame.Index"/> is its position here.</summary>
    public required IReadOnlyList<SourceFrame> Frames { get; init; }

    /// <summary>
    /// False when the container gives no usable presentation timestamps: then frames are matched by decode
    /// position and the video is decoded as one piece.
    /// </summary>
    public required bool HasTimestamps { get; init; }

    /// <summary>Why the file could not be read to its end, or null when it was read whole.</summary>
    public string? Damage { get; init; }

    public int UprightWidth => Rotation is 90 or 270 ? Height : Width;

    public int UprightHeight => Rotation is 90 or 270 ? Width : Height;

    /// <summary>Seconds from the start of the container's timeline.</summary>
    public double RelativeSeconds(long pts) => (double)(pts - StartPts) * TimeBase.Numerator / TimeBase.Denominator;

    /// <summary>The source's own timestamp in seconds.</summary>
    public double Seconds(long pts) => (double)pts * TimeBase.Numerator / TimeBase.Denominator;
}

/// <summary>One frame of the source. <paramref name="Pts"/> identifies it; <paramref name="Dts"/> is where seeking finds it.</summary>
public readonly record struct SourceFrame(int Index, long Pts, long Dts, bool IsKeyframe);
