using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Reel.Operators.Onnx;

/// <summary>
/// One ONNX Runtime session with a single float32 input fed from a reusable buffer; shared by the ONNX operators.
/// Not thread-safe: one instance per worker thread.
/// </summary>
internal sealed class OnnxModel : IDisposable
{
    private readonly InferenceSession _session;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private OrtValue? _inputValue;

    private OnnxModel(string path, InferenceSession session, IReadOnlyList<string>? outputNames)
    {
        Path = path;
        _session = session;
        _inputNames = [session.InputNames[0]];
        _outputNames = outputNames is null ? [session.OutputNames[0]] : [.. outputNames];
        var input = session.InputMetadata[_inputNames[0]];
        InputShape = input.Dimensions;
        if (!input.IsTensor || input.ElementDataType != TensorElementType.Float)
        {
            throw new InvalidDataException($"{path}: the model's input '{_inputNames[0]}' is not a float32 tensor");
        }
        foreach (var name in _outputNames)
        {
            if (!session.OutputMetadata.TryGetValue(name, out var output))
            {
                throw new InvalidDataException($"{path}: the model has no output '{name}'");
            }
            if (!output.IsTensor || output.ElementDataType != TensorElementType.Float)
            {
                throw new InvalidDataException($"{path}: the model's output '{name}' is not a float32 tensor");
            }
        }
        OutputShape = session.OutputMetadata[_outputNames[0]].Dimensions;
    }

    public string Path { get; }

    /// <summary>The first input's dimensions from the model; -1 where dynamic.</summary>
    public IReadOnlyList<int> InputShape { get; }

    /// <summary>The first requested output's dimensions from the model; -1 where dynamic, empty where the model does not say.</summary>
    public IReadOnlyList<int> OutputShape { get; }

    /// <summary>The input tensor's data, row-major, sized by <see cref="Bind"/>.</summary>
    public float[] Input { get; private set; } = [];

    /// <summary>Opens a model with the settings Reel wants: one thread per session, since Reel parallelises across frames.</summary>
    /// <param name="path">The ONNX file.</param>
    /// <param name="outputNames">The outputs <see cref="Run"/> returns, in this order; null: the first output only.</param>
    public static OnnxModel Load(string path, IReadOnlyList<string>? outputNames = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path}: model file not found", path);
        }
        using var options = new SessionOptions
        {
            IntraOpNumThreads = 1,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        InferenceSession session;
        try
        {
            session = new InferenceSession(path, options);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{path}: not a readable ONNX model ({FirstLine(e.Message)})", e);
        }
        try
        {
            if (session.InputNames.Count != 1 || session.OutputNames.Count < 1)
            {
                throw new InvalidDataException(
                    $"{path}: expected a model with one input and at least one output, found {session.InputNames.Count} and {session.OutputNames.Count}");
            }
            return new OnnxModel(path, session, outputNames);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Fixes the input's shape (dynamic dimensions resolved by the caller) and allocates its buffer once.</summary>
    public void Bind(long[] shape)
    {
        _inputValue?.Dispose();
        var length = 1L;
        foreach (var dim in shape)
        {
            length *= dim;
        }
        Input = new float[length];
        _inputValue = OrtValue.CreateTensorValueFromMemory(Input, shape);
    }

    /// <summary>Runs the model on <see cref="Input"/>; the caller disposes the outputs, which come in the requested order.</summary>
    public IDisposableReadOnlyCollection<OrtValue> Run()
    {
        if (_inputValue is null)
        {
            throw new InvalidOperationException("Bind the input shape before running the model.");
        }
        try
        {
            return _session.Run(_runOptions, _inputNames, [_inputValue], _outputNames);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidDataException($"{Path}: the model failed to run ({FirstLine(e.Message)})", e);
        }
    }

    public static string FormatShape(IEnumerable<long> shape) => "[" + string.Join(", ", shape) + "]";

    public static string FormatShape(IEnumerable<int> shape) =>
        "[" + string.Join(", ", shape.Select(d => d < 0 ? "?" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";

    public void Dispose()
    {
        _inputValue?.Dispose();
        _runOptions.Dispose();
        _session.Dispose();
    }

    private static string FirstLine(string message)
    {
        var line = message.AsSpan().Trim();
        var end = line.IndexOfAny('\r', '\n');
        return (end < 0 ? line : line[..end]).ToString();
    }
}
