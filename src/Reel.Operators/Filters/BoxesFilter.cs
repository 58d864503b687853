using System.Globalization;
using OpenCvSharp;

namespace Reel.Operators.Filters;

/// <summary>Options of <see cref="BoxesFilter"/>.</summary>
public sealed record BoxesOptions
{
    /// <summary>Box and label colour, BGR.</summary>
    public Scalar Color { get; init; } = new(0, 255, 0);

    /// <summary>Whether to mark the keypoints (eyes, nose, mouth, ears) with small dots.</summary>
    public bool Keypoints { get; init; } = true;

    /// <summary>Whether to write each detection's label before its score ("person 0.91"), for detections other than faces.</summary>
    public bool Labels { get; init; }
}

/// <summary>Draws each face's (or detection's) box with its score, and its keypoints as small dots.</summary>
public sealed class BoxesFilter(BoxesOptions? options = null) : IFrameFilter
{
    private readonly BoxesOptions _options = options ?? new BoxesOptions();

    public string Name => "boxes";

    public bool NeedsFaces => true;

    public void Apply(Mat bgr, int frameIndex, IReadOnlyList<Detection> faces)
    {
        // Lines and text scale with the picture so they stay visible at 4K and do not swamp 360p.
        var unit = Math.Max(1, Math.Min(bgr.Width, bgr.Height) / 360);
        foreach (var face in faces)
        {
            var box = new Rect((int)Math.Round(face.Box.X), (int)Math.Round(face.Box.Y), (int)Math.Round(face.Box.Width), (int)Math.Round(face.Box.Height));
            Cv2.Rectangle(bgr, box, _options.Color, unit, LineTypes.AntiAlias);
            var score = face.Score.ToString("0.00", CultureInfo.InvariantCulture);
            var label = _options.Labels ? $"{face.Label} {score}" : score;
            var scale = 0.5 * unit;
            var textSize = Cv2.GetTextSize(label, HersheyFonts.HersheySimplex, scale, unit, out var baseline);
            var top = box.Y - textSize.Height - baseline - unit >= 0 ? box.Y - unit : box.Y + textSize.Height + unit;
            Cv2.PutText(bgr, label, new Point(box.X, top - baseline), HersheyFonts.HersheySimplex, scale, _options.Color, unit, LineTypes.AntiAlias);
            if (_options.Keypoints && face.Keypoints is { } points)
            {
                foreach (var point in points)
                {
                    Cv2.Circle(bgr, new Point((int)Math.Round(point.X), (int)Math.Round(point.Y)), 2 * unit, _options.Color, -1, LineTypes.AntiAlias);
                }
            }
        }
    }
}
