using System.Runtime.InteropServices;

namespace Reel.Operators.Onnx;

/// <summary>
/// Writes ONNX models (IR version 8, default-domain opset 14) in memory: the TensorFlow.js converter's output and the
/// tests' small models with known outputs. Field numbers are onnx.proto's; written by hand with <see cref="ProtoWriter"/>
/// because the few messages an ONNX file needs do not warrant a generated protobuf library.
/// </summary>
internal sealed class OnnxGraph(string name)
{
    public const int FloatType = 1;
    public const int Int32Type = 6;
    public const int Int64Type = 7;

    private const int IrVersion = 8;
    private const int Opset = 14;

    private readonly List<ProtoWriter> _nodes = [];
    private readonly List<ProtoWriter> _initializers = [];
    private readonly List<ProtoWriter> _inputs = [];
    private readonly List<ProtoWriter> _outputs = [];

    public string Name => name;

    /// <summary>A float graph input; a negative dimension is dynamic (written as a named parameter).</summary>
    public OnnxGraph Input(string valueName, params long[] dims)
    {
        _inputs.Add(ValueInfo(valueName, FloatType, dims));
        return this;
    }

    /// <summary>A float graph output; a negative dimension is dynamic.</summary>
    public OnnxGraph Output(string valueName, params long[] dims)
    {
        _outputs.Add(ValueInfo(valueName, FloatType, dims));
        return this;
    }

    /// <summary>A float graph output whose shape is left to the runtime.</summary>
    public OnnxGraph OutputOfAnyShape(string valueName)
    {
        _outputs.Add(ValueInfo(valueName, FloatType, null));
        return this;
    }

    /// <summary>A constant float tensor, row-major.</summary>
    public OnnxGraph Initializer(string valueName, long[] dims, float[] values)
    {
        CheckSize(dims, values.Length);
        _initializers.Add(Tensor(valueName, dims, FloatType, MemoryMarshal.AsBytes(values.AsSpan())));
        return this;
    }

    /// <summary>A constant int64 tensor (shapes, axes, paddings), row-major.</summary>
    public OnnxGraph Initializer(string valueName, long[] dims, long[] values)
    {
        CheckSize(dims, values.Length);
        _initializers.Add(Tensor(valueName, dims, Int64Type, MemoryMarshal.AsBytes(values.AsSpan())));
        return this;
    }

    /// <summary>A constant int32 tensor, row-major.</summary>
    public OnnxGraph Initializer(string valueName, long[] dims, int[] values)
    {
        CheckSize(dims, values.Length);
        _initializers.Add(Tensor(valueName, dims, Int32Type, MemoryMarshal.AsBytes(values.AsSpan())));
        return this;
    }

    public OnnxGraph Node(string opType, string[] inputs, string[] outputs, params OnnxAttribute[] attributes)
    {
        // NodeProto: input 1, output 2, name 3, op_type 4, attribute 5.
        var node = new ProtoWriter();
        foreach (var input in inputs)
        {
            node.String(1, input);
        }
        foreach (var output in outputs)
        {
            node.String(2, output);
        }
        node.String(3, $"{opType}_{_nodes.Count}");
        node.String(4, opType);
        foreach (var attribute in attributes)
        {
            node.Message(5, attribute.Write());
        }
        _nodes.Add(node);
        return this;
    }

    public byte[] ToBytes()
    {
        // GraphProto: node 1, name 2, initializer 5, input 11, output 12.
        var graph = new ProtoWriter();
        foreach (var node in _nodes)
        {
            graph.Message(1, node);
        }
        graph.String(2, name);
        foreach (var initializer in _initializers)
        {
            graph.Message(5, initializer);
        }
        foreach (var input in _inputs)
        {
            graph.Message(11, input);
        }
        foreach (var output in _outputs)
        {
            graph.Message(12, output);
        }
        // ModelProto: ir_version 1, graph 7, opset_import 8; OperatorSetIdProto: domain 1, version 2.
        return new ProtoWriter()
            .Int(1, IrVersion)
            .Message(7, graph)
            .Message(8, new ProtoWriter().String(1, "").Int(2, Opset))
            .ToArray();
    }

    internal static ProtoWriter Tensor(string valueName, long[] dims, int elementType, ReadOnlySpan<byte> littleEndianData)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("raw_data is little-endian");
        }
        // TensorProto: dims 1, data_type 2, name 8, raw_data 9 (little-endian).
        var tensor = new ProtoWriter();
        foreach (var dim in dims)
        {
            tensor.Int(1, dim);
        }
        tensor.Int(2, elementType);
        tensor.String(8, valueName);
        tensor.Bytes(9, littleEndianData);
        return tensor;
    }

    private static void CheckSize(long[] dims, int count)
    {
        if (dims.Aggregate(1L, (product, dim) => product * dim) != count)
        {
            throw new ArgumentException($"{count} values do not fill a tensor of shape [{string.Join(", ", dims)}]");
        }
    }

    private static ProtoWriter ValueInfo(string valueName, int elementType, long[]? dims)
    {
        // TypeProto.Tensor: elem_type 1, shape 2; TypeProto: tensor_type 1; ValueInfoProto: name 1, type 2.
        var tensorType = new ProtoWriter().Int(1, elementType);
        if (dims is not null)
        {
            // TensorShapeProto.Dimension: dim_value 1, dim_param 2; TensorShapeProto: dim 1.
            var shape = new ProtoWriter();
            for (var i = 0; i < dims.Length; i++)
            {
                var dim = dims[i] >= 0 ? new ProtoWriter().Int(1, dims[i]) : new ProtoWriter().String(2, $"{valueName}_dim{i}");
                shape.Message(1, dim);
            }
            tensorType.Message(2, shape);
        }
        return new ProtoWriter().String(1, valueName).Message(2, new ProtoWriter().Message(1, tensorType));
    }
}

/// <summary>A node attribute (AttributeProto: name 1, f 2, i 3, s 4, t 5, ints 8, type 20).</summary>
internal sealed record OnnxAttribute(string Name, Func<ProtoWriter, ProtoWriter> Value, int Type)
{
    public static OnnxAttribute Int(string name, long value) => new(name, w => w.Int(3, value), 2);

    public static OnnxAttribute Float(string name, float value) => new(name, w => w.Float(2, value), 1);

    public static OnnxAttribute String(string name, string value) => new(name, w => w.String(4, value), 3);

    public static OnnxAttribute Ints(string name, params long[] values) => new(name, w =>
    {
        foreach (var value in values)
        {
            w.Int(8, value);
        }
        return w;
    }, 7);

    public static OnnxAttribute Tensor(string name, long[] dims, float[] values) =>
        new(name, w => w.Message(5, OnnxGraph.Tensor(string.Empty, dims, OnnxGraph.FloatType, MemoryMarshal.AsBytes(values.AsSpan()))), 4);

    public ProtoWriter Write() => Value(new ProtoWriter().String(1, Name)).Int(20, Type);
}
