using System.Diagnostics;
using OpenCvSharp;

namespace Reel.Operators.Motion;

/// <summary>
/// Global camera motion between consecutive sampled frames. <see cref="Describe"/> keeps a small grayscale copy of the
/// frame and its strongest corners; <see cref="Compare"/> tracks the previous frame's corners into the current one
/// (pyramidal Lucas-Kanade) and fits a similarity transform to the tracks with RANSAC, so moving people and objects
/// are outliers rather than camera motion.
/// </summary>
/// <remarks>
/// Conventions, all describing the camera (the view), not the picture's content:
/// <list type="bullet">
/// <item><c>Dx</c>, <c>Dy</c>: where the centre of the current view lies in the previous frame, relative to the previous
/// frame's centre, in source pixels. Positive <c>Dx</c>: the camera panned right (the content moved left); positive
/// <c>Dy</c>: it tilted down (the content moved up).</item>
/// <item><c>Zoom</c>: how much larger the content appears; above 1 the camera zoomed in.</item>
/// <item><c>Rotation</c>: degrees the camera rolled counterclockwise, so the content turned clockwise on screen (as
/// ffmpeg's <c>rotate</c> filter turns it for a positive angle).</item>
/// <item><c>Confidence</c>: the fraction of the previous frame's corners that tracked and agree with the fitted motion.</item>
/// <item><c>Still</c>: the fitted motion moves no corner of the picture by more than
/// <see cref="MotionOptions.StillTolerance"/> of the frame's longer side.</item>
/// </list>
/// The first frame (no previous one) has zero motion, confidence 0 and is still. When the motion cannot be measured
/// (fewer than 8 corners, tracks or agreeing tracks, e.g. a blank picture), the result is zero motion with confidence 0,
/// still only when the two copies are nearly identical (mean absolute difference at most 2 gray levels). Frames of
/// different sizes cannot be compared: zero motion, confidence 0, not still.
/// </remarks>
public sealed class MotionAnalyzer : ISequenceAnalyzer
{
    public const string ModelName = "motion";

    private const int MinimumPoints = 8;
    private const double IdenticalMeanDifference = 2;

    // In pixels of the copy: tracks further than this from the fit are outliers.
    private const double RansacThreshold = 1.0;

    // An 11-pixel window over 4 pyramid levels follows up to about 40 pixels of the copy (a fifth of its width) between
    // two frames, at about half the cost of a 15- or 21-pixel window and as accurate on the tests' pans and zooms.
    private static readonly Size TrackingWindow = new(11, 11);
    private const int PyramidLevels = 3;

    public MotionAnalyzer(MotionOptions? options = null)
    {
        Options = options ?? new MotionOptions();
        Options.Validate();
    }

    public MotionOptions Options { get; }

    public string Model => ModelName;

    public object Describe(AnalysisFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var started = Stopwatch.GetTimestamp();
        using var small = new Mat();
        Thumbnail.Shrink(frame.Bgr, Options.SampleSide, small);
        var (width, height) = (small.Width, small.Height);
        var pixels = new byte[width * height];
        Point2f[] features;
        unsafe
        {
            fixed (byte* data = pixels)
            {
                using var gray = Mat.FromPixelData(height, width, MatType.CV_8UC1, (nint)data);
                Cv2.CvtColor(small, gray, ColorConversionCodes.BGR2GRAY);
                features = Cv2.GoodFeaturesToTrack(gray, Options.MaxFeatures, 0.01, Math.Max(3, Options.SampleSide / 32), null!, 3, false,
                    0.04);
            }
        }
        return new MotionDescription(pixels, width, height, (double)frame.Width / width, (double)frame.Height / height,
            Math.Max(frame.Width, frame.Height), features, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    public FrameResult Compare(object? previous, object current, int index, double time)
    {
        var started = Stopwatch.GetTimestamp();
        var now = AsDescription(current, nameof(current));
        var motion = previous is null ? new CameraMotion(0, 0, 1, 0, 0, true) : Estimate(AsDescription(previous, nameof(previous)), now);
        return new FrameResult
        {
            Frame = index,
            Time = time,
            Model = Model,
            Motion = motion,
            InferenceMs = now.DescribeMs + Stopwatch.GetElapsedTime(started).TotalMilliseconds,
        };
    }

    public void WriteDescription(object description, BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var d = AsDescription(description, nameof(description));
        writer.Write(d.Width);
        writer.Write(d.Height);
        writer.Write(d.ScaleX);
        writer.Write(d.ScaleY);
        writer.Write(d.SourceSide);
        writer.Write(d.DescribeMs);
        writer.Write(d.Pixels.Length);
        writer.Write(d.Pixels);
        writer.Write(d.Features.Length);
        foreach (var point in d.Features)
        {
            writer.Write(point.X);
            writer.Write(point.Y);
        }
    }

    public object ReadDescription(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var (width, height, scaleX, scaleY, side, describeMs) =
            (reader.ReadInt32(), reader.ReadInt32(), reader.ReadDouble(), reader.ReadDouble(), reader.ReadInt32(), reader.ReadDouble());
        var pixels = reader.ReadBytes(reader.ReadInt32());
        var features = new Point2f[reader.ReadInt32()];
        for (var i = 0; i < features.Length; i++)
        {
            features[i] = new Point2f(reader.ReadSingle(), reader.ReadSingle());
        }
        return new MotionDescription(pixels, width, height, scaleX, scaleY, side, features, describeMs);
    }

    /// <summary>
    /// The stretches, at least <paramref name="minimumDuration"/> long, where the camera stayed still, from a video's motion
    /// results in frame order (results of other models are ignored). A stretch starts at the frame the camera came to
    /// rest on, the one before the first still result, and holds at least two frames.
    /// </summary>
    public static IReadOnlyList<StillStretch> StillStretches(IReadOnlyList<FrameResult> results, TimeSpan minimumDuration)
    {
        ArgumentNullException.ThrowIfNull(results);
        var stretches = new List<StillStretch>();
        FrameResult? previous = null;
        FrameResult? first = null;
        foreach (var result in results)
        {
            if (result.Motion is not { } motion)
            {
                continue;
            }
            if (motion.Still)
            {
                first ??= previous ?? result;
            }
            else if (first is not null)
            {
                Add(first, previous!);
                first = null;
            }
            previous = result;
        }
        if (first is not null)
        {
            Add(first, previous!);
        }
        return stretches;

        void Add(FrameResult from, FrameResult to)
        {
            var stretch = new StillStretch(from.Frame, to.Frame, from.Time, to.Time);
            if (stretch.LastFrame > stretch.FirstFrame && stretch.Duration >= minimumDuration.TotalSeconds)
            {
                stretches.Add(stretch);
            }
        }
    }

    private unsafe CameraMotion Estimate(MotionDescription before, MotionDescription after)
    {
        if (before.Width != after.Width || before.Height != after.Height)
        {
            return new CameraMotion(0, 0, 1, 0, 0, false);
        }
        fixed (byte* a = before.Pixels, b = after.Pixels)
        {
            using var previous = Mat.FromPixelData(before.Height, before.Width, MatType.CV_8UC1, (nint)a);
            using var current = Mat.FromPixelData(after.Height, after.Width, MatType.CV_8UC1, (nint)b);
            return Track(before, previous, current) ?? Unmeasured(previous, current);
        }
    }

    private CameraMotion? Track(MotionDescription before, Mat previous, Mat current)
    {
        if (before.Features.Length < MinimumPoints)
        {
            return null;
        }
        var tracked = Array.Empty<Point2f>();
        Cv2.CalcOpticalFlowPyrLK(previous, current, before.Features, ref tracked, out var status, out _, TrackingWindow, PyramidLevels);
        if (status is null)
        {
            return null;
        }
        var from = new List<Point2f>(tracked.Length);
        var to = new List<Point2f>(tracked.Length);
        for (var i = 0; i < tracked.Length; i++)
        {
            if (status[i] != 0)
            {
                from.Add(before.Features[i]);
                to.Add(tracked[i]);
            }
        }
        if (from.Count < MinimumPoints)
        {
            return null;
        }

        // RANSAC only picks the tracks that agree; the fit itself is the least-squares one over them. Two tracks make a
        // sample, so 500 draws still find the motion when only one track in seven agrees with it.
        using var inliers = new Mat();
        using var fit = Cv2.EstimateAffinePartial2D(InputArray.Create(from), InputArray.Create(to), inliers,
            RobustEstimationAlgorithms.RANSAC, RansacThreshold, 500, 0.99, 0);
        if (fit is null || fit.Empty() || inliers.Empty())
        {
            return null;
        }
        var agree = inliers.AsSpan<byte>();
        var agreeing = agree.Length - agree.Count((byte)0);
        if (agreeing < MinimumPoints || FitSimilarity(from, to, agree) is not { } similarity)
        {
            return null;
        }
        var (ca, cb, tx, ty) = similarity;

        var scale2 = (ca * ca) + (cb * cb);
        var (cx, cy) = ((before.Width - 1) / 2.0, (before.Height - 1) / 2.0);

        // The view's centre seen in the previous frame: A⁻¹·(c - t) - c.
        var (ux, uy) = (cx - tx, cy - ty);
        var dx = (((ca * ux) + (cb * uy)) / scale2) - cx;
        var dy = (((-cb * ux) + (ca * uy)) / scale2) - cy;

        // How far the content at each corner of the picture moved, in source pixels: (A - I)·p + t.
        var largest = 0.0;
        var (right, bottom) = (before.Width - 1.0, before.Height - 1.0);
        foreach (var (px, py) in new[] { (0.0, 0.0), (right, 0.0), (0.0, bottom), (right, bottom) })
        {
            var mx = (((ca - 1) * px) - (cb * py) + tx) * before.ScaleX;
            var my = ((cb * px) + ((ca - 1) * py) + ty) * before.ScaleY;
            largest = Math.Max(largest, Math.Sqrt((mx * mx) + (my * my)));
        }

        return new CameraMotion(
            dx * before.ScaleX,
            dy * before.ScaleY,
            Math.Sqrt(scale2),
            Math.Atan2(cb, ca) * 180 / Math.PI,
            (double)agreeing / before.Features.Length,
            largest <= Options.StillTolerance * before.SourceSide);
    }

    /// <summary>
    /// The least-squares similarity q = A·p + t over the marked pairs, A = [[a, -b], [b, a]]: closed-form, and cheaper
    /// than OpenCV's iterative refinement of the same fit. Null when the points do not spread.
    /// </summary>
    private static (double A, double B, double Tx, double Ty)? FitSimilarity(List<Point2f> from, List<Point2f> to, ReadOnlySpan<byte> use)
    {
        var (n, fx, fy, gx, gy) = (0, 0.0, 0.0, 0.0, 0.0);
        for (var i = 0; i < use.Length; i++)
        {
            if (use[i] != 0)
            {
                (n, fx, fy, gx, gy) = (n + 1, fx + from[i].X, fy + from[i].Y, gx + to[i].X, gy + to[i].Y);
            }
        }
        (fx, fy, gx, gy) = (fx / n, fy / n, gx / n, gy / n);
        var (spread, dot, cross) = (0.0, 0.0, 0.0);
        for (var i = 0; i < use.Length; i++)
        {
            if (use[i] != 0)
            {
                var (px, py, qx, qy) = (from[i].X - fx, from[i].Y - fy, to[i].X - gx, to[i].Y - gy);
                spread += (px * px) + (py * py);
                dot += (px * qx) + (py * qy);
                cross += (px * qy) - (py * qx);
            }
        }
        if (spread <= 0)
        {
            return null;
        }
        var (a, b) = (dot / spread, cross / spread);
        return (a, b, gx - ((a * fx) - (b * fy)), gy - ((b * fx) + (a * fy)));
    }

    private static CameraMotion Unmeasured(Mat previous, Mat current)
    {
        var meanDifference = Cv2.Norm(previous, current, NormTypes.L1) / ((double)previous.Width * previous.Height);
        return new CameraMotion(0, 0, 1, 0, 0, meanDifference <= IdenticalMeanDifference);
    }

    private static MotionDescription AsDescription(object description, string name) =>
        description as MotionDescription
        ?? throw new ArgumentException($"expected a description made by {nameof(MotionAnalyzer)}.{nameof(Describe)}", name);
}

/// <summary>
/// A frame as the motion model keeps it: its grayscale copy (in managed memory, so the garbage collector sees its real
/// size and nothing needs disposing), the source pixels per copy pixel, and the corners to track from it.
/// </summary>
internal sealed record MotionDescription(
    byte[] Pixels,
    int Width,
    int Height,
    double ScaleX,
    double ScaleY,
    int SourceSide,
    Point2f[] Features,
    double DescribeMs);
