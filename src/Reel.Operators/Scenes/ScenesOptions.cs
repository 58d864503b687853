namespace Reel.Operators.Scenes;

/// <summary>Settings of the scenes model; the defaults are PySceneDetect's ContentDetector's.</summary>
public sealed record ScenesOptions
{
    /// <summary>Content difference (0-255 scale) at or above which a new shot starts; default 27.</summary>
    public double Threshold { get; init; } = 27;

    /// <summary>
    /// Fewest source frames a shot lasts: a cut is only reported this many frame indices or more after the previous cut
    /// (or the first frame); default 15.
    /// </summary>
    public int MinSceneLength { get; init; } = 15;

    /// <summary>
    /// Longer side, in pixels, of the HSV copy each frame is described by; default 128 (128×72 for 16:9, 27 KB a frame).
    /// </summary>
    public int SampleSide { get; init; } = 128;

    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Threshold, nameof(Threshold));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Threshold, 255, nameof(Threshold));
        ArgumentOutOfRangeException.ThrowIfNegative(MinSceneLength, nameof(MinSceneLength));
        ArgumentOutOfRangeException.ThrowIfLessThan(SampleSide, 16, nameof(SampleSide));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(SampleSide, 1024, nameof(SampleSide));
    }
}
