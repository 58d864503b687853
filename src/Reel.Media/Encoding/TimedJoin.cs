using System.Runtime.InteropServices;
using Reel.Media.Native;

namespace Reel.Media.Encoding;

/// <summary>
/// Joins pieces of encoded video (each encoded at a constant rate from raw frames, which carry no timestamps) into one
/// video-only file without re-encoding, giving every frame the source's own presentation time. A variable-frame-rate
/// source keeps each frame's time, so its audio stays in sync.
/// </summary>
public static class TimedJoin
{
    /// <summary>Joins <paramref name="pieces"/> in order into <paramref name="output"/> (container from its extension).</summary>
    /// <param name="source">The video whose frames, in order, the pieces hold.</param>
    /// <exception cref="MediaException">A piece cannot be read, or the pieces do not hold exactly the source's frames.</exception>
    public static unsafe void Join(VideoSource source, IReadOnlyList<string> pieces, string output)
    {
        var (timestamps, lastDuration) = Timing(source);
        var error = stackalloc byte[512];
        nint joiner;
        fixed (long* pts = timestamps)
        {
            Check(AvNative.JoinBegin(pts, timestamps.Length, lastDuration, checked((int)source.TimeBase.Numerator),
                checked((int)source.TimeBase.Denominator), out joiner), null);
        }
        try
        {
            foreach (var piece in pieces)
            {
                Check(AvNative.JoinAdd(joiner, piece, error, 512), error);
            }
            Check(AvNative.JoinWrite(joiner, output, error, 512), error);
        }
        finally
        {
            AvNative.JoinFree(joiner);
        }
    }

    /// <summary>
    /// Each frame's time from the first frame's, strictly increasing (a repeated timestamp, as damaged files have, moves
    /// one tick on), and how long the last frame shows.
    /// </summary>
    internal static (long[] Timestamps, long LastDuration) Timing(VideoSource source)
    {
        var frames = source.Frames;
        var timestamps = new long[frames.Count];
        for (var i = 0; i < frames.Count; i++)
        {
            var relative = frames[i].Pts - frames[0].Pts;
            timestamps[i] = i == 0 ? 0 : Math.Max(relative, timestamps[i - 1] + 1);
        }
        var nominal = Math.Max(1, (long)Math.Round(1.0 / source.FrameRate.Value / source.TimeBase.Value));
        var last = source.EndPts - frames[^1].Pts;
        return (timestamps, last > 0 ? last : nominal);
    }

    private static unsafe void Check(int code, byte* error)
    {
        if (code < 0)
        {
            var reason = error is null ? null : Marshal.PtrToStringUTF8((nint)error);
            throw new MediaException(string.IsNullOrEmpty(reason) ? AvNative.Describe(code) : reason);
        }
    }
}
