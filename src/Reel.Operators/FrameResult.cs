using System.Text.Json.Serialization;

namespace Reel.Operators;

/// <summary>What one model found in one frame: a line of the analysis results.</summary>
public sealed record FrameResult
{
    [JsonPropertyName("frame")]
    public required int Frame { get; init; }

    /// <summary>The source's timestamp in seconds.</summary>
    [JsonPropertyName("time")]
    public required double Time { get; init; }

    [JsonPropertyName("model")]
    public required string Model { get; init; }

    /// <summary>Boxes with labels and scores (faces, objects, emotions); empty for the other models.</summary>
    [JsonPropertyName("detections")]
    public IReadOnlyList<Detection> Detections { get; init; } = [];

    /// <summary>Dominant colors, largest share first (colors model).</summary>
    [JsonPropertyName("colors")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<ColorShare>? Colors { get; init; }

    /// <summary>Camera motion since the previous sampled frame (motion model).</summary>
    [JsonPropertyName("motion")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public CameraMotion? Motion { get; init; }

    /// <summary>How different the frame is from the previous sampled one, and whether a new shot starts here (scenes model).</summary>
    [JsonPropertyName("scene")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public SceneChange? Scene { get; init; }

    /// <summary>Milliseconds the model spent on this frame; left out of results stored by content (a timing is not a result).</summary>
    [JsonPropertyName("inferenceMs")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? InferenceMs { get; init; }
}

/// <summary>A dominant color as #rrggbb and the fraction of pixels closest to it.</summary>
public sealed record ColorShare(
    [property: JsonPropertyName("hex")] string Hex,
    [property: JsonPropertyName("share")] double Share);

/// <summary>
/// Global camera motion from the previous sampled frame to this one: translation in source pixels, zoom as a
/// scale factor (1 = none), rotation in degrees (counterclockwise positive); <see cref="Still"/> when the camera
/// did not move.
/// </summary>
public sealed record CameraMotion(
    [property: JsonPropertyName("dx")] double Dx,
    [property: JsonPropertyName("dy")] double Dy,
    [property: JsonPropertyName("zoom")] double Zoom,
    [property: JsonPropertyName("rotation")] double Rotation,
    [property: JsonPropertyName("confidence")] double Confidence,
    [property: JsonPropertyName("still")] bool Still);

/// <summary>Content difference from the previous sampled frame (0-255 scale) and whether it starts a new shot.</summary>
public sealed record SceneChange(
    [property: JsonPropertyName("difference")] double Difference,
    [property: JsonPropertyName("cut")] bool Cut);
