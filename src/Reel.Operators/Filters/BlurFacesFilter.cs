using OpenCvSharp;

namespace Reel.Operators.Filters;

/// <summary>How <see cref="BlurFacesFilter"/> hides a face.</summary>
public enum BlurStyle
{
    /// <summary>A strong Gaussian blur (standard deviation a sixth of the face's size): a smooth smear.</summary>
    Gaussian,

    /// <summary>Large flat blocks, <see cref="BlurFacesOptions.Blocks"/> across the face.</summary>
    Pixelate,
}

/// <summary>Options of <see cref="BlurFacesFilter"/>.</summary>
public sealed record BlurFacesOptions
{
    /// <summary>How much each side of the face box grows, as a fraction of the box's size (0.2: 20% more on every side).</summary>
    public double Margin { get; init; } = 0.2;

    /// <summary>True blurs an ellipse inside the grown box (follows the head); false blurs the whole rectangle.</summary>
    public bool Elliptical { get; init; } = true;

    public BlurStyle Style { get; init; } = BlurStyle.Gaussian;

    /// <summary>Blocks across the face when pixelating.</summary>
    public int Blocks { get; init; } = 8;

    public void Validate()
    {
        if (!(Margin >= 0 && Margin <= 2))
        {
            throw new ArgumentException($"blur-faces margin must be between 0 and 2, not {Margin}");
        }
        if (Blocks is < 2 or > 64)
        {
            throw new ArgumentException($"blur-faces blocks must be between 2 and 64, not {Blocks}");
        }
    }
}

/// <summary>
/// Makes faces unrecognisable: each face box, grown by a margin, is blurred so strongly that only its average
/// colours survive (the privacy filter).
/// </summary>
public sealed class BlurFacesFilter : IFrameFilter
{
    // The blur works on a copy shrunk to this many pixels across the face: as strong as a full-size Gaussian with
    // sigma of a sixth of the face, at a cost that does not grow with the face.
    private const int SmallSide = 24;

    private readonly BlurFacesOptions _options;

    public BlurFacesFilter(BlurFacesOptions? options = null)
    {
        _options = options ?? new BlurFacesOptions();
        _options.Validate();
    }

    public string Name => "blur-faces";

    public bool NeedsFaces => true;

    public void Apply(Mat bgr, int frameIndex, IReadOnlyList<Detection> faces)
    {
        foreach (var face in faces)
        {
            var region = Grown(face.Box, _options.Margin, bgr.Width, bgr.Height);
            if (region.Width < 2 || region.Height < 2)
            {
                continue;
            }
            using var roi = new Mat(bgr, region);
            using var blurred = Blur(roi);
            if (_options.Elliptical)
            {
                using var mask = new Mat(region.Height, region.Width, MatType.CV_8UC1, Scalar.All(0));
                Cv2.Ellipse(mask, new RotatedRect(new Point2f(region.Width / 2f, region.Height / 2f), new Size2f(region.Width, region.Height), 0),
                    Scalar.All(255), -1, LineTypes.AntiAlias);
                blurred.CopyTo(roi, mask);
            }
            else
            {
                blurred.CopyTo(roi);
            }
        }
    }

    /// <summary>A face box grown by <paramref name="margin"/> of its size on every side, clipped to the picture.</summary>
    public static Rect Grown(Box box, double margin, int width, int height)
    {
        var left = (int)Math.Floor(box.X - (box.Width * margin));
        var top = (int)Math.Floor(box.Y - (box.Height * margin));
        var right = (int)Math.Ceiling(box.Right + (box.Width * margin));
        var bottom = (int)Math.Ceiling(box.Bottom + (box.Height * margin));
        left = Math.Clamp(left, 0, width);
        top = Math.Clamp(top, 0, height);
        right = Math.Clamp(right, left, width);
        bottom = Math.Clamp(bottom, top, height);
        return new Rect(left, top, right - left, bottom - top);
    }

    private Mat Blur(Mat roi)
    {
        var size = roi.Size();
        using var small = new Mat();
        var result = new Mat();
        if (_options.Style == BlurStyle.Pixelate)
        {
            var across = Math.Min(_options.Blocks, Math.Max(size.Width, size.Height));
            var scale = (double)across / Math.Max(size.Width, size.Height);
            Cv2.Resize(roi, small, new Size(Math.Max(1, (int)Math.Round(size.Width * scale)), Math.Max(1, (int)Math.Round(size.Height * scale))),
                interpolation: InterpolationFlags.Area);
            Cv2.Resize(small, result, size, interpolation: InterpolationFlags.Nearest);
            return result;
        }
        var shrink = Math.Min(1.0, (double)SmallSide / Math.Max(size.Width, size.Height));
        Cv2.Resize(roi, small, new Size(Math.Max(1, (int)Math.Round(size.Width * shrink)), Math.Max(1, (int)Math.Round(size.Height * shrink))),
            interpolation: InterpolationFlags.Area);
        // Sigma a sixth of the face, measured in the shrunk copy's pixels.
        var sigma = Math.Max(small.Width, small.Height) / 6.0;
        Cv2.GaussianBlur(small, small, new Size(0, 0), sigma, sigma, BorderTypes.Reflect101);
        Cv2.Resize(small, result, size, interpolation: InterpolationFlags.Linear);
        return result;
    }
}
