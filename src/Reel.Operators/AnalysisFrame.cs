using OpenCvSharp;
using Reel.Media.Imaging;

namespace Reel.Operators;

/// <summary>
/// One decoded, upright frame shared by every model that looks at it (models shrink it with <see cref="Thumbnail"/>
/// as they need). Owned by one worker thread; disposed after the last model has run.
/// </summary>
public sealed class AnalysisFrame : IDisposable
{
    private readonly FrameImage? _memory;

    /// <param name="bgr">The picture, 8-bit BGR, upright; the frame takes ownership.</param>
    /// <param name="index">Position in the source, presentation order.</param>
    /// <param name="time">The source's timestamp in seconds.</param>
    public AnalysisFrame(Mat bgr, int index, double time)
    {
        Bgr = bgr;
        Index = index;
        Time = time;
    }

    /// <param name="bgr">A decoded <see cref="PixelLayout.Bgr24"/> picture, upright; the frame takes ownership.</param>
    /// <param name="index">Position in the source, presentation order.</param>
    /// <param name="time">The source's timestamp in seconds.</param>
    public AnalysisFrame(FrameImage bgr, int index, double time)
        : this(PictureMats.View(bgr), index, time)
    {
        if (bgr.Layout != PixelLayout.Bgr24)
        {
            Bgr.Dispose();
            throw new ArgumentException($"expected a Bgr24 picture, got {bgr.Layout}", nameof(bgr));
        }
        _memory = bgr;
    }

    public Mat Bgr { get; }

    public int Index { get; }

    public double Time { get; }

    public int Width => Bgr.Width;

    public int Height => Bgr.Height;

    public void Dispose()
    {
        Bgr.Dispose();
        _memory?.Dispose();
    }
}
