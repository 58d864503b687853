using Reel.Operators.Faces;
using Reel.Operators.Tfjs;

namespace Reel.Operators.Emotions;

/// <summary>
/// The bundled <c>emotions</c> model: the 7-class facial expression classifier of oarriaga/face_classification (mini
/// Xception, trained on FER-2013), from the npm package <c>@vladmandic/human</c> (<c>emotion.json</c>,
/// TensorFlow.js), converted to ONNX on first use. It takes a 64 × 64 grey face crop scaled to −1..1 (as its own
/// runtime, Human, feeds it) and gives softmax probabilities.
/// </summary>
public static class BundledEmotionModel
{
    /// <summary>The model's output order.</summary>
    public static IReadOnlyList<string> Labels { get; } = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];

    internal const string Output = "Identity";

    /// <summary>Options that run the installed model (converted and cached on first use).</summary>
    /// <param name="modelJsonPath">The TensorFlow.js <c>model.json</c>; null uses the installed <c>emotion.json</c>.</param>
    /// <exception cref="FileNotFoundException">The model is not installed.</exception>
    /// <exception cref="InvalidDataException">The model cannot be converted.</exception>
    public static EmotionOptions Options(string? modelJsonPath = null) => new()
    {
        ModelPath = ConvertedModels.Onnx(modelJsonPath ?? ModelFiles.Find("emotion.json", ModelFiles.HumanModels), [Output]),
        Grayscale = true,
        // grey / 255 × 2 − 1: Human's (grey − 0.5) × 2 on 0..1 pixels.
        Scale = 2f / 255,
        Mean = [1],
        Std = [1],
        Labels = Labels,
    };
}
