namespace Reel.Operators.Motion;

/// <summary>Settings of the motion model.</summary>
public sealed record MotionOptions
{
    /// <summary>
    /// Longer side, in pixels, of the grayscale copy each frame is described by; default 192 (192×108 for 16:9, 21 KB a
    /// frame, so an hour sampled at 1 fps keeps 75 MB). On the tests' 640×360 pans it measures within 0.1 source pixel.
    /// </summary>
    public int SampleSide { get; init; } = 192;

    /// <summary>Most corners tracked from one frame to the next; default 100.</summary>
    public int MaxFeatures { get; init; } = 100;

    /// <summary>
    /// The camera counts as still when the fitted motion moves no corner of the picture by more than this fraction of the
    /// frame's longer side between two sampled frames; default 0.0005 (about 1 source pixel at 1080p, a tenth of a pixel
    /// of the copy). Measurement noise on a static, noisy, compressed 1080p clip stays under 0.04 source pixels.
    /// </summary>
    public double StillTolerance { get; init; } = 0.0005;

    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(SampleSide, 32, nameof(SampleSide));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(SampleSide, 1024, nameof(SampleSide));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxFeatures, 8, nameof(MaxFeatures));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxFeatures, 2000, nameof(MaxFeatures));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(StillTolerance, nameof(StillTolerance));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(StillTolerance, 0.1, nameof(StillTolerance));
    }
}
