using OpenCvSharp;

namespace Reel.Operators.Filters;

/// <summary>Options of <see cref="OverlayFilter"/>.</summary>
public sealed record OverlayOptions
{
    /// <summary>PNG files with alpha; with several, frame N shows image N modulo their count.</summary>
    public required IReadOnlyList<string> Images { get; init; }

    /// <summary>
    /// The overlay's width as a multiple of the distance between the eyes. 2.2 suits glasses drawn edge to edge
    /// (the lenses' centres then sit about 0.45 of the width apart).
    /// </summary>
    public double WidthPerEyeDistance { get; init; } = 2.2;

    public void Validate()
    {
        if (Images.Count == 0)
        {
            throw new ArgumentException("overlay needs at least one PNG file");
        }
        if (!(WidthPerEyeDistance > 0 && WidthPerEyeDistance <= 20))
        {
            throw new ArgumentException($"overlay width must be between 0 and 20 eye distances, not {WidthPerEyeDistance}");
        }
    }
}

/// <summary>
/// Draws a picture with alpha (glasses, a hat) on every face, anchored on the eyes: scaled to the eye distance,
/// turned with the eye line, centred between the eyes, blended by its alpha.
/// </summary>
public sealed class OverlayFilter : IFrameFilter, IDisposable
{
    private readonly OverlayOptions _options;
    private readonly Mat[] _images;

    /// <exception cref="ArgumentException">A file is missing or is not an image.</exception>
    public OverlayFilter(OverlayOptions options)
    {
        options.Validate();
        _options = options;
        _images = options.Images.Select(Load).ToArray();
    }

    public string Name => "overlay";

    public bool NeedsFaces => true;

    public void Apply(Mat bgr, int frameIndex, IReadOnlyList<Detection> faces)
    {
        var image = _images[frameIndex % _images.Length];
        foreach (var face in faces)
        {
            var rightEye = face.Keypoints?.FirstOrDefault(k => k.Name == "right_eye");
            var leftEye = face.Keypoints?.FirstOrDefault(k => k.Name == "left_eye");
            if (rightEye?.Name is null || leftEye?.Name is null)
            {
                continue;
            }
            var placement = OverlayGeometry.Place(
                new Point2f(rightEye.Value.X, rightEye.Value.Y), new Point2f(leftEye.Value.X, leftEye.Value.Y),
                image.Width, image.Height, _options.WidthPerEyeDistance);
            Blend(bgr, image, placement);
        }
    }

    /// <summary>Warps a BGRA picture by <paramref name="placement"/> and blends it onto <paramref name="bgr"/> by its alpha.</summary>
    public static void Blend(Mat bgr, Mat bgra, OverlayPlacement placement)
    {
        // Warp only into the part of the frame the overlay covers.
        Point2d[] corners = [placement.Map(0, 0), placement.Map(bgra.Width, 0), placement.Map(0, bgra.Height), placement.Map(bgra.Width, bgra.Height)];
        var left = Math.Max(0, (int)Math.Floor(corners.Min(c => c.X)));
        var top = Math.Max(0, (int)Math.Floor(corners.Min(c => c.Y)));
        var right = Math.Min(bgr.Width, (int)Math.Ceiling(corners.Max(c => c.X)));
        var bottom = Math.Min(bgr.Height, (int)Math.Ceiling(corners.Max(c => c.Y)));
        if (right - left < 1 || bottom - top < 1)
        {
            return;
        }
        var region = new Rect(left, top, right - left, bottom - top);
        using var matrix = placement.Shifted(-left, -top).ToMat();
        using var warped = new Mat();
        Cv2.WarpAffine(bgra, warped, matrix, region.Size, InterpolationFlags.Linear, BorderTypes.Constant, Scalar.All(0));
        using var roi = new Mat(bgr, region);
        BlendInto(roi, warped);
    }

    private static unsafe void BlendInto(Mat roi, Mat bgra)
    {
        var height = roi.Height;
        var width = roi.Width;
        for (var y = 0; y < height; y++)
        {
            var dst = (byte*)roi.Ptr(y);
            var src = (byte*)bgra.Ptr(y);
            for (var x = 0; x < width; x++)
            {
                int alpha = src[(4 * x) + 3];
                if (alpha == 0)
                {
                    continue;
                }
                for (var c = 0; c < 3; c++)
                {
                    var d = dst + (3 * x) + c;
                    *d = (byte)(((src[(4 * x) + c] * alpha) + (*d * (255 - alpha)) + 127) / 255);
                }
            }
        }
    }

    private static Mat Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new ArgumentException($"overlay image not found: {path}");
        }
        var image = Cv2.ImRead(path, ImreadModes.Unchanged);
        if (image.Empty())
        {
            image.Dispose();
            throw new ArgumentException($"overlay image cannot be read: {path}");
        }
        if (image.Depth() != MatType.CV_8U)
        {
            // 16-bit PNGs: down to 8 bits per channel.
            var eight = new Mat();
            image.ConvertTo(eight, MatType.MakeType(MatType.CV_8U, image.Channels()), 1.0 / 257);
            image.Dispose();
            image = eight;
        }
        if (image.Channels() == 4)
        {
            return image;
        }
        var bgra = new Mat();
        Cv2.CvtColor(image, bgra, image.Channels() == 1 ? ColorConversionCodes.GRAY2BGRA : ColorConversionCodes.BGR2BGRA);
        image.Dispose();
        return bgra;
    }

    public void Dispose()
    {
        foreach (var image in _images)
        {
            image.Dispose();
        }
    }
}
