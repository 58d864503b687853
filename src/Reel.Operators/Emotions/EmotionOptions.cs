namespace Reel.Operators.Emotions;

/// <summary>
/// Settings of the <c>emotions</c> model, a face-crop classifier exported to ONNX. The defaults fit FER+
/// (emotion-ferplus: input [1, 1, 64, 64] grey pixels 0..255, eight logits). Each input value is
/// <c>(pixel × Scale − Mean[c]) / Std[c]</c> with pixel in 0..255.
/// </summary>
public sealed record EmotionOptions
{
    /// <summary>The ONNX file: one float32 NCHW input with 1 (grey) or 3 (RGB) channels, one score per label out.</summary>
    public required string ModelPath { get; init; }

    /// <summary>Feed grey pixels (repeated in every channel of a 3-channel model); null: true when the model has one channel.</summary>
    public bool? Grayscale { get; init; }

    /// <summary>Factor applied to 0..255 pixels first. Default 1 (raw pixels, as FER+ wants); 1/255 for 0..1 models.</summary>
    public float Scale { get; init; } = 1;

    /// <summary>Subtracted after scaling: one value for every channel, or one per channel (R, G, B). Default 0.</summary>
    public IReadOnlyList<float> Mean { get; init; } = [0];

    /// <summary>Divides after subtracting the mean: one value, or one per channel (R, G, B). Default 1.</summary>
    public IReadOnlyList<float> Std { get; init; } = [1];

    /// <summary>Names of the model's outputs in order; null reads <see cref="LabelsPath"/>, or uses <see cref="EmotionClassifier.FerPlusLabels"/>.</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>A file with one label per line, used when <see cref="Labels"/> is null.</summary>
    public string? LabelsPath { get; init; }

    /// <summary>How far the crop extends past each side of the face box, as a fraction of the box's size. Default 0.1.</summary>
    public float Margin { get; init; } = 0.1f;

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(ModelPath, nameof(ModelPath));
        if (!float.IsFinite(Scale))
        {
            throw new ArgumentOutOfRangeException(nameof(Scale), Scale, "Scale must be a finite number.");
        }
        if (Mean is null || Mean.Count is not (1 or 3) || Mean.Any(m => !float.IsFinite(m)))
        {
            throw new ArgumentException("Mean must hold one or three finite values.", nameof(Mean));
        }
        if (Std is null || Std.Count is not (1 or 3) || Std.Any(s => !float.IsFinite(s) || s == 0))
        {
            throw new ArgumentException("Std must hold one or three finite, non-zero values.", nameof(Std));
        }
        if (Labels is not null && LabelsPath is not null)
        {
            throw new ArgumentException("Give Labels or LabelsPath, not both.", nameof(LabelsPath));
        }
        if (Labels is { Count: 0 })
        {
            throw new ArgumentException("Labels must not be empty.", nameof(Labels));
        }
        if (!(Margin is >= 0 and <= 10))
        {
            throw new ArgumentOutOfRangeException(nameof(Margin), Margin, "Margin must be between 0 and 10.");
        }
    }
}
