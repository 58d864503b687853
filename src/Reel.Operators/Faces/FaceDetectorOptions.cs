namespace Reel.Operators.Faces;

/// <summary>Which BlazeFace network to run.</summary>
public enum FaceModel
{
    /// <summary><c>face_detection_short_range.tflite</c>: 128×128 input, faces within about 2 m of the camera.</summary>
    ShortRange,

    /// <summary><c>face_detection_full_range.tflite</c>: 192×192 input, faces up to about 5 m away.</summary>
    FullRange,

    /// <summary>OpenCV's classic Haar cascade (frontal faces, no keypoints), from Debian's opencv-data.</summary>
    Haar,
}

/// <summary>Extra passes over parts of the picture, for faces too small in the whole of it.</summary>
public enum FaceTiling
{
    /// <summary>The whole picture only.</summary>
    None,

    /// <summary>
    /// Pictures at least 1.5 times as wide as tall (or as tall as wide) are searched at the scale of squares as tall
    /// as the picture instead of as a whole: in one input that wide for the short-range network (about 1.7 square
    /// passes' cost for 16:9 video), in overlapping squares for the full-range one. Cheap, suits video frames.
    /// </summary>
    Squares,

    /// <summary>Squares, plus overlapping tiles a quarter and a sixth of the longer side: for group photos.</summary>
    Dense,
}

/// <summary>How BlazeFace looks for faces; defaults follow MediaPipe's face detection graphs.</summary>
public sealed record FaceDetectorOptions
{
    public FaceModel Model { get; init; } = FaceModel.ShortRange;

    /// <summary>The .tflite file; null finds the model installed with Reel (from the npm package @mediapipe/face_detection).</summary>
    public string? ModelPath { get; init; }

    /// <summary>Minimum face score, 0-1; null uses MediaPipe's (0.5 short range, 0.6 full range).</summary>
    public float? ScoreThreshold { get; init; }

    /// <summary>Boxes overlapping more than this (IoU) merge into one face.</summary>
    public float SuppressionThreshold { get; init; } = 0.3f;

    /// <summary>
    /// Where else to run the network besides the whole picture. It sees its input at 128 or 192 pixels, so a face
    /// that is small in a wide frame or a large photo shrinks below what it can find.
    /// </summary>
    public FaceTiling Tiling { get; init; } = FaceTiling.Squares;

    /// <summary>
    /// Minimum score for faces found in tiles. Tiles show the network many more small windows, so weak false
    /// detections (knees, shoes) multiply; real faces at tile scale score above 0.85 on the group-photo fixture.
    /// </summary>
    public float TileScoreThreshold { get; init; } = 0.75f;
}
