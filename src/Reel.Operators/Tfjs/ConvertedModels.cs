using System.Security.Cryptography;
using System.Text;

namespace Reel.Operators.Tfjs;

/// <summary>
/// TensorFlow.js graph models converted to ONNX once and kept on disk: the file is named by the SHA-256 of the
/// model's files, the requested outputs and the converter's version, so a new package version or converter makes a
/// new file and an unchanged one is reused. The cache is <c>$REEL_MODEL_CACHE</c>, else <c>$XDG_CACHE_HOME/reel/models</c>,
/// else <c>~/.cache/reel/models</c>; where that cannot be written, <c>reel-models</c> in the temporary folder.
/// </summary>
internal static class ConvertedModels
{
    /// <summary>Bump when the converter's output changes, so cached files from an older converter are not reused.</summary>
    private const string ConverterVersion = "4";

    /// <summary>The ONNX file for <paramref name="modelJsonPath"/> computing <paramref name="outputs"/>, converting it on first use.</summary>
    /// <exception cref="FileNotFoundException">The model or its weights are missing.</exception>
    /// <exception cref="InvalidDataException">The model cannot be converted.</exception>
    /// <param name="size">An image input's width and height other than the exported ones (see <see cref="TfjsToOnnx"/>); null keeps them.</param>
    public static string Onnx(string modelJsonPath, IReadOnlyList<string> outputs, (int Width, int Height)? size = null) =>
        Onnx(modelJsonPath, outputs, CacheFolder(), size);

    internal static string Onnx(string modelJsonPath, IReadOnlyList<string> outputs, string folder, (int Width, int Height)? size = null)
    {
        var key = Key(modelJsonPath, size is { } s ? [.. outputs, $"input {s.Width}x{s.Height}"] : outputs);
        var path = Path.Combine(folder, $"{Path.GetFileNameWithoutExtension(modelJsonPath)}-{key[..16]}.onnx");
        if (File.Exists(path))
        {
            return path;
        }
        var bytes = TfjsToOnnx.Convert(TfjsGraphModel.Load(modelJsonPath), modelJsonPath, outputs, size);
        try
        {
            return Store(path, bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException && folder != FallbackFolder)
        {
            // A read-only home still runs: the converted model goes to the temporary folder instead.
            return Store(Path.Combine(FallbackFolder, Path.GetFileName(path)), bytes);
        }
    }

    private static string FallbackFolder => Path.Combine(Path.GetTempPath(), "reel-models");

    private static string Store(string path, byte[] bytes)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        // Written aside and moved into place, so a concurrent reader (another worker) never sees half a file.
        var staging = $"{path}.{Environment.ProcessId}.{Environment.CurrentManagedThreadId}.tmp";
        File.WriteAllBytes(staging, bytes);
        File.Move(staging, path, overwrite: true);
        return path;
    }

    internal static string CacheFolder()
    {
        if (Environment.GetEnvironmentVariable("REEL_MODEL_CACHE") is { Length: > 0 } configured)
        {
            return configured;
        }
        var cache = Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
            ? xdg
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(cache, "reel", "models");
    }

    private static string Key(string modelJsonPath, IReadOnlyList<string> outputs)
    {
        if (!File.Exists(modelJsonPath))
        {
            throw new FileNotFoundException($"{modelJsonPath}: model file not found", modelJsonPath);
        }
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes($"reel tfjs-to-onnx {ConverterVersion}\n{string.Join("\n", outputs)}\n"));
        hash.AppendData(File.ReadAllBytes(modelJsonPath));
        // The shards are hashed too: the manifest names them but does not pin their contents.
        var folder = Path.GetDirectoryName(Path.GetFullPath(modelJsonPath))!;
        foreach (var shard in Directory.EnumerateFiles(folder, Path.GetFileNameWithoutExtension(modelJsonPath) + "*.bin").Order(StringComparer.Ordinal))
        {
            hash.AppendData(File.ReadAllBytes(shard));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
