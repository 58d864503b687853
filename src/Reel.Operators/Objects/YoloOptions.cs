namespace Reel.Operators.Objects;

/// <summary>Settings of the <c>objects</c> model, a YOLO-family detector exported to ONNX.</summary>
public sealed record YoloOptions
{
    /// <summary>
    /// The ONNX file: YOLOv5 (output [1, N, 5+C]) or YOLOv8/YOLO11 (output [1, 4+C, N]), one float32 NCHW RGB input.
    /// The input size is read from the model ([1, 3, 640, 640]); 640 where it is dynamic.
    /// </summary>
    public required string ModelPath { get; init; }

    /// <summary>Lowest score kept, 0..1 (YOLOv5: objectness × class score; YOLOv8: class score). Default 0.25.</summary>
    public float Confidence { get; init; } = 0.25f;

    /// <summary>Overlap (intersection over union) above which the lower-scored of two same-class boxes is dropped. Default 0.45.</summary>
    public float Iou { get; init; } = 0.45f;

    /// <summary>Class names, one per line in the model's class order; null uses the 80 COCO classes.</summary>
    public string? LabelsPath { get; init; }

    /// <summary>Most detections returned per frame, best first. Default 300.</summary>
    public int MaxDetections { get; init; } = 300;

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(ModelPath, nameof(ModelPath));
        if (!(Confidence is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Confidence), Confidence, "Confidence must be between 0 and 1.");
        }
        if (!(Iou is >= 0 and <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(Iou), Iou, "Iou must be between 0 and 1.");
        }
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxDetections, nameof(MaxDetections));
    }
}
