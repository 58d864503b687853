using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using OpenCvSharp;
using Reel.Operators.Analysis;
using Reel.Operators.Emotions;
using Reel.Operators.Faces;
using Reel.Operators.Objects;
using Reel.Testing;

namespace Reel.Operators.Tests;

/// <summary>
/// The bundled models as Reel runs them (converted to ONNX, ONNX Runtime) against the same models in their original
/// runtime (TensorFlow.js, CPU backend, from node_modules): the same input tensors, taken from Reel's own
/// pre-processing of real frames, must give the same raw outputs within 1e-4 (max absolute difference). CenterNet's
/// box extents come out in input pixels (0..512, the graph scales them by 16), so they are compared as fractions of
/// the input side, the unit its own runtime reports boxes in (Human's <c>boxRaw</c>); float32 rounding alone moves
/// a 300-pixel extent by about 1e-3 pixels. The TensorFlow.js graph only runs at its exported 512 × 512 input, so
/// CenterNet is compared there; Reel's own input shape is the same conversion with a different input and resize sizes
/// (TfjsConverterTests: the same bytes at the exported size).
/// </summary>
public sealed class TfjsReferenceTests
{
    private const float Tolerance = 1e-4f;

    [Fact]
    public void BundledModels_OnRealFrames_MatchTensorFlowJs()
    {
        var dir = TestMedia.TempDirectory();
        var cases = new List<object>();
        var reel = new Dictionary<string, float[][]>();
        var centerNetJson = ModelFiles.Find("centernet.json", ModelFiles.HumanModels);
        var emotionJson = ModelFiles.Find("emotion.json", ModelFiles.HumanModels);

        using (var detector = new CenterNetDetector(null, side: null))
        {
            var name = "";
            detector.Inspect = (input, outputs) =>
            {
                Write(dir, name, input);
                reel[name] = outputs;
                cases.Add(new { model = centerNetJson, input = name, shape = new[] { 1, 3, 512, 512 }, outputs = CenterNetDetector.Outputs.Append("tower_0/detections") });
            };
            foreach (var (frameName, picture) in Pictures())
            {
                using (picture)
                {
                    name = $"centernet-{frameName}.f32";
                    detector.Detect(picture);
                }
            }
        }

        using (var faces = FaceDetectors.Create(FaceModel.ShortRange, FaceTiling.Dense))
        using (var classifier = new EmotionClassifier(BundledEmotionModel.Options(), faces))
        {
            var count = 0;
            classifier.Inspect = (input, output) =>
            {
                var name = $"emotion-{count++}.f32";
                Write(dir, name, input);
                reel[name] = [output];
                cases.Add(new { model = emotionJson, input = name, shape = new[] { 1, 1, 64, 64 }, outputs = new[] { BundledEmotionModel.Output } });
            };
            foreach (var (_, picture) in Pictures())
            {
                using var frame = new AnalysisFrame(picture, 0, 0);
                classifier.Analyze(frame);
            }
            Assert.True(count >= 5, $"expected at least 5 faces for the emotion check, found {count}");
        }

        File.WriteAllText(Path.Combine(dir, "cases.json"), JsonSerializer.Serialize(cases));
        var script = Path.Combine(TestMedia.RepositoryRoot, "tests", "Reel.Operators.Tests", "Reference", "tfjs-reference.mjs");
        // TF.js's CPU backend takes about a minute here on a quiet machine, many more when two cores are shared.
        var (exit, stdout, stderr) = TestMedia.Run("node", $"\"{script}\" \"{dir}\"", check: false, limit: TimeSpan.FromMinutes(15));
        Assert.True(exit == 0, $"node {script} failed ({exit}): {stderr}");
        Assert.Equal(cases.Count, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        var compared = 0;
        foreach (var (name, outputs) in reel)
        {
            for (var k = 0; k < outputs.Length; k++)
            {
                var expected = Read(dir, name, k);
                Assert.Equal(expected.Length, outputs[k].Length);
                var unit = name.StartsWith("centernet", StringComparison.Ordinal) && k == 1 ? CenterNetDetector.InputSize : 1f;
                var worst = expected.Zip(outputs[k], (a, b) => Math.Abs(a - b) / unit).Max();
                Assert.True(worst <= Tolerance, $"{name} output {k}: max abs difference {worst} > {Tolerance}");
            }
            if (name.StartsWith("centernet", StringComparison.Ordinal))
            {
                compared += AssertDecoderMatchesGraph(name, outputs, Read(dir, name, 2));
            }
            else
            {
                Assert.Equal(1, outputs[0].Sum(), 1e-4f);
            }
        }
        // The frames are not empty to the model: the outputs compared hold real detections.
        Assert.True(compared >= 10, $"only {compared} CenterNet detections to compare");
    }

    /// <summary>
    /// Reel's decoder on Reel's outputs gives the boxes the graph's own decoding nodes give (tower_0/detections);
    /// returns how many were compared.
    /// </summary>
    private static int AssertDecoderMatchesGraph(string name, float[][] outputs, float[] graphDetections)
    {
        const float threshold = 0.1f;
        var decoded = CenterNetDetector.Decode(outputs[0], outputs[1], threshold, CenterNetDetector.InputSize / CenterNetDetector.Stride, CenterNetDetector.InputSize / CenterNetDetector.Stride);
        var expected = Enumerable.Range(0, CenterNetDetector.TopK)
            .Select(i => graphDetections.AsSpan(i * 6, 6).ToArray())
            .Where(d => d[4] >= threshold)
            .ToList();
        Assert.Equal(expected.Count, decoded.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var (e, d) = (expected[i], decoded[i]);
            Assert.True((int)e[5] == d.ClassId, $"{name} detection {i}: class {d.ClassId}, graph {e[5]}");
            float[] mine = [d.Box.X, d.Box.Y, d.Box.Right, d.Box.Bottom, d.Score];
            for (var j = 0; j < 5; j++)
            {
                // Corners as fractions of the input side, like the extents above; the score as it is.
                var unit = j < 4 ? CenterNetDetector.InputSize : 1f;
                Assert.True(Math.Abs(mine[j] - e[j]) / unit <= Tolerance, $"{name} detection {i} value {j}: {mine[j]} vs graph {e[j]}");
            }
        }
        return expected.Count;
    }

    /// <summary>Three samsungfun.mp4 frames (1080p) and team.jpg.</summary>
    private static IEnumerable<(string Name, Mat Picture)> Pictures()
    {
        foreach (var seconds in new[] { 1.0, 5.0, 9.0 })
        {
            var png = Path.Combine(TestMedia.TempDirectory(), "frame.png");
            TestMedia.Ffmpeg($"-v error -ss {seconds.ToString(CultureInfo.InvariantCulture)} -i \"{TestMedia.Fixture("samsungfun.mp4")}\" -frames:v 1 \"{png}\"");
            yield return ($"samsungfun-{seconds}s", Cv2.ImRead(png));
        }
        yield return ("team", Cv2.ImRead(TestMedia.Fixture("team.jpg")));
    }

    private static void Write(string dir, string name, float[] values) =>
        File.WriteAllBytes(Path.Combine(dir, name), MemoryMarshal.AsBytes(values.AsSpan()).ToArray());

    private static float[] Read(string dir, string name, int output) =>
        MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(Path.Combine(dir, $"{name[..^4]}.{output}.f32"))).ToArray();
}
