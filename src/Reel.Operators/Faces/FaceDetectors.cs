namespace Reel.Operators.Faces;

/// <summary>The one place that turns a face model's name into a detector.</summary>
public static class FaceDetectors
{
    public const string Names = "short, full or haar";

    /// <summary>Parses "short", "full" or "haar".</summary>
    /// <exception cref="ArgumentException">Any other name.</exception>
    public static FaceModel Parse(string name, string option = "--face-model") => name switch
    {
        "short" => FaceModel.ShortRange,
        "full" => FaceModel.FullRange,
        "haar" => FaceModel.Haar,
        _ => throw new ArgumentException($"{option} must be {Names}, not '{name}'"),
    };

    /// <summary>A detector for one thread.</summary>
    public static IFaceDetector Create(FaceModel model, FaceTiling tiling) => model == FaceModel.Haar
        ? new HaarFaceDetector()
        : new BlazeFaceDetector(new FaceDetectorOptions { Model = model, Tiling = tiling });
}
