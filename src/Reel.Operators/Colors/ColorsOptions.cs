namespace Reel.Operators.Colors;

/// <summary>Settings of the colors model.</summary>
public sealed record ColorsOptions
{
    /// <summary>How many dominant colors to find, 1 to 32; default 5. A frame with fewer distinct colors gets fewer.</summary>
    public int K { get; init; } = 5;

    /// <summary>
    /// Longer side, in pixels, of the downscaled copy whose pixels are clustered; default 64 (64×36 = 2,304 pixels for
    /// 16:9). Larger is slower and barely changes the answer: shares are fractions of the whole picture.
    /// </summary>
    public int SampleSide { get; init; } = 64;

    /// <exception cref="ArgumentOutOfRangeException">A setting is out of range.</exception>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(K, 1, nameof(K));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(K, 32, nameof(K));
        ArgumentOutOfRangeException.ThrowIfLessThan(SampleSide, 8, nameof(SampleSide));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(SampleSide, 1024, nameof(SampleSide));
    }
}
