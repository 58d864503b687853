using OpenCvSharp;

namespace Reel.Operators.Filters;

/// <summary>
/// Changes a frame in place. One instance serves every worker thread: <see cref="Apply"/> must be thread-safe
/// (filters keep only read-only state between frames).
/// </summary>
public interface IFrameFilter
{
    /// <summary>The filter's name as the command line spells it, e.g. "blur-faces".</summary>
    string Name { get; }

    /// <summary>Whether <see cref="Apply"/> needs the frame's faces; when no filter does, detection is skipped.</summary>
    bool NeedsFaces { get; }

    /// <param name="bgr">The upright frame, 8-bit BGR; changed in place.</param>
    /// <param name="frameIndex">The frame's position in the source, presentation order.</param>
    /// <param name="faces">Faces in <paramref name="bgr"/>, in its pixels; empty when <see cref="NeedsFaces"/> is false.</param>
    void Apply(Mat bgr, int frameIndex, IReadOnlyList<Detection> faces);
}
