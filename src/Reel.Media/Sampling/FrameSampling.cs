namespace Reel.Media.Sampling;

public enum SamplingMode
{
    /// <summary>Every frame.</summary>
    All,

    /// <summary>Every Nth frame: 0, N, 2N… counted from the first frame in the time range.</summary>
    Every,

    /// <summary>One frame per 1/N-second tick, the one FFmpeg's <c>fps</c> filter keeps.</summary>
    Fps,

    /// <summary>The frames the container marks as keyframes.</summary>
    Keyframes,
}

/// <summary>
/// Which frames of a video to keep. Selection works on timestamps alone, before anything is decoded.
/// </summary>
public sealed record FrameSampling
{
    public static FrameSampling AllFrames { get; } = new();

    public SamplingMode Mode { get; init; } = SamplingMode.All;

    /// <summary>Step for <see cref="SamplingMode.Every"/>; at least 1.</summary>
    public int Step { get; init; } = 1;

    /// <summary>Output rate for <see cref="SamplingMode.Fps"/>; positive.</summary>
    public Rational Fps { get; init; } = new(1, 1);

    /// <summary>First second to keep (inclusive), measured from the start of the file; null keeps from the start.</summary>
    public double? Start { get; init; }

    /// <summary>Second to stop before (exclusive); null keeps to the end.</summary>
    public double? End { get; init; }

    public override string ToString()
    {
        var what = Mode switch
        {
            SamplingMode.Every => $"every {Step}",
            SamplingMode.Fps => $"fps {Fps}",
            SamplingMode.Keyframes => "keyframes",
            _ => "all",
        };
        return Start is null && End is null ? what : $"{what} from {Start ?? 0}s to {(End is null ? "end" : $"{End}s")}";
    }

    /// <summary>Indices of the kept frames, ascending.</summary>
    public IReadOnlyList<int> Select(VideoSource source)
    {
        var frames = source.Frames;
        var first = 0;
        while (first < frames.Count && Start is { } start && source.RelativeSeconds(frames[first].Pts) < start - 1e-9)
        {
            first++;
        }
        var end = first;
        while (end < frames.Count && (End is not { } stop || source.RelativeSeconds(frames[end].Pts) < stop - 1e-9))
        {
            end++;
        }

        var kept = new List<int>();
        switch (Mode)
        {
            case SamplingMode.All:
                for (var i = first; i < end; i++)
                {
                    kept.Add(i);
                }
                break;
            case SamplingMode.Every:
                for (var i = first; i < end; i += Step)
                {
                    kept.Add(i);
                }
                break;
            case SamplingMode.Keyframes:
                for (var i = first; i < end; i++)
                {
                    if (frames[i].IsKeyframe)
                    {
                        kept.Add(i);
                    }
                }
                break;
            case SamplingMode.Fps:
                SelectLikeFpsFilter(source, first, end, kept);
                break;
        }
        return kept;
    }

    /// <summary>
    /// FFmpeg's fps filter (rounding "near", the default): each frame's timestamp, measured from the file's start,
    /// is rounded to the nearest output tick; the stream ends at the end of its last frame. A tick shows the last
    /// frame whose rounded time is at or before it. A frame that no tick shows is dropped; a frame that several
    /// ticks show is kept once.
    /// </summary>
    private void SelectLikeFpsFilter(VideoSource source, int first, int end, List<int> kept)
    {
        if (first >= end)
        {
            return;
        }
        var frames = source.Frames;
        var eofPts = end < frames.Count ? frames[end].Pts : source.EndPts;
        var next = Tick(source, frames[first].Pts);
        for (var i = first; i < end; i++)
        {
            var following = i + 1 < end ? Tick(source, frames[i + 1].Pts) : Tick(source, eofPts);
            if (following > next)
            {
                kept.Add(i);
                next = following;
            }
        }
    }

    private long Tick(VideoSource source, long pts)
    {
        var tb = source.TimeBase;
        var num = (Int128)(pts - source.StartPts) * tb.Numerator * Fps.Numerator;
        var den = (Int128)tb.Denominator * Fps.Denominator;
        return (long)DivideRounded(num, den);
    }

    /// <summary>num / den rounded to nearest, halves away from zero (FFmpeg's AV_ROUND_NEAR_INF); den must be positive.</summary>
    internal static Int128 DivideRounded(Int128 num, Int128 den) =>
        num >= 0 ? ((2 * num) + den) / (2 * den) : -(((-2 * num) + den) / (2 * den));
}
