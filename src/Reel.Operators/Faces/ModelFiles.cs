namespace Reel.Operators.Faces;

/// <summary>Finds the model files installed with Reel.</summary>
internal static class ModelFiles
{
    /// <summary>The named model beside the program (models/), or in the source tree's node_modules when run from it.</summary>
    /// <exception cref="FileNotFoundException">No such model was installed.</exception>
    public static string Find(string fileName)
    {
        var beside = Path.Combine(AppContext.BaseDirectory, "models", fileName);
        if (File.Exists(beside))
        {
            return beside;
        }
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "node_modules", "@mediapipe", "face_detection", fileName);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException(
            $"model {fileName} is not installed; run './reel' once (it installs @mediapipe/face_detection with npm) or pass its path", fileName);
    }
}
