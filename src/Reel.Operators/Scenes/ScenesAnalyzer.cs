using System.Diagnostics;
using OpenCvSharp;

namespace Reel.Operators.Scenes;

/// <summary>
/// Shot detection by content difference, as PySceneDetect's ContentDetector does it: each frame becomes the HSV of a
/// small downscaled copy (OpenCV's 8-bit HSV: hue 0-179, saturation and value 0-255); the difference between two frames
/// is the mean absolute difference of hue, of saturation and of value, averaged. A new shot starts where the difference
/// reaches <see cref="ScenesOptions.Threshold"/>, unless the current shot is still shorter than
/// <see cref="ScenesOptions.MinSceneLength"/>.
/// </summary>
/// <remarks>
/// <see cref="Compare"/> keeps where the current shot started, so it must see one video's frames in order; a call with no
/// previous frame starts a new video, whose first frame is never a cut (difference 0).
/// </remarks>
public sealed class ScenesAnalyzer : ISequenceAnalyzer
{
    public const string ModelName = "scenes";

    private int _shotStart;

    public ScenesAnalyzer(ScenesOptions? options = null)
    {
        Options = options ?? new ScenesOptions();
        Options.Validate();
    }

    public ScenesOptions Options { get; }

    public string Model => ModelName;

    public object Describe(AnalysisFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var started = Stopwatch.GetTimestamp();
        using var small = new Mat();
        Thumbnail.Shrink(frame.Bgr, Options.SampleSide, small);
        var (width, height) = (small.Width, small.Height);
        var pixels = new byte[width * height * 3];
        unsafe
        {
            fixed (byte* data = pixels)
            {
                using var hsv = Mat.FromPixelData(height, width, MatType.CV_8UC3, (nint)data);
                Cv2.CvtColor(small, hsv, ColorConversionCodes.BGR2HSV);
            }
        }
        return new ScenesDescription(pixels, width, height, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    public FrameResult Compare(object? previous, object current, int index, double time)
    {
        var started = Stopwatch.GetTimestamp();
        var now = AsDescription(current, nameof(current));
        SceneChange change;
        if (previous is null)
        {
            _shotStart = index;
            change = new SceneChange(0, false);
        }
        else
        {
            var difference = Difference(AsDescription(previous, nameof(previous)), now);
            var cut = difference >= Options.Threshold && index - _shotStart >= Options.MinSceneLength;
            if (cut)
            {
                _shotStart = index;
            }
            change = new SceneChange(difference, cut);
        }
        return new FrameResult
        {
            Frame = index,
            Time = time,
            Model = Model,
            Scene = change,
            InferenceMs = now.DescribeMs + Stopwatch.GetElapsedTime(started).TotalMilliseconds,
        };
    }

    public void WriteDescription(object description, BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var d = AsDescription(description, nameof(description));
        writer.Write(d.Width);
        writer.Write(d.Height);
        writer.Write(d.DescribeMs);
        writer.Write(d.Pixels.Length);
        writer.Write(d.Pixels);
    }

    public object ReadDescription(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var (width, height, describeMs) = (reader.ReadInt32(), reader.ReadInt32(), reader.ReadDouble());
        return new ScenesDescription(reader.ReadBytes(reader.ReadInt32()), width, height, describeMs);
    }

    private static unsafe double Difference(ScenesDescription a, ScenesDescription b)
    {
        if (a.Width != b.Width || a.Height != b.Height)
        {
            // A new picture size: nothing in common.
            return 255;
        }
        fixed (byte* pa = a.Pixels, pb = b.Pixels)
        {
            using var ma = Mat.FromPixelData(a.Height, a.Width, MatType.CV_8UC3, (nint)pa);
            using var mb = Mat.FromPixelData(b.Height, b.Width, MatType.CV_8UC3, (nint)pb);
            // L1 sums over all three channels: divided by the values, it is the average of the three channel means.
            return Cv2.Norm(ma, mb, NormTypes.L1) / a.Pixels.Length;
        }
    }

    private static ScenesDescription AsDescription(object description, string name) =>
        description as ScenesDescription
        ?? throw new ArgumentException($"expected a description made by {nameof(ScenesAnalyzer)}.{nameof(Describe)}", name);
}

/// <summary>A frame as the scenes model keeps it: the HSV copy, in managed memory.</summary>
internal sealed record ScenesDescription(byte[] Pixels, int Width, int Height, double DescribeMs);
