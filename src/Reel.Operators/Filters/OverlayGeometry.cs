using OpenCvSharp;

namespace Reel.Operators.Filters;

/// <summary>
/// Where an overlay goes on a face: a similarity transform (scale, rotation, translation) from the overlay's
/// pixels to the frame's, as the 2×3 matrix <c>[A B C; D E F]</c>: <c>x' = A·x + B·y + C</c>, <c>y' = D·x + E·y + F</c>.
/// </summary>
public readonly record struct OverlayPlacement(double A, double B, double C, double D, double E, double F)
{
    /// <summary>The frame point an overlay point lands on.</summary>
    public Point2d Map(double x, double y) => new((A * x) + (B * y) + C, (D * x) + (E * y) + F);

    /// <summary>The transform as a 2×3 CV_64F matrix for <see cref="Cv2.WarpAffine"/>; the caller disposes it.</summary>
    public Mat ToMat()
    {
        var m = new Mat(2, 3, MatType.CV_64FC1);
        m.Set(0, 0, A);
        m.Set(0, 1, B);
        m.Set(0, 2, C);
        m.Set(1, 0, D);
        m.Set(1, 1, E);
        m.Set(1, 2, F);
        return m;
    }

    /// <summary>The same placement moved by (<paramref name="dx"/>, <paramref name="dy"/>) frame pixels.</summary>
    public OverlayPlacement Shifted(double dx, double dy) => this with { C = C + dx, F = F + dy };
}

/// <summary>Eye keypoints to overlay placement; pure, so it is tested without pictures.</summary>
public static class OverlayGeometry
{
    /// <summary>
    /// Places an overlay of <paramref name="overlayWidth"/>×<paramref name="overlayHeight"/> on a face: its centre
    /// on the eyes' midpoint, its width <paramref name="widthPerEyeDistance"/> times the distance between the eyes,
    /// its horizontal axis along the eye line (from the picture-left eye to the picture-right one).
    /// </summary>
    /// <param name="rightEye">The person's right eye (on the left of the picture for a face looking at the camera).</param>
    /// <param name="leftEye">The person's left eye.</param>
    public static OverlayPlacement Place(Point2f rightEye, Point2f leftEye, int overlayWidth, int overlayHeight, double widthPerEyeDistance)
    {
        var dx = (double)leftEye.X - rightEye.X;
        var dy = (double)leftEye.Y - rightEye.Y;
        var distance = Math.Sqrt((dx * dx) + (dy * dy));
        var scale = widthPerEyeDistance * distance / overlayWidth;
        // cos and sin of the eye line's angle, times the scale; y points down, so a positive angle turns clockwise on screen.
        var cos = distance > 0 ? scale * dx / distance : scale;
        var sin = distance > 0 ? scale * dy / distance : 0;
        var cx = (rightEye.X + (double)leftEye.X) / 2;
        var cy = (rightEye.Y + (double)leftEye.Y) / 2;
        // Pixel centres: the overlay's middle pixel lands on the eyes' midpoint (as warpAffine samples).
        var hw = (overlayWidth - 1) / 2.0;
        var hh = (overlayHeight - 1) / 2.0;
        return new OverlayPlacement(cos, -sin, cx - (cos * hw) + (sin * hh), sin, cos, cy - (sin * hw) - (cos * hh));
    }
}
