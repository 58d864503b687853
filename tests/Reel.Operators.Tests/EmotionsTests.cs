using OpenCvSharp;
using Reel.Operators.Emotions;
using Reel.Operators.Onnx;
using Reel.Operators.Tests.Onnx;
using Reel.Testing;

namespace Reel.Operators.Tests;

public sealed class EmotionsTests
{
    private const int Bright = 200;
    private const int Dark = 30;
    private const int Happiness = 1;
    private const int Sadness = 3;

    // Logits = mean grey × weights + bias: happiness wins on bright faces, sadness on dark ones (they tie at 50).
    private static readonly float[] Weights = [0, 0.05f, 0, -0.05f, 0, 0, 0, 0];
    private static readonly float[] Bias = [0, 0, 0, 5, 0, 0, 0, 0];

    private static readonly Lazy<string> LogitModel = new(() => TestModels.GreyClassifier(Weights, Bias));

    // In a 320×240 frame whose left half is bright and right half dark.
    private static readonly Box BrightFace = new(40, 60, 80, 100);
    private static readonly Box DarkFace = new(200, 60, 80, 100);

    [Fact]
    public void Emotions_BrightAndDarkFaces_GetDifferentLabels()
    {
        using var classifier = new EmotionClassifier(new EmotionOptions { ModelPath = LogitModel.Value }, new FixedFaces(BrightFace, DarkFace));
        using var frame = HalfBrightFrame();

        var result = classifier.Analyze(frame);

        Assert.Equal("emotions", result.Model);
        Assert.Equal((3, 1.5), (result.Frame, result.Time));
        Assert.True(result.InferenceMs > 0);
        Assert.Equal(["happiness", "sadness"], result.Detections.Select(d => d.Label));
        Assert.Equal([BrightFace, DarkFace], result.Detections.Select(d => d.Box));
        foreach (var detection in result.Detections)
        {
            Assert.NotNull(detection.Scores);
            Assert.Equal(EmotionClassifier.FerPlusLabels, detection.Scores.Keys);
            Assert.Equal(1, detection.Scores.Values.Sum(), 1e-5f);
            Assert.Equal(detection.Scores.Values.Max(), detection.Score);
            Assert.Equal(detection.Scores[detection.Label], detection.Score);
        }
    }

    [Fact]
    public void Emotions_LogitOutputs_SoftmaxedIntoScores()
    {
        using var classifier = new EmotionClassifier(new EmotionOptions { ModelPath = LogitModel.Value }, new FixedFaces(BrightFace));
        using var frame = HalfBrightFrame();

        var face = Assert.Single(classifier.Analyze(frame).Detections);

        AssertScores(Softmax(Logits(Bright)), face.Scores);
    }

    [Fact]
    public void Emotions_ProbabilityOutputs_KeptAsTheyAre()
    {
        var model = TestModels.GreyClassifier(Weights, Bias, softmax: true);
        using var classifier = new EmotionClassifier(new EmotionOptions { ModelPath = model }, new FixedFaces(BrightFace));
        using var frame = HalfBrightFrame();

        var face = Assert.Single(classifier.Analyze(frame).Detections);

        // A second softmax would flatten happiness from 0.9997 to about 0.28.
        AssertScores(Softmax(Logits(Bright)), face.Scores);
    }

    [Fact]
    public void Emotions_OutputsSummingToOneWithNegatives_SoftmaxedAsLogits()
    {
        float[] logits = [2, -1, 0, 0, 0, 0, 0, 0];
        var model = TestModels.GreyClassifier(new float[8], logits);
        using var classifier = new EmotionClassifier(new EmotionOptions { ModelPath = model }, new FixedFaces(BrightFace));
        using var frame = HalfBrightFrame();

        var face = Assert.Single(classifier.Analyze(frame).Detections);

        AssertScores(Softmax(logits), face.Scores);
    }

    [Fact]
    public void Emotions_HugeLogits_StillGiveFiniteProbabilities()
    {
        var probabilities = new float[3];

        EmotionClassifier.ToProbabilities([1000, 1000 - MathF.Log(3), -1000], probabilities);

        Assert.Equal(0.75f, probabilities[0], 1e-4f);
        Assert.Equal(0.25f, probabilities[1], 1e-4f);
        Assert.Equal(0f, probabilities[2], 1e-4f);
    }

    [Fact]
    public void Emotions_Margin_WidensTheCrop()
    {
        // A face in the dark half, 10 pixels from the bright half.
        var face = new Box(170, 60, 40, 100);
        using var frame = HalfBrightFrame();
        using var tight = new EmotionClassifier(new EmotionOptions { ModelPath = LogitModel.Value }, new FixedFaces(face));
        using var wide = new EmotionClassifier(new EmotionOptions { ModelPath = LogitModel.Value, Margin = 1 }, new FixedFaces(face));

        var tightLabel = Assert.Single(tight.Analyze(frame).Detections).Label;
        var wideLabel = Assert.Single(wide.Analyze(frame).Detections).Label;

        // The wide crop spans x 130..250: a quarter bright, mean grey 72.5.
        Assert.Equal("sadness", tightLabel);
        Assert.Equal("happiness", wideLabel);
    }

    [Fact]
    public void Emotions_Grayscale_ConvertsColourByLuma()
    {
        using var frame = new AnalysisFrame(new Mat(240, 320, MatType.CV_8UC3, Scalar.All(0)), index: 0, time: 0);
        Fill(frame.Bgr, new Rect(0, 0, 160, 240), new Scalar(255, 0, 0));
        Fill(frame.Bgr, new Rect(160, 0, 160, 240), new Scalar(0, 0, 255));
        using var classifier = new EmotionClassifier(new EmotionOptions { ModelPath = LogitModel.Value }, new FixedFaces(BrightFace, DarkFace));

        var detections = classifier.Analyze(frame).Detections;

        // Pure blue is grey 29 (dark), pure red grey 76 (bright): reading one colour channel instead flips both.
        Assert.True(classifier.Grayscale);
        Assert.Equal(["sadness", "happiness"], detections.Select(d => d.Label));
        AssertScores(Softmax(Logits(29)), detections[0].Scores, tolerance: 2e-3f);
    }

    [Fact]
    public void Emotions_ColourModel_GetsRgbPlanes()
    {
        var weights = new float[3, 8];
        weights[0, Happiness] = 0.05f;
        weights[2, Sadness] = 0.05f;
        var model = TestModels.ColorClassifier(weights, new float[8]);
        using var frame = new AnalysisFrame(new Mat(240, 320, MatType.CV_8UC3, Scalar.All(0)), index: 0, time: 0);
        Fill(frame.Bgr, new Rect(0, 0, 160, 240), new Scalar(0, 0, 255));
        Fill(frame.Bgr, new Rect(160, 0, 160, 240), new Scalar(255, 0, 0));
        using var classifier = new EmotionClassifier(new EmotionOptions { ModelPath = model }, new FixedFaces(BrightFace, DarkFace));

        var detections = classifier.Analyze(frame).Detections;

        Assert.False(classifier.Grayscale);
        Assert.Equal((32, 32), (classifier.InputWidth, classifier.InputHeight));
        Assert.Equal(["happiness", "sadness"], detections.Select(d => d.Label));
    }

    [Fact]
    public void Emotions_Normalization_AppliedBeforeTheModel()
    {
        var options = new EmotionOptions { ModelPath = LogitModel.Value, Scale = 1 / 255f, Mean = [0.5f], Std = [0.25f] };
        using var classifier = new EmotionClassifier(options, new FixedFaces(BrightFace));
        using var frame = HalfBrightFrame();

        var face = Assert.Single(classifier.Analyze(frame).Detections);

        AssertScores(Softmax(Logits(((Bright / 255f) - 0.5f) / 0.25f)), face.Scores);
        Assert.Equal("sadness", face.Label);
    }

    [Fact]
    public void Emotions_FacePastTheEdge_CropClampedOrSkipped()
    {
        var partly = new Box(-20, -20, 80, 80);
        var outside = new Box(400, 10, 50, 50);
        using var classifier = new EmotionClassifier(new EmotionOptions { ModelPath = LogitModel.Value }, new FixedFaces(partly, outside));
        using var frame = HalfBrightFrame();

        var face = Assert.Single(classifier.Analyze(frame).Detections);

        Assert.Equal(partly, face.Box);
        Assert.Equal("happiness", face.Label);
        Assert.Equal(new Rect(0, 0, 68, 68), EmotionClassifier.CropRect(partly, 0.1f, 320, 240));
    }

    [Fact]
    public void Emotions_LabelsFile_NamesTheOutputs()
    {
        var labels = Path.Combine(TestMedia.TempDirectory(), "emotions.txt");
        File.WriteAllLines(labels, ["calm", "glad", "amazed", "blue", "cross", "repelled", "afraid", "scornful"]);
        using var classifier = new EmotionClassifier(new EmotionOptions { ModelPath = LogitModel.Value, LabelsPath = labels },
            new FixedFaces(BrightFace, DarkFace));
        using var frame = HalfBrightFrame();

        var detections = classifier.Analyze(frame).Detections;

        Assert.Equal(["glad", "blue"], detections.Select(d => d.Label));
    }

    [Fact]
    public void Emotions_LabelCountDiffersFromOutputs_FailsNamingTheModel()
    {
        var options = new EmotionOptions { ModelPath = LogitModel.Value, Labels = ["neutral", "happiness", "sadness"] };

        var error = Assert.Throws<InvalidDataException>(() => new EmotionClassifier(options, new FixedFaces()));

        Assert.Contains(LogitModel.Value, error.Message, StringComparison.Ordinal);
        Assert.Contains("3 labels", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Emotions_MissingModel_FailsNamingTheFile()
    {
        var path = Path.Combine(TestMedia.TempDirectory(), "absent.onnx");

        var error = Assert.Throws<FileNotFoundException>(() => new EmotionClassifier(new EmotionOptions { ModelPath = path }, new FixedFaces()));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    private static float[] Logits(float grey) => [.. Weights.Zip(Bias, (w, b) => (grey * w) + b)];

    private static float[] Softmax(float[] logits)
    {
        var exp = logits.Select(l => Math.Exp(l)).ToArray();
        return [.. exp.Select(e => (float)(e / exp.Sum()))];
    }

    private static void AssertScores(float[] expected, IReadOnlyDictionary<string, float>? actual, float tolerance = 1e-4f)
    {
        Assert.NotNull(actual);
        Assert.Equal(EmotionClassifier.FerPlusLabels, actual.Keys);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], actual[EmotionClassifier.FerPlusLabels[i]], tolerance);
        }
    }

    private static AnalysisFrame HalfBrightFrame()
    {
        var frame = new AnalysisFrame(new Mat(240, 320, MatType.CV_8UC3, Scalar.All(Dark)), index: 3, time: 1.5);
        Fill(frame.Bgr, new Rect(0, 0, 160, 240), Scalar.All(Bright));
        return frame;
    }

    private static void Fill(Mat picture, Rect area, Scalar color)
    {
        using var region = new Mat(picture, area);
        region.SetTo(color);
    }

    /// <summary>Reports the same faces in every picture: the face detector is not what these tests are about.</summary>
    private sealed class FixedFaces(params Box[] faces) : IFaceDetector
    {
        public IReadOnlyList<Detection> Detect(Mat bgr) => [.. faces.Select(box => new Detection("face", 0.9f, box))];

        public void Dispose()
        {
        }
    }
}
