using Reel.Operators.Onnx;

namespace Reel.Operators.Tfjs;

/// <summary>
/// Converts a TensorFlow.js graph model to ONNX, for the operations the bundled models use (convolutions, depthwise
/// convolutions, pooling, means, resizes, element-wise arithmetic and activations, concatenation, reshapes, pads).
/// TensorFlow keeps images NHWC and ONNX's Conv, MaxPool and Resize take NCHW, so every such op is wrapped in a pair
/// of transposes and everything else stays NHWC as in the source graph; ONNX Runtime's transpose optimizer cancels
/// the pairs that meet. Beyond that, the converter writes what keeps ONNX Runtime's blocked (NCHWc) layout whole:
/// constant factors go into the next convolution's weights instead of a Mul, thin convolutions get zero channels up
/// to a whole block, and an activation after a convolution comes before the transpose, where it is fused. A 4-D
/// image input is declared NCHW (one transpose at the boundary) so Reel feeds every model the same layout. Only the
/// nodes the requested outputs depend on are converted. A fully convolutional image model can be converted for a
/// smaller square input than it was exported with: the input is declared at that side and the resizes' fixed output
/// sizes scale with it (the weights and every other node stay as they are).
/// </summary>
internal sealed class TfjsToOnnx
{
    private static readonly long[] ToNchwPerm = [0, 3, 1, 2];
    private static readonly long[] ToNhwcPerm = [0, 2, 3, 1];

    private readonly TfjsGraphModel _model;
    private readonly string _source;
    private readonly Dictionary<string, TfjsNode> _nodes;
    private readonly OnnxGraph _graph;
    private readonly HashSet<string> _emitted = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _renamed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Op, string X, float Scale)> _fused = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Value, float Factor)> _scaled = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Value, long Channels, long Width)> _padded = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _nchw = new(StringComparer.Ordinal);
    private readonly HashSet<string> _reluBefore = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<TfjsNode>> _consumers = new(StringComparer.Ordinal);
    private readonly (int Width, int Height)? _size;
    private int _temporaries;
    private long _exportedHeight;
    private long _exportedWidth;

    private TfjsToOnnx(TfjsGraphModel model, string source, string name, (int Width, int Height)? size)
    {
        _size = size;
        _model = model;
        _source = source;
        _nodes = model.Nodes.ToDictionary(n => n.Name, StringComparer.Ordinal);
        _graph = new OnnxGraph(name);
        foreach (var node in model.Nodes)
        {
            foreach (var input in node.Inputs.Where(i => !i.StartsWith('^')))
            {
                var producer = NodeName(input);
                if (!_consumers.TryGetValue(producer, out var list))
                {
                    _consumers[producer] = list = [];
                }
                list.Add(node);
            }
        }
        FindHardActivations();
    }

    /// <summary>The ONNX model computing <paramref name="outputs"/> (TensorFlow tensor names), which keep their names.</summary>
    /// <param name="model">The graph.</param>
    /// <param name="source">Names the model in error messages.</param>
    /// <param name="outputs">Tensors to compute: <c>node</c> or <c>node:k</c>.</param>
    /// <param name="size">The image input's width and height in the ONNX model; null keeps the exported ones.</param>
    /// <exception cref="InvalidDataException">The graph uses an operation or attribute the converter does not handle.</exception>
    public static byte[] Convert(TfjsGraphModel model, string source, IReadOnlyList<string> outputs, (int Width, int Height)? size = null)
    {
        var converter = new TfjsToOnnx(model, source, Path.GetFileNameWithoutExtension(source), size);
        foreach (var node in converter.Order(outputs))
        {
            converter.Emit(node);
        }
        foreach (var output in outputs)
        {
            var value = converter.Value(output);
            if (value != output)
            {
                converter._graph.Node("Identity", [value], [output]);
            }
            converter._graph.OutputOfAnyShape(output);
        }
        return converter._graph.ToBytes();
    }

    private static string NodeName(string tensor)
    {
        var name = tensor.TrimStart('^');
        var colon = name.LastIndexOf(':');
        return colon > 0 && int.TryParse(name.AsSpan(colon + 1), out _) ? name[..colon] : name;
    }

    /// <summary>The non-constant nodes the outputs need, each after its inputs.</summary>
    private List<TfjsNode> Order(IReadOnlyList<string> outputs)
    {
        var order = new List<TfjsNode>();
        var state = new Dictionary<string, bool>(StringComparer.Ordinal);
        var stack = new Stack<(TfjsNode Node, bool Expanded)>();
        foreach (var output in outputs)
        {
            stack.Push((NodeOf(NodeName(output)), false));
        }
        while (stack.Count > 0)
        {
            var (node, expanded) = stack.Pop();
            if (expanded)
            {
                state[node.Name] = true;
                order.Add(node);
                continue;
            }
            if (state.ContainsKey(node.Name))
            {
                continue;
            }
            state[node.Name] = false;
            stack.Push((node, true));
            var inputs = _fused.TryGetValue(node.Name, out var fused) ? [fused.X] : node.Inputs.Where(i => !i.StartsWith('^'));
            foreach (var input in inputs)
            {
                var dependency = NodeOf(NodeName(input));
                if (!state.ContainsKey(dependency.Name))
                {
                    stack.Push((dependency, false));
                }
            }
        }
        return order;
    }

    private TfjsNode NodeOf(string name) =>
        _nodes.TryGetValue(name, out var node) ? node : throw new InvalidDataException($"{_source}: the graph has no node '{name}'");

    private string Value(string tensor)
    {
        var node = NodeName(tensor.TrimStart('^'));
        var value = Key(tensor);
        if (_renamed.TryGetValue(value, out var renamed))
        {
            return renamed;
        }
        if (_scaled.Remove(value, out var scaled))
        {
            // A consumer that cannot take the factor into its weights: multiply it in here, once.
            _graph.Node("Mul", [scaled.Value, Floats(value, scaled.Factor)], [value]);
        }
        if (_nchw.Remove(value, out var nchw))
        {
            _graph.Node("Transpose", [nchw], [value], OnnxAttribute.Ints("perm", ToNhwcPerm));
        }
        if (_padded.Remove(value, out var padded))
        {
            // A consumer that cannot ignore the zero channels: cut them off here, once.
            _graph.Node("Slice", [padded.Value, Int64s(value, [0]), Int64s(value, [padded.Channels]), Int64s(value, [-1])], [value]);
        }
        if (NodeOf(node).Op == "Const" && _emitted.Add(value))
        {
            var tensorValue = Weight(node);
            if (tensorValue.Floats is { } floats)
            {
                _graph.Initializer(value, tensorValue.Shape, floats);
            }
            else
            {
                _graph.Initializer(value, tensorValue.Shape, tensorValue.Ints!);
            }
        }
        return value;
    }

    /// <summary>
    /// <paramref name="tensor"/> as the ONNX graph holds it, with the factor it still has to be multiplied by (1 when
    /// none): for consumers that are linear in it (convolutions, products, means), which take the factor over.
    /// </summary>
    private (string Value, float Factor) ValueAndFactor(string tensor) =>
        _scaled.TryGetValue(Key(tensor), out var scaled) ? scaled : (Value(tensor), 1f);

    /// <summary>The name a tensor's value has in the ONNX graph: <c>node</c> for <c>node:0</c>.</summary>
    private static string Key(string tensor)
    {
        var name = tensor.TrimStart('^');
        return name.EndsWith(":0", StringComparison.Ordinal) ? NodeName(name) : name;
    }

    /// <summary>
    /// <paramref name="node"/>'s value as <paramref name="value"/> × <paramref name="factor"/>, the product left to its
    /// consumers: a convolution takes the factor into its weights, a product or a mean passes it on, anything else
    /// multiplies it in when it asks for the value (<see cref="Value"/>). MobileNetV3's hard activations end in such a
    /// factor (6 × 1/6 in float16 ≈ 0.99976), and a lone Mul between two convolutions makes ONNX Runtime leave its
    /// blocked layout and come back (two reorders) for a multiplication by almost one.
    /// </summary>
    private void Scaled(TfjsNode node, string value, float factor)
    {
        if (factor == 1f)
        {
            _graph.Node("Identity", [value], [node.Name]);
        }
        else
        {
            _scaled[node.Name] = (value, factor);
        }
    }

    private TfjsTensor Weight(string nodeName) =>
        _model.Weights.TryGetValue(nodeName, out var weight)
            ? weight
            : throw new InvalidDataException($"{_source}: constant '{nodeName}' has no weights in the manifest");

    private TfjsTensor Constant(TfjsNode node, int input)
    {
        var source = NodeOf(NodeName(node.Inputs[input]));
        return source.Op == "Const"
            ? Weight(source.Name)
            : throw new InvalidDataException($"{_source}: {node.Op} '{node.Name}' needs a constant for input {input}, got {source.Op} '{source.Name}'");
    }

    private long[] ConstantInts(TfjsNode node, int input)
    {
        var tensor = Constant(node, input);
        return tensor.Ints is { } ints ? [.. ints.Select(i => (long)i)] : [.. tensor.Floats!.Select(f => (long)f)];
    }

    private string Temporary(string basis) => $"{basis}/onnx_{_temporaries++}";

    private string Int64s(string basis, long[] values, bool scalar = false)
    {
        var name = Temporary(basis);
        _graph.Initializer(name, scalar ? [] : [values.Length], values);
        return name;
    }

    private string Floats(string basis, float value)
    {
        var name = Temporary(basis);
        _graph.Initializer(name, [], [value]);
        return name;
    }

    private string Transpose(string value, long[] perm)
    {
        var output = Temporary(value);
        _graph.Node("Transpose", [value], [output], OnnxAttribute.Ints("perm", perm));
        return output;
    }

    private void Emit(TfjsNode node)
    {
        if (_fused.TryGetValue(node.Name, out var fused))
        {
            // c × f(x) with f = ONNX's HardSwish (x × clip(x / 6 + 0.5, 0, 1)) or HardSigmoid (its second factor).
            var activated = Temporary(node.Name);
            var attributes = fused.Op == "HardSigmoid" ? new[] { OnnxAttribute.Float("alpha", 1f / 6), OnnxAttribute.Float("beta", 0.5f) } : [];
            _graph.Node(fused.Op, [Value(fused.X)], [activated], attributes);
            Scaled(node, activated, 6 * fused.Scale);
            return;
        }
        switch (node.Op)
        {
            case "Const":
                break;
            case "Placeholder":
                EmitInput(node);
                break;
            case "Identity" or "StopGradient":
                var (same, sameFactor) = ValueAndFactor(node.Inputs[0]);
                Scaled(node, same, sameFactor);
                break;
            case "Conv2D" or "_FusedConv2D" or "DepthwiseConv2dNative" or "FusedDepthwiseConv2dNative":
                EmitConvolution(node);
                break;
            case "MaxPool" or "AvgPool":
                EmitPool(node);
                break;
            case "ResizeBilinear" or "ResizeNearestNeighbor":
                EmitResize(node);
                break;
            case "Mean" when ConstantInts(node, 1) is [1, 2]:
                EmitSpatialMean(node);
                break;
            case "Mean" or "Max" or "Sum":
                CheckAxesConstant(node);
                _graph.Node(
                    node.Op switch { "Mean" => "ReduceMean", "Max" => "ReduceMax", _ => "ReduceSum" },
                    [Value(node.Inputs[0])],
                    [node.Name],
                    OnnxAttribute.Ints("axes", ConstantInts(node, 1)),
                    OnnxAttribute.Int("keepdims", node.Bool("keep_dims") ? 1 : 0));
                break;
            case "Mul":
                var (left, leftFactor) = ValueAndFactor(node.Inputs[0]);
                var (right, rightFactor) = ValueAndFactor(node.Inputs[1]);
                var product = leftFactor * rightFactor == 1f ? node.Name : Temporary(node.Name);
                _graph.Node("Mul", [left, right], [product]);
                if (product != node.Name)
                {
                    Scaled(node, product, leftFactor * rightFactor);
                }
                break;
            case "Add" or "AddV2" when ValueAndFactor(node.Inputs[0]) is var (a, aFactor) && aFactor != 1f
                && ValueAndFactor(node.Inputs[1]) is var (b, bFactor) && bFactor == aFactor:
                // k × a + k × b: the sum keeps the factor (see EmitConvolution, which makes a residual's two sides agree).
                var sum = Temporary(node.Name);
                _graph.Node("Add", [a, b], [sum]);
                Scaled(node, sum, aFactor);
                break;
            case "Add" or "AddV2" or "BiasAdd" or "Sub" or "RealDiv" or "Maximum" or "Minimum":
                var op = node.Op switch
                {
                    "Add" or "AddV2" or "BiasAdd" => "Add",
                    "Sub" => "Sub",
                    "RealDiv" => "Div",
                    "Maximum" => "Max",
                    _ => "Min",
                };
                _graph.Node(op, [Value(node.Inputs[0]), Value(node.Inputs[1])], [node.Name]);
                break;
            case "Relu" when _reluBefore.Contains(node.Name):
                _graph.Node("Identity", [Value(node.Inputs[0])], [node.Name]);
                break;
            case "Relu" or "Relu6" or "LeakyRelu" or "Sigmoid" or "Tanh" or "Elu" or "Exp" or "Sqrt" or "Neg" or "Abs":
                if (_nchw.Remove(Key(node.Inputs[0]), out var convolved))
                {
                    // Applied before the convolution's transpose back to NHWC, where ONNX Runtime fuses it into the convolution.
                    var activated = Temporary(node.Name);
                    EmitActivation(node.Op, convolved, activated, node.Float("alpha", 0.2f));
                    _graph.Node("Transpose", [activated], [node.Name], OnnxAttribute.Ints("perm", ToNhwcPerm));
                }
                else
                {
                    EmitActivation(node.Op, Value(node.Inputs[0]), node.Name, node.Float("alpha", 0.2f));
                }
                break;
            case "Rsqrt":
                var root = Temporary(node.Name);
                _graph.Node("Sqrt", [Value(node.Inputs[0])], [root]);
                _graph.Node("Reciprocal", [root], [node.Name]);
                break;
            case "Softmax":
                _graph.Node("Softmax", [Value(node.Inputs[0])], [node.Name], OnnxAttribute.Int("axis", -1));
                break;
            case "ConcatV2":
                var count = node.Inputs.Count(i => !i.StartsWith('^')) - 1;
                var parts = node.Inputs.Take(count).Select(Value).ToArray();
                if (SoleConsumer(node) is { Op: "Relu" } relu)
                {
                    // relu(concat(a, b)) = concat(relu(a), relu(b)): a convolution's part is rectified as it is computed
                    // (ONNX Runtime fuses the ReLU into it), so only the other parts take a pass of their own.
                    parts = [.. parts.Select(part => { var rectified = Temporary(relu.Name); _graph.Node("Relu", [part], [rectified]); return rectified; })];
                    _reluBefore.Add(relu.Name);
                }
                _graph.Node("Concat", parts, [node.Name], OnnxAttribute.Int("axis", ConstantInts(node, count).Single()));
                break;
            case "Reshape":
                _graph.Node("Reshape", [Value(node.Inputs[0]), Int64s(node.Name, ConstantInts(node, 1))], [node.Name]);
                break;
            case "Transpose":
                _graph.Node("Transpose", [Value(node.Inputs[0])], [node.Name], OnnxAttribute.Ints("perm", ConstantInts(node, 1)));
                break;
            case "Squeeze":
                _graph.Node("Squeeze", [Value(node.Inputs[0]), Int64s(node.Name, node.Ints("squeeze_dims"))], [node.Name]);
                break;
            case "ExpandDims":
                _graph.Node("Unsqueeze", [Value(node.Inputs[0]), Int64s(node.Name, ConstantInts(node, 1))], [node.Name]);
                break;
            case "Pad" or "PadV2":
                EmitPad(node);
                break;
            default:
                throw new InvalidDataException($"{_source}: operation {node.Op} (node '{node.Name}') is not supported by Reel's TensorFlow.js converter");
        }
    }

    private void CheckAxesConstant(TfjsNode node) => _ = Constant(node, 1);

    /// <summary>A mean over an NHWC image's height and width (global average pooling), which ONNX Runtime runs in its fast layout.</summary>
    private void EmitSpatialMean(TfjsNode node)
    {
        var pooled = Temporary(node.Name);
        var (input, factor) = ValueAndFactor(node.Inputs[0]);
        _graph.Node("GlobalAveragePool", [Transpose(input, ToNchwPerm)], [pooled]);
        var mean = factor == 1f ? node.Name : Temporary(node.Name);
        if (node.Bool("keep_dims"))
        {
            _graph.Node("Transpose", [pooled], [mean], OnnxAttribute.Ints("perm", ToNhwcPerm));
        }
        else
        {
            _graph.Node("Flatten", [pooled], [mean], OnnxAttribute.Int("axis", 1));
        }
        if (mean != node.Name)
        {
            Scaled(node, mean, factor);
        }
    }

    /// <summary>
    /// MobileNetV3's hard activations as TensorFlow spells them, <c>c × relu6(x + 3)</c> (hard sigmoid) and
    /// <c>(c × x) × relu6(x + 3)</c> (hard swish), become one ONNX activation and a scale: four passes over a
    /// feature map become two.
    /// </summary>
    private void FindHardActivations()
    {
        foreach (var node in _model.Nodes.Where(n => n.Op == "Mul" && n.Inputs.Count == 2))
        {
            for (var side = 0; side < 2; side++)
            {
                var other = NodeOf(NodeName(node.Inputs[1 - side]));
                if (ReluOfPlusThree(node.Inputs[side]) is not { } x)
                {
                    continue;
                }
                if (ScalarConstant(other.Name) is { } gate)
                {
                    _fused[node.Name] = ("HardSigmoid", x, gate);
                    break;
                }
                if (other.Op == "Mul" && other.Inputs.Count == 2)
                {
                    for (var k = 0; k < 2; k++)
                    {
                        if (ScalarConstant(NodeName(other.Inputs[k])) is { } scale && NodeName(other.Inputs[1 - k]) == NodeName(x))
                        {
                            _fused[node.Name] = ("HardSwish", x, scale);
                        }
                    }
                }
            }
        }
    }

    /// <summary>x when <paramref name="tensor"/> is relu6(x + 3).</summary>
    private string? ReluOfPlusThree(string tensor)
    {
        var relu = NodeOf(NodeName(tensor));
        if (relu.Op != "Relu6")
        {
            return null;
        }
        var add = NodeOf(NodeName(relu.Inputs[0]));
        if (add.Op is not ("Add" or "AddV2") || add.Inputs.Count != 2)
        {
            return null;
        }
        for (var k = 0; k < 2; k++)
        {
            if (ScalarConstant(NodeName(add.Inputs[k])) == 3f)
            {
                return add.Inputs[1 - k];
            }
        }
        return null;
    }

    private float? ScalarConstant(string nodeName) =>
        _nodes.TryGetValue(nodeName, out var node) && node.Op == "Const" && _model.Weights.TryGetValue(nodeName, out var w) && w.Floats is [var value]
            ? value
            : null;

    private void EmitInput(TfjsNode node)
    {
        var shape = node.Shape().Select(d => d < 0 ? 1 : d).ToArray();
        if (shape.Length != 4)
        {
            _graph.Input(node.Name, shape);
            return;
        }
        (_exportedHeight, _exportedWidth) = (shape[1], shape[2]);
        if (_size is { } size)
        {
            if (size.Width <= 0 || size.Height <= 0)
            {
                throw new InvalidDataException($"{_source}: input {OnnxModel.FormatShape(shape)} cannot be converted for a {size.Width} × {size.Height} input");
            }
            (shape[1], shape[2]) = (size.Height, size.Width);
        }
        // Reel feeds NCHW; the graph continues in TensorFlow's NHWC.
        _graph.Input(node.Name, shape[0], shape[3], shape[1], shape[2]);
        _renamed[node.Name] = Transpose(node.Name, ToNhwcPerm);
    }

    private void CheckNhwc(TfjsNode node)
    {
        var format = node.String("data_format", "NHWC");
        if (format != "NHWC")
        {
            throw new InvalidDataException($"{_source}: {node.Op} '{node.Name}' uses data format {format}; only NHWC is supported");
        }
    }

    private OnnxAttribute[] Window(TfjsNode node, long[]? kernel)
    {
        var attributes = new List<OnnxAttribute>();
        if (kernel is not null)
        {
            attributes.Add(OnnxAttribute.Ints("kernel_shape", kernel));
        }
        var strides = node.Ints("strides");
        attributes.Add(OnnxAttribute.Ints("strides", strides.Length == 4 ? [strides[1], strides[2]] : [1, 1]));
        var padding = node.String("padding", "VALID");
        switch (padding)
        {
            case "SAME":
                // TensorFlow puts the odd padding pixel at the bottom and right, as SAME_UPPER does.
                attributes.Add(OnnxAttribute.String("auto_pad", "SAME_UPPER"));
                break;
            case "VALID":
                attributes.Add(OnnxAttribute.String("auto_pad", "VALID"));
                break;
            case "EXPLICIT":
                var pads = node.Ints("explicit_paddings");
                attributes.Add(OnnxAttribute.Ints("pads", pads[2], pads[4], pads[3], pads[5]));
                break;
            default:
                throw new InvalidDataException($"{_source}: {node.Op} '{node.Name}' has padding {padding}");
        }
        return [.. attributes];
    }

    /// <summary>Channel counts ONNX Runtime's blocked (NCHWc) convolutions take whole; AVX-512 blocks are 16 channels.</summary>
    private const long ChannelBlock = 16;

    private void EmitConvolution(TfjsNode node)
    {
        CheckNhwc(node);
        var depthwise = node.Op.Contains("Depthwise", StringComparison.Ordinal);
        var weights = Constant(node, 1);
        if (weights.Shape.Length != 4 || weights.Floats is null)
        {
            throw new InvalidDataException($"{_source}: {node.Op} '{node.Name}' needs a 4-D float filter");
        }
        var (kh, kw, inputs, outputs) = (weights.Shape[0], weights.Shape[1], weights.Shape[2], weights.Shape[3]);
        var onnxOutputs = depthwise ? inputs * outputs : outputs;

        // The input as the graph holds it: with a factor to take into the weights, and with zero channels appended
        // (a depthwise convolution keeps them, at zero weights; a full one gives them zero weights).
        var (input, factor, paddedInputs) = (null as string, 1f, inputs);
        if (_padded.TryGetValue(Key(node.Inputs[0]), out var padded) && padded.Channels == inputs && (!depthwise || outputs == 1))
        {
            (input, paddedInputs) = (padded.Value, padded.Width);
        }
        else
        {
            (input, factor) = ValueAndFactor(node.Inputs[0]);
        }
        // A thin output (a channel count ONNX Runtime cannot block) feeding only convolutions gets zero channels up
        // to a whole block, so those convolutions stay in the blocked layout instead of falling back to plain NCHW.
        var onnxPadded = depthwise ? paddedInputs * outputs
            : onnxOutputs % ChannelBlock != 0 && OnlyConvolutionsConsume(node) ? (onnxOutputs + ChannelBlock - 1) / ChannelBlock * ChannelBlock
            : onnxOutputs;

        var fused = node.Strings("fused_ops");
        // A linear convolution added to a value that carries a factor k (a residual connection after a hard
        // activation) computes its output divided by k, so the sum carries k too and needs no multiplication.
        var residual = fused is ["BiasAdd"] && onnxPadded == onnxOutputs && SoleConsumer(node) is { Op: "Add" or "AddV2" } add
            && add.Inputs.Count == 2 && add.Inputs.FirstOrDefault(i => NodeName(i) != node.Name) is { } other
            && _scaled.TryGetValue(Key(other), out var otherScaled) ? otherScaled.Factor : 1f;

        var reordered = new float[onnxPadded * (depthwise ? 1 : paddedInputs) * kh * kw];
        // TensorFlow: [kh, kw, in, out] (depthwise: [kh, kw, in, multiplier], output channel in × multiplier + m).
        // ONNX: [out, in / group, kh, kw].
        for (var y = 0; y < kh; y++)
        {
            for (var x = 0; x < kw; x++)
            {
                for (var i = 0; i < inputs; i++)
                {
                    for (var o = 0; o < outputs; o++)
                    {
                        var source = (((((y * kw) + x) * inputs) + i) * outputs) + o;
                        var target = depthwise
                            ? ((((i * outputs) + o) * kh) + y) * kw + x
                            : ((((o * paddedInputs) + i) * kh) + y) * kw + x;
                        reordered[target] = weights.Floats[source] * factor / residual;
                    }
                }
            }
        }
        var weightName = Temporary(node.Name + "/weights");
        _graph.Initializer(weightName, depthwise ? [onnxPadded, 1, kh, kw] : [onnxPadded, paddedInputs, kh, kw], reordered);
        var convInputs = new List<string> { Transpose(input, ToNchwPerm), weightName };

        if (fused.Length > 0)
        {
            if (fused[0] != "BiasAdd")
            {
                throw new InvalidDataException($"{_source}: {node.Op} '{node.Name}' fuses {string.Join("+", fused)}; only BiasAdd and an activation are supported");
            }
            var bias = Constant(node, 2).Floats ?? throw new InvalidDataException($"{_source}: '{node.Name}' has a non-float bias");
            var biasName = Temporary(node.Name + "/bias");
            var paddedBias = new float[onnxPadded];
            for (var i = 0; i < bias.Length; i++)
            {
                paddedBias[i] = bias[i] / residual;
            }
            _graph.Initializer(biasName, [onnxPadded], paddedBias);
            convInputs.Add(biasName);
        }
        var attributes = Window(node, [kh, kw]).ToList();
        var dilations = node.Ints("dilations");
        if (dilations.Length == 4)
        {
            attributes.Add(OnnxAttribute.Ints("dilations", dilations[1], dilations[2]));
        }
        if (depthwise)
        {
            attributes.Add(OnnxAttribute.Int("group", paddedInputs));
        }
        var convolved = Temporary(node.Name);
        _graph.Node("Conv", [.. convInputs], [convolved], [.. attributes]);
        if (fused.Length > 2)
        {
            throw new InvalidDataException($"{_source}: {node.Op} '{node.Name}' fuses {string.Join("+", fused)}; only BiasAdd and one activation are supported");
        }
        if (fused.Length == 2)
        {
            var activated = Temporary(node.Name);
            EmitActivation(fused[1], convolved, activated, node.Float("leakyrelu_alpha", 0.2f));
            convolved = activated;
        }
        if (residual != 1f)
        {
            _scaled[node.Name] = (Transpose(convolved, ToNhwcPerm), residual);
            return;
        }
        if (onnxPadded == onnxOutputs)
        {
            if (fused.Length < 2 && SoleConsumer(node) is { Op: "Relu" or "Relu6" or "LeakyRelu" or "Sigmoid" or "Tanh" } activation
                && !_fused.ContainsKey(activation.Name))
            {
                // The activation comes next: it takes the NCHW output (see Emit), and the transpose is made only if asked for.
                _nchw[node.Name] = convolved;
                return;
            }
            _graph.Node("Transpose", [convolved], [node.Name], OnnxAttribute.Ints("perm", ToNhwcPerm));
            return;
        }
        _padded[node.Name] = (Transpose(convolved, ToNhwcPerm), onnxOutputs, onnxPadded);
    }

    private TfjsNode? SoleConsumer(TfjsNode node) =>
        _consumers.TryGetValue(node.Name, out var consumers) && consumers.Count == 1 ? consumers[0] : null;

    /// <summary>Whether every consumer of <paramref name="node"/> is a convolution that can take zero channels appended to its input.</summary>
    private bool OnlyConvolutionsConsume(TfjsNode node) =>
        _consumers.TryGetValue(node.Name, out var consumers) && consumers.Count > 0 && consumers.All(c =>
            !_fused.ContainsKey(c.Name) && NodeName(c.Inputs[0]) == node.Name && !c.Inputs.Skip(1).Any(i => NodeName(i) == node.Name)
            && c.Op switch
            {
                "Conv2D" or "_FusedConv2D" => true,
                // A depthwise convolution keeps the zero channels, so its own consumers must take them too.
                "DepthwiseConv2dNative" or "FusedDepthwiseConv2dNative" => Constant(c, 1).Shape is [_, _, _, 1] && OnlyFullConvolutionsConsume(c),
                _ => false,
            });

    private bool OnlyFullConvolutionsConsume(TfjsNode node) =>
        _consumers.TryGetValue(node.Name, out var consumers) && consumers.Count > 0 && consumers.All(c =>
            !_fused.ContainsKey(c.Name) && c.Op is "Conv2D" or "_FusedConv2D" && NodeName(c.Inputs[0]) == node.Name);

    private void EmitActivation(string op, string input, string output, float alpha)
    {
        switch (op)
        {
            case "Relu" or "Sigmoid" or "Tanh" or "Elu" or "Exp" or "Sqrt" or "Neg" or "Abs":
                _graph.Node(op, [input], [output]);
                break;
            case "Relu6":
                _graph.Node("Clip", [input, Floats(output, 0), Floats(output, 6)], [output]);
                break;
            case "LeakyRelu":
                _graph.Node("LeakyRelu", [input], [output], OnnxAttribute.Float("alpha", alpha));
                break;
            default:
                throw new InvalidDataException($"{_source}: activation {op} ('{output}') is not supported by Reel's TensorFlow.js converter");
        }
    }

    private void EmitPool(TfjsNode node)
    {
        CheckNhwc(node);
        var ksize = node.Ints("ksize");
        var pooled = Temporary(node.Name);
        _graph.Node(node.Op == "MaxPool" ? "MaxPool" : "AveragePool", [Transpose(Value(node.Inputs[0]), ToNchwPerm)], [pooled],
            Window(node, [ksize[1], ksize[2]]));
        _graph.Node("Transpose", [pooled], [node.Name], OnnxAttribute.Ints("perm", ToNhwcPerm));
    }

    private void EmitResize(TfjsNode node)
    {
        var size = ConstantInts(node, 1);
        if (_size is { } input && _exportedHeight > 0)
        {
            // A resize to a fixed size keeps its ratio to the input, as the whole network does.
            size = [Scale(node, size[0], input.Height, _exportedHeight), Scale(node, size[1], input.Width, _exportedWidth)];
        }
        var nchw = Transpose(Value(node.Inputs[0]), ToNchwPerm);
        // Resize wants the whole output shape: batch and channels from the input, height and width from the graph.
        var shape = Temporary(node.Name);
        _graph.Node("Shape", [nchw], [shape]);
        var batchAndChannels = Temporary(node.Name);
        _graph.Node("Slice", [shape, Int64s(node.Name, [0]), Int64s(node.Name, [2])], [batchAndChannels]);
        var sizes = Temporary(node.Name);
        _graph.Node("Concat", [batchAndChannels, Int64s(node.Name, size)], [sizes], OnnxAttribute.Int("axis", 0));
        var transform = node.Bool("align_corners") ? "align_corners" : node.Bool("half_pixel_centers") ? "half_pixel" : "asymmetric";
        var resized = Temporary(node.Name);
        var attributes = new List<OnnxAttribute>
        {
            OnnxAttribute.String("mode", node.Op == "ResizeBilinear" ? "linear" : "nearest"),
            OnnxAttribute.String("coordinate_transformation_mode", transform),
        };
        if (node.Op != "ResizeBilinear")
        {
            // TensorFlow rounds half-pixel nearest neighbours half up and otherwise floors.
            attributes.Add(OnnxAttribute.String("nearest_mode", node.Bool("half_pixel_centers") ? "round_prefer_ceil" : "floor"));
        }
        _graph.Node("Resize", [nchw, "", "", sizes], [resized], [.. attributes]);
        _graph.Node("Transpose", [resized], [node.Name], OnnxAttribute.Ints("perm", ToNhwcPerm));
    }

    private long Scale(TfjsNode node, long size, long input, long exported) =>
        size * input % exported == 0
            ? size * input / exported
            : throw new InvalidDataException($"{_source}: {node.Op} '{node.Name}' to {size} does not scale from a {exported}- to a {input}-pixel input");

    private void EmitPad(TfjsNode node)
    {
        var paddings = ConstantInts(node, 1);
        var rank = paddings.Length / 2;
        var pads = new long[paddings.Length];
        for (var i = 0; i < rank; i++)
        {
            pads[i] = paddings[2 * i];
            pads[rank + i] = paddings[(2 * i) + 1];
        }
        var value = node.Op == "PadV2" ? Constant(node, 2).Floats?.Single() ?? 0 : 0;
        _graph.Node("Pad", [Value(node.Inputs[0]), Int64s(node.Name, pads), Floats(node.Name, value)], [node.Name],
            OnnxAttribute.String("mode", "constant"));
    }
}
