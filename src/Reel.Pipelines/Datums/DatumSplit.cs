using Reel.Media;
using Reel.Pipelines.Specs;

namespace Reel.Pipelines.Datums;

/// <summary>
/// When a datum runs as several tasks on several machines. A datum splits when it is one video, the pipeline's
/// transform is one <c>extract</c>, <c>analyze</c> or <c>render</c> step (<see cref="ISplittableStep"/>), and the video is long enough: it is cut into
/// <c>min(free slots of the cluster, duration / <see cref="MinPieceSeconds"/>)</c> keyframe-aligned pieces of about equal
/// decoding work, so every free slot gets a piece but no piece is shorter than <see cref="MinPieceSeconds"/> of video
/// (a piece then costs far more than the probe and the merge it adds). Everything else is one task.
/// </summary>
public static class DatumSplit
{
    /// <summary>The least video, in seconds, a piece is worth.</summary>
    public const double MinPieceSeconds = 20;

    /// <summary>The step that can run the datum in pieces, or null when it runs whole.</summary>
    public static ISplittableStep? SplittableStep(PipelineSpec spec, Datum datum) =>
        spec.Transform.Steps is [ISplittableStep step] && datum.Files is [var file] && !MediaInputs.IsImage(file.Path) ? step : null;

    /// <summary>How many tasks a video of <paramref name="seconds"/> is worth with <paramref name="slots"/> free slots in the cluster.</summary>
    public static int Tasks(double seconds, int slots) =>
        Math.Max(1, Math.Min(slots, (int)Math.Floor(seconds / MinPieceSeconds)));
}
