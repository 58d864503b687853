using Reel.Operators.Onnx;
using Reel.Testing;

namespace Reel.Operators.Tests.Onnx;

/// <summary>A box a fake YOLO model reports, in model input pixels.</summary>
internal readonly record struct FakeBox(float Cx, float Cy, float W, float H, int ClassId, float Score, float Objectness = 1);

/// <summary>ONNX models with known outputs, written to temporary files.</summary>
internal static class TestModels
{
    /// <summary>
    /// A detector whose output is always <paramref name="output"/> (a Constant node). The picture still flows into the
    /// graph, multiplied by zero, so the input is a live one that ONNX Runtime checks.
    /// </summary>
    public static string ConstantDetector(string name, long[] inputDims, long[] outputDims, float[] output) =>
        new OnnxGraph(name)
            .Input("images", inputDims)
            .Initializer("zero", [1], [0f])
            .Node("Constant", [], ["boxes"], OnnxAttribute.Tensor("value", outputDims, output))
            .Node("ReduceMean", ["images"], ["mean"], OnnxAttribute.Ints("axes", 1, 2, 3), OnnxAttribute.Int("keepdims", 0))
            .Node("Mul", ["mean", "zero"], ["nothing"])
            .Node("Add", ["boxes", "nothing"], ["output0"])
            .Output("output0", outputDims)
            .Save();

    /// <summary>YOLOv8 output [1, 4+C, N]: one column per box, the box's class scoring its score and the others 0.</summary>
    public static float[] YoloV8Output(int classes, params FakeBox[] boxes)
    {
        var n = boxes.Length;
        var output = new float[(4 + classes) * n];
        for (var i = 0; i < n; i++)
        {
            var box = boxes[i];
            output[i] = box.Cx;
            output[n + i] = box.Cy;
            output[(2 * n) + i] = box.W;
            output[(3 * n) + i] = box.H;
            output[((4 + box.ClassId) * n) + i] = box.Score;
        }
        return output;
    }

    /// <summary>YOLOv5 output [1, N, 5+C]: one row per box, objectness then class scores (the box's class scoring its score).</summary>
    public static float[] YoloV5Output(int classes, params FakeBox[] boxes)
    {
        var output = new float[(5 + classes) * boxes.Length];
        for (var i = 0; i < boxes.Length; i++)
        {
            var box = boxes[i];
            var row = output.AsSpan(i * (5 + classes), 5 + classes);
            (row[0], row[1], row[2], row[3], row[4]) = (box.Cx, box.Cy, box.W, box.H, box.Objectness);
            row[5 + box.ClassId] = box.Score;
        }
        return output;
    }

    /// <summary>
    /// A grey-face classifier [1, 1, side, side] → [1, C]: logits = mean pixel value × weights + bias, optionally
    /// through Softmax so it outputs probabilities.
    /// </summary>
    public static string GreyClassifier(float[] weights, float[] bias, bool softmax = false, int side = 64)
    {
        var classes = weights.Length;
        var graph = new OnnxGraph("grey-classifier")
            .Input("Input3", 1, 1, side, side)
            .Initializer("weights", [1, classes], weights)
            .Initializer("bias", [1, classes], bias)
            .Node("ReduceMean", ["Input3"], ["mean"], OnnxAttribute.Ints("axes", 1, 2, 3), OnnxAttribute.Int("keepdims", 0))
            .Node("Mul", ["mean", "weights"], ["scaled"])
            .Node("Add", ["scaled", "bias"], [softmax ? "logits" : "scores"]);
        if (softmax)
        {
            graph.Node("Softmax", ["logits"], ["scores"], OnnxAttribute.Int("axis", 1));
        }
        return graph.Output("scores", 1, classes).Save();
    }

    /// <summary>
    /// A colour classifier [1, 3, side, side] → [1, C]: logits = per-channel mean pixel values (a row of 3) × weights
    /// [3, C] + bias.
    /// </summary>
    public static string ColorClassifier(float[,] weights, float[] bias, int side = 32)
    {
        var classes = bias.Length;
        var flat = new float[3 * classes];
        for (var c = 0; c < 3; c++)
        {
            for (var k = 0; k < classes; k++)
            {
                flat[(c * classes) + k] = weights[c, k];
            }
        }
        return new OnnxGraph("color-classifier")
            .Input("input", 1, 3, side, side)
            .Initializer("weights", [3, classes], flat)
            .Initializer("bias", [1, classes], bias)
            .Node("ReduceMean", ["input"], ["means"], OnnxAttribute.Ints("axes", 2, 3), OnnxAttribute.Int("keepdims", 0))
            .Node("MatMul", ["means", "weights"], ["scaled"])
            .Node("Add", ["scaled", "bias"], ["scores"])
            .Output("scores", 1, classes)
            .Save();
    }
}

internal static class OnnxGraphFiles
{
    /// <summary>Writes the model into a fresh temporary directory and returns its path.</summary>
    public static string Save(this OnnxGraph graph)
    {
        var path = Path.Combine(TestMedia.TempDirectory(), graph.Name + ".onnx");
        File.WriteAllBytes(path, graph.ToBytes());
        return path;
    }
}
