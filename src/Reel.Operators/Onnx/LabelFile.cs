namespace Reel.Operators.Onnx;

/// <summary>Class names, one per line, in the model's output order.</summary>
internal static class LabelFile
{
    /// <summary>Reads the labels; blank lines are skipped and surrounding spaces trimmed.</summary>
    public static IReadOnlyList<string> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: labels file not found", path);
        }
        var labels = File.ReadAllLines(path).Select(line => line.Trim()).Where(line => line.Length > 0).ToArray();
        if (labels.Length == 0)
        {
            throw new InvalidDataException($"{path}: labels file holds no labels");
        }
        return labels;
    }
}
