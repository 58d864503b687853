namespace Reel.Operators.Motion;

/// <summary>
/// Consecutive sampled frames between which the camera did not move: from <see cref="FirstFrame"/> (where it came to
/// rest) to <see cref="LastFrame"/>, with their timestamps in seconds.
/// </summary>
public readonly record struct StillStretch(int FirstFrame, int LastFrame, double StartTime, double EndTime)
{
    /// <summary>Seconds from the first frame's timestamp to the last's.</summary>
    public double Duration => EndTime - StartTime;
}
