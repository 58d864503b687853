namespace Reel.Operators.Faces;

/// <summary>Finds the model files installed with Reel.</summary>
internal static class ModelFiles
{
    /// <summary>The npm package folder BlazeFace comes from.</summary>
    public const string MediaPipe = "@mediapipe/face_detection";

    /// <summary>The npm package folder the TensorFlow.js object and emotion models come from.</summary>
    public const string HumanModels = "@vladmandic/human/models";

    /// <summary>
    /// The named model beside the program (models/), or in the source tree's node_modules/<paramref name="package"/>
    /// when run from it.
    /// </summary>
    /// <exception cref="FileNotFoundException">No such model was installed.</exception>
    public static string Find(string fileName, string package = MediaPipe)
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "models", fileName);
        if (File.Exists(beside))
        {
            return beside;
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "node_modules", package, fileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        var npmPackage = string.Join('/', package.Split('/').Take(2));
        throw new FileNotFoundException(
            $"model {fileName} is not installed; run './reel' once (it installs {npmPackage} with npm) or pass its path", fileName);
    }
}
