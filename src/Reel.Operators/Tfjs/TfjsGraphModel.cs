using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Reel.Operators.Tfjs;

/// <summary>One node of a TensorFlow graph as TensorFlow.js stores it: op, inputs (<c>name</c> or <c>name:k</c>), attributes.</summary>
internal sealed record TfjsNode(string Name, string Op, IReadOnlyList<string> Inputs, JsonElement Attributes)
{
    public bool TryGetAttribute(string key, out JsonElement value)
    {
        value = default;
        return Attributes.ValueKind == JsonValueKind.Object && Attributes.TryGetProperty(key, out value);
    }

    public string String(string key, string fallback = "") =>
        TryGetAttribute(key, out var value) && value.TryGetProperty("s", out var s)
            ? Encoding.UTF8.GetString(Convert.FromBase64String(s.GetString() ?? ""))
            : fallback;

    public bool Bool(string key, bool fallback = false) =>
        TryGetAttribute(key, out var value) && value.TryGetProperty("b", out var b) ? b.GetBoolean() : fallback;

    public float Float(string key, float fallback = 0) =>
        TryGetAttribute(key, out var value) && value.TryGetProperty("f", out var f) ? ReadFloat(f) : fallback;

    public long[] Ints(string key) =>
        TryGetAttribute(key, out var value) && value.TryGetProperty("list", out var list) && list.TryGetProperty("i", out var items)
            ? [.. items.EnumerateArray().Select(ReadLong)]
            : [];

    public string[] Strings(string key) =>
        TryGetAttribute(key, out var value) && value.TryGetProperty("list", out var list) && list.TryGetProperty("s", out var items)
            ? [.. items.EnumerateArray().Select(s => Encoding.UTF8.GetString(Convert.FromBase64String(s.GetString() ?? "")))]
            : [];

    /// <summary>A Placeholder's shape; -1 where unknown.</summary>
    public long[] Shape()
    {
        if (!TryGetAttribute("shape", out var value) || !value.TryGetProperty("shape", out var shape) || !shape.TryGetProperty("dim", out var dims))
        {
            return [];
        }
        return [.. dims.EnumerateArray().Select(d => d.TryGetProperty("size", out var size) ? ReadLong(size) : -1)];
    }

    // Protobuf's JSON mapping writes 64-bit integers as strings and may write floats as strings ("NaN").
    private static long ReadLong(JsonElement e) =>
        e.ValueKind == JsonValueKind.String ? long.Parse(e.GetString()!, CultureInfo.InvariantCulture) : e.GetInt64();

    private static float ReadFloat(JsonElement e) =>
        e.ValueKind == JsonValueKind.String ? float.Parse(e.GetString()!, CultureInfo.InvariantCulture) : e.GetSingle();
}

/// <summary>A constant tensor of the graph, dequantized: float32 or int32 values, row-major.</summary>
internal sealed record TfjsTensor(long[] Shape, float[]? Floats, int[]? Ints)
{
    public long Count => Shape.Aggregate(1L, (product, dim) => product * dim);
}

/// <summary>
/// A TensorFlow.js graph model (<c>model.json</c> with its topology and weights manifest, plus the <c>.bin</c> shards):
/// the nodes and every weight, dequantized from the stored float16, uint8 or uint16 to float32 as TensorFlow.js does.
/// </summary>
internal sealed class TfjsGraphModel
{
    private TfjsGraphModel(IReadOnlyList<TfjsNode> nodes, IReadOnlyDictionary<string, TfjsTensor> weights)
    {
        Nodes = nodes;
        Weights = weights;
    }

    public IReadOnlyList<TfjsNode> Nodes { get; }

    public IReadOnlyDictionary<string, TfjsTensor> Weights { get; }

    /// <exception cref="FileNotFoundException">The model or one of its weight shards is missing.</exception>
    /// <exception cref="InvalidDataException">The files are not a TensorFlow.js graph model Reel can read.</exception>
    public static TfjsGraphModel Load(string modelJsonPath)
    {
        if (!File.Exists(modelJsonPath))
        {
            throw new FileNotFoundException($"{modelJsonPath}: model file not found", modelJsonPath);
        }
        using var document = JsonDocument.Parse(File.ReadAllBytes(modelJsonPath));
        var root = document.RootElement;
        if (!root.TryGetProperty("modelTopology", out var topology) || !topology.TryGetProperty("node", out var nodeArray)
            || !root.TryGetProperty("weightsManifest", out var manifest))
        {
            throw new InvalidDataException($"{modelJsonPath}: not a TensorFlow.js graph model (no modelTopology.node or weightsManifest)");
        }
        var nodes = nodeArray.EnumerateArray().Select(n => new TfjsNode(
            n.GetProperty("name").GetString()!,
            n.GetProperty("op").GetString()!,
            n.TryGetProperty("input", out var inputs) ? [.. inputs.EnumerateArray().Select(i => i.GetString()!)] : [],
            n.TryGetProperty("attr", out var attr) ? attr.Clone() : default)).ToList();

        var weights = new Dictionary<string, TfjsTensor>(StringComparer.Ordinal);
        var folder = Path.GetDirectoryName(Path.GetFullPath(modelJsonPath))!;
        foreach (var group in manifest.EnumerateArray())
        {
            // A group's shards are one byte stream cut into files; its weights lie in it one after another.
            var data = group.GetProperty("paths").EnumerateArray()
                .SelectMany(p => ReadShard(Path.Combine(folder, p.GetString()!))).ToArray();
            var offset = 0;
            foreach (var spec in group.GetProperty("weights").EnumerateArray())
            {
                var weightName = spec.GetProperty("name").GetString()!;
                long[] shape = [.. spec.GetProperty("shape").EnumerateArray().Select(d => d.GetInt64())];
                var dtype = spec.GetProperty("dtype").GetString();
                var count = (int)shape.Aggregate(1L, (product, dim) => product * dim);
                var tensor = Decode(modelJsonPath, weightName, shape, dtype, count, spec, data, ref offset);
                weights[weightName] = tensor;
            }
            if (offset != data.Length)
            {
                throw new InvalidDataException($"{modelJsonPath}: the weights use {offset} bytes of shards holding {data.Length}");
            }
        }
        return new TfjsGraphModel(nodes, weights);
    }

    private static byte[] ReadShard(string path) =>
        File.Exists(path) ? File.ReadAllBytes(path) : throw new FileNotFoundException($"{path}: weight shard not found", path);

    private static TfjsTensor Decode(string model, string weightName, long[] shape, string? dtype, int count, JsonElement spec, byte[] data, ref int offset)
    {
        string? stored = null;
        float scale = 1, min = 0;
        if (spec.TryGetProperty("quantization", out var quantization))
        {
            stored = quantization.GetProperty("dtype").GetString();
            if (quantization.TryGetProperty("scale", out var s))
            {
                scale = s.GetSingle();
            }
            if (quantization.TryGetProperty("min", out var m))
            {
                min = m.GetSingle();
            }
        }
        var width = (stored ?? dtype) switch
        {
            "float32" or "int32" => 4,
            "float16" or "uint16" => 2,
            "uint8" or "bool" => 1,
            var other => throw new InvalidDataException($"{model}: weight {weightName} has dtype {other}, which Reel does not read"),
        };
        if (offset + (count * width) > data.Length)
        {
            throw new InvalidDataException($"{model}: weight {weightName} runs past the end of its shards");
        }
        var bytes = data.AsSpan(offset, count * width);
        offset += count * width;
        if (dtype == "int32" && stored is null)
        {
            var ints = new int[count];
            for (var i = 0; i < count; i++)
            {
                ints[i] = BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 * i)..]);
            }
            return new TfjsTensor(shape, null, ints);
        }
        if (dtype != "float32" && !(dtype == "int32" && stored is "uint8" or "uint16"))
        {
            throw new InvalidDataException($"{model}: weight {weightName} has dtype {dtype}, which Reel does not read");
        }
        var floats = new float[count];
        for (var i = 0; i < count; i++)
        {
            floats[i] = stored switch
            {
                null => BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]),
                "float16" => (float)BinaryPrimitives.ReadHalfLittleEndian(bytes[(2 * i)..]),
                // Affine quantization: value = stored × scale + min (TensorFlow.js' dequantization).
                "uint8" => (bytes[i] * scale) + min,
                "uint16" => (BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]) * scale) + min,
                _ => throw new InvalidDataException($"{model}: weight {weightName} is quantized as {stored}, which Reel does not read"),
            };
        }
        return dtype == "int32"
            ? new TfjsTensor(shape, null, [.. floats.Select(f => (int)Math.Round(f))])
            : new TfjsTensor(shape, floats, null);
    }
}
