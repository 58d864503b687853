using OpenCvSharp;

namespace Reel.Operators;

/// <summary>
/// One decoded, upright frame shared by every model that looks at it. Smaller copies are made once, on demand.
/// Owned by one worker thread; disposed after the last model has run.
/// </summary>
public sealed class AnalysisFrame : IDisposable
{
    private readonly Dictionary<int, Mat> _smaller = [];

    /// <param name="bgr">The picture, 8-bit BGR, upright; the frame takes ownership.</param>
    /// <param name="index">Position in the source, presentation order.</param>
    /// <param name="time">The source's timestamp in seconds.</param>
    public AnalysisFrame(Mat bgr, int index, double time)
    {
        Bgr = bgr;
        Index = index;
        Time = time;
    }

    public Mat Bgr { get; }

    public int Index { get; }

    public double Time { get; }

    public int Width => Bgr.Width;

    public int Height => Bgr.Height;

    /// <summary>The frame shrunk so its longer side is at most <paramref name="maxSide"/> (itself when already smaller).</summary>
    public Mat Downscaled(int maxSide)
    {
        if (Math.Max(Width, Height) <= maxSide)
        {
            return Bgr;
        }
        if (!_smaller.TryGetValue(maxSide, out var small))
        {
            small = new Mat();
            Thumbnail.Shrink(Bgr, maxSide, small);
            _smaller[maxSide] = small;
        }
        return small;
    }

    public void Dispose()
    {
        foreach (var mat in _smaller.Values)
        {
            mat.Dispose();
        }
        _smaller.Clear();
        Bgr.Dispose();
    }
}
