namespace Reel.Operators.Objects;

/// <summary>
/// Settings of the bundled <c>objects</c> model: CenterNet with a MobileNetV3 backbone trained on COCO's 80 classes,
/// from the npm package <c>@vladmandic/human</c> (<c>centernet.json</c>, TensorFlow.js, exported for a 512 × 512 RGB
/// input; Reel runs it at the frame's shape, 640 pixels on the longer side).
/// </summary>
public sealed record CenterNetOptions
{
    /// <summary>The TensorFlow.js <c>model.json</c>; null uses the installed <c>centernet.json</c>.</summary>
    public string? ModelPath { get; init; }

    /// <summary>
    /// Lowest score kept, 0..1 (the class heatmap's value at the object's centre). Default 0.25: on samsungfun.mp4 at
    /// 5 s it keeps the three people (0.62, 0.61, 0.38; also a cup and a wine glass at 0.33 and 0.31, the phone scores
    /// under it); on team.jpg it keeps 13 of the 15 people (scores 0.29-0.71).
    /// </summary>
    public float Confidence { get; init; } = 0.25f;

    /// <summary>
    /// Overlap (intersection over union) above which the lower-scored of two same-class boxes is dropped. CenterNet
    /// already keeps only local maxima of its heatmap; this removes the few doubles a large object leaves. Default 0.4.
    /// </summary>
    public float Iou { get; init; } = 0.4f;

    /// <summary>Most detections per frame, best first; at most 100 (the heatmap peaks the model's own decoder keeps). Default 100.</summary>
    public int MaxDetections { get; init; } = 100;

    internal void Validate()
    {
        if (!(Confidence is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Confidence), Confidence, "Confidence must be between 0 and 1.");
        }
        if (!(Iou is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Iou), Iou, "Iou must be between 0 and 1.");
        }
        if (MaxDetections is < 1 or > CenterNetDetector.TopK)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDetections), MaxDetections, $"MaxDetections must be between 1 and {CenterNetDetector.TopK}.");
        }
    }
}
