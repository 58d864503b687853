using System.Text.Json;
using Reel.Operators.Onnx;
using Reel.Operators.Tfjs;
using Reel.Testing;

namespace Reel.Operators.Tests;

public sealed class TfjsConverterTests
{
    /// <summary>
    /// A TensorFlow.js graph: a 4×4 one-channel NHWC image through a 3×3 convolution (weights 1, stored as float16,
    /// SAME padding) with a fused bias of 0.5 and a ReLU. On an all-ones image each output counts its in-picture
    /// neighbours: 4 at the corners, 6 on the edges, 9 inside, plus the bias.
    /// </summary>
    private static string WriteModel(string dir, string op = "_FusedConv2D", float weight = 1)
    {
        var half = BitConverter.GetBytes(BitConverter.HalfToUInt16Bits((Half)weight));
        var bin = Enumerable.Repeat(half, 9).SelectMany(b => b).Concat(BitConverter.GetBytes(0.5f)).ToArray();
        File.WriteAllBytes(Path.Combine(dir, "tiny.bin"), bin);
        static string B64(string s) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(s));
        var model = new
        {
            format = "graph-model",
            modelTopology = new
            {
                node = new object[]
                {
                    new { name = "image", op = "Placeholder", attr = new { shape = new { shape = new { dim = new[] { new { size = "1" }, new { size = "4" }, new { size = "4" }, new { size = "1" } } } } } },
                    new { name = "w", op = "Const" },
                    new { name = "b", op = "Const" },
                    new
                    {
                        name = "conv",
                        op,
                        input = new[] { "image", "w", "b" },
                        attr = new Dictionary<string, object>
                        {
                            ["strides"] = new { list = new { i = new[] { "1", "1", "1", "1" } } },
                            ["padding"] = new { s = B64("SAME") },
                            ["data_format"] = new { s = B64("NHWC") },
                            ["fused_ops"] = new { list = new { s = new[] { B64("BiasAdd"), B64("Relu") } } },
                        },
                    },
                    new { name = "out", op = "Identity", input = new[] { "conv" } },
                },
            },
            weightsManifest = new[]
            {
                new
                {
                    paths = new[] { "tiny.bin" },
                    weights = new object[]
                    {
                        new { name = "w", shape = new[] { 3, 3, 1, 1 }, dtype = "float32", quantization = new { dtype = "float16", original_dtype = "float32" } },
                        new { name = "b", shape = new[] { 1 }, dtype = "float32" },
                    },
                },
            },
        };
        var path = Path.Combine(dir, "tiny.json");
        File.WriteAllText(path, JsonSerializer.Serialize(model));
        return path;
    }

    [Fact]
    public void Convert_FusedConvolution_GivesTensorFlowsSamePaddingResult()
    {
        var dir = TestMedia.TempDirectory();
        var onnx = ConvertedModels.Onnx(WriteModel(dir), ["out"], Path.Combine(dir, "cache"));

        using var model = OnnxModel.Load(onnx);
        Assert.Equal([1, 1, 4, 4], model.InputShape);
        model.Bind([1, 1, 4, 4]);
        model.Input.AsSpan().Fill(1);
        using var outputs = model.Run();

        float[] expected = [4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4];
        Assert.Equal(expected.Select(v => v + 0.5f), outputs[0].GetTensorDataAsSpan<float>().ToArray());
    }

    [Fact]
    public void Convert_CenterNetAtAnotherInputSize_ScalesTheGridAndAtTheExportedSizeChangesNothing()
    {
        var json = Reel.Operators.Faces.ModelFiles.Find("centernet.json", Reel.Operators.Faces.ModelFiles.HumanModels);
        var graph = TfjsGraphModel.Load(json);
        var outputs = Reel.Operators.Objects.CenterNetDetector.Outputs;

        Assert.Equal(TfjsToOnnx.Convert(graph, json, outputs), TfjsToOnnx.Convert(graph, json, outputs, (512, 512)));

        // 1080p as Reel feeds it: 640 × 352, so the heatmap is 160 × 88 cells.
        var dir = TestMedia.TempDirectory();
        var path = Path.Combine(dir, "centernet-640x352.onnx");
        File.WriteAllBytes(path, TfjsToOnnx.Convert(graph, json, outputs, (640, 352)));
        using var model = OnnxModel.Load(path, outputs);
        Assert.Equal([1, 3, 352, 640], model.InputShape);
        model.Bind([1, 3, 352, 640]);
        using var results = model.Run();
        Assert.Equal([1L, 88, 160, 80], results[0].GetTensorTypeAndShape().Shape);
        Assert.Equal([1L, 88, 160, 4], results[1].GetTensorTypeAndShape().Shape);

        // 600 is not a multiple of the coarsest stride: its upsampling cannot keep the skip connections' sizes.
        var error = Assert.Throws<InvalidDataException>(() => TfjsToOnnx.Convert(graph, json, outputs, (600, 352)));
        Assert.Contains("ResizeBilinear", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Onnx_SameModelTwice_ConvertsOnceAndNewWeightsMakeANewFile()
    {
        var dir = TestMedia.TempDirectory();
        var cache = Path.Combine(dir, "cache");
        var json = WriteModel(dir);

        var first = ConvertedModels.Onnx(json, ["out"], cache);
        var written = File.GetLastWriteTimeUtc(first);
        File.SetLastWriteTimeUtc(first, written.AddHours(-1));
        var second = ConvertedModels.Onnx(json, ["out"], cache);
        WriteModel(dir, weight: 2);
        var third = ConvertedModels.Onnx(json, ["out"], cache);

        Assert.Equal(first, second);
        Assert.Equal(written.AddHours(-1), File.GetLastWriteTimeUtc(second));
        Assert.NotEqual(first, third);
        Assert.Equal(2, Directory.GetFiles(cache, "*.onnx").Length);
    }

    [Fact]
    public void Onnx_CacheFolderCannotBeMade_ConvertsIntoTheTemporaryFolder()
    {
        var dir = TestMedia.TempDirectory();
        // A file where the cache folder should be: creating the folder fails, as on a read-only home.
        var blocked = Path.Combine(dir, "not-a-folder");
        File.WriteAllText(blocked, "");

        var path = ConvertedModels.Onnx(WriteModel(dir), ["out"], blocked);

        Assert.StartsWith(Path.Combine(Path.GetTempPath(), "reel-models"), path, StringComparison.Ordinal);
        using var model = OnnxModel.Load(path);
        Assert.Equal([1, 1, 4, 4], model.InputShape);
    }

    [Fact]
    public void Convert_UnknownOperation_NamesTheOperationAndNode()
    {
        var dir = TestMedia.TempDirectory();
        var json = WriteModel(dir, op: "Cumsum");

        var error = Assert.Throws<InvalidDataException>(() => ConvertedModels.Onnx(json, ["out"], Path.Combine(dir, "cache")));

        Assert.Contains("operation Cumsum (node 'conv') is not supported", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(dir, "cache")) && Directory.GetFiles(Path.Combine(dir, "cache")).Length > 0);
    }

    [Fact]
    public void Load_MissingWeightShard_SaysWhichFile()
    {
        var dir = TestMedia.TempDirectory();
        var json = WriteModel(dir);
        File.Delete(Path.Combine(dir, "tiny.bin"));

        var error = Assert.Throws<FileNotFoundException>(() => TfjsGraphModel.Load(json));

        Assert.Contains("tiny.bin: weight shard not found", error.Message, StringComparison.Ordinal);
    }
}
