using System.Text.Json.Serialization;

namespace Reel.Operators;

/// <summary>An axis-aligned box in source pixels: top-left corner and size.</summary>
public readonly record struct Box(
    [property: JsonPropertyName("x")] float X,
    [property: JsonPropertyName("y")] float Y,
    [property: JsonPropertyName("width")] float Width,
    [property: JsonPropertyName("height")] float Height)
{
    [JsonIgnore]
    public float Right => X + Width;

    [JsonIgnore]
    public float Bottom => Y + Height;

    [JsonIgnore]
    public float Area => Math.Max(0, Width) * Math.Max(0, Height);

    /// <summary>Intersection over union; 0 when either box is empty.</summary>
    public float IoU(Box other)
    {
        var w = Math.Min(Right, other.Right) - Math.Max(X, other.X);
        var h = Math.Min(Bottom, other.Bottom) - Math.Max(Y, other.Y);
        if (w <= 0 || h <= 0)
        {
            return 0;
        }
        var intersection = w * h;
        return intersection / (Area + other.Area - intersection);
    }
}

/// <summary>A named point in source pixels, such as a face's right eye.</summary>
public readonly record struct Keypoint(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("x")] float X,
    [property: JsonPropertyName("y")] float Y);

/// <summary>Something found in a frame: a face, an object, or a face with its emotion.</summary>
public sealed record Detection(
    [property: JsonPropertyName("label")] string Label,
    [property: JsonPropertyName("score")] float Score,
    [property: JsonPropertyName("box")] Box Box)
{
    /// <summary>Landmarks, when the detector gives them (BlazeFace: eyes, nose, mouth, ears).</summary>
    [JsonPropertyName("keypoints")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<Keypoint>? Keypoints { get; init; }

    /// <summary>Every class's probability, when a classifier gives them (emotions).</summary>
    [JsonPropertyName("scores")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, float>? Scores { get; init; }
}
