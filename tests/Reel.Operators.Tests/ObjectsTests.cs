using OpenCvSharp;
using Reel.Operators.Objects;
using Reel.Operators.Onnx;
using Reel.Operators.Tests.Onnx;
using Reel.Testing;

namespace Reel.Operators.Tests;

public sealed class ObjectsTests
{
    // A 1280×720 frame in a 640×640 input: scale 0.5, 360 rows of picture under 140 rows of padding.
    private const int FrameWidth = 1280;
    private const int FrameHeight = 720;
    private const int Coco = 80;

    private static readonly FakeBox Person = new(320, 320, 100, 50, ClassId: 0, Score: 0.9f);
    private static readonly FakeBox PersonDuplicate = new(325, 322, 100, 50, ClassId: 0, Score: 0.8f);
    private static readonly FakeBox Car = new(320, 320, 100, 50, ClassId: 2, Score: 0.7f);
    private static readonly FakeBox FaintPerson = new(100, 200, 40, 40, ClassId: 0, Score: 0.2f);
    private static readonly FakeBox BicyclePastEdge = new(620, 150, 80, 40, ClassId: 1, Score: 0.6f);

    private static readonly Box PersonInFrame = new(540, 310, 200, 100);

    private static readonly Lazy<string> V8Model = new(() => TestModels.ConstantDetector("yolov8", [1, 3, 640, 640], [1, 4 + Coco, 5],
        TestModels.YoloV8Output(Coco, Person, PersonDuplicate, Car, FaintPerson, BicyclePastEdge)));

    [Fact]
    public void Objects_YoloV8_KeepsBestOfEachClassSortedByScore()
    {
        using var detector = new YoloDetector(new YoloOptions { ModelPath = V8Model.Value });
        using var frame = Frame();

        var result = detector.Analyze(frame);

        Assert.Equal("objects", result.Model);
        Assert.Equal(7, result.Frame);
        Assert.Equal(0.25, result.Time);
        Assert.True(result.InferenceMs > 0);
        Assert.Equal([("person", 0.9f), ("car", 0.7f), ("bicycle", 0.6f)], result.Detections.Select(d => (d.Label, d.Score)));
    }

    [Fact]
    public void Objects_Letterbox_BoxesMappedBackToSourcePixels()
    {
        using var detector = new YoloDetector(new YoloOptions { ModelPath = V8Model.Value });
        using var frame = Frame();

        var person = detector.Analyze(frame).Detections.Single(d => d.Label == "person");

        AssertBox(PersonInFrame, person.Box);
    }

    [Fact]
    public void Objects_PortraitFrame_SidePaddingUndone()
    {
        // 720×1280 in 640×640: scale 0.5, 360 columns of picture right of 140 columns of padding.
        using var detector = new YoloDetector(new YoloOptions { ModelPath = V8Model.Value });
        using var frame = new AnalysisFrame(new Mat(FrameWidth, FrameHeight, MatType.CV_8UC3, Scalar.All(0)), index: 0, time: 0);

        var person = detector.Analyze(frame).Detections.Single(d => d.Label == "person");

        AssertBox(new Box(260, 590, 200, 100), person.Box);
    }

    [Fact]
    public void Objects_BoxPastTheFrameEdge_ClampedToFrame()
    {
        using var detector = new YoloDetector(new YoloOptions { ModelPath = V8Model.Value });
        using var frame = Frame();

        var bicycle = detector.Analyze(frame).Detections.Single(d => d.Label == "bicycle");

        // It spans x 580..660 and y 130..170 in the input: past the picture's right edge and into the padding above it.
        AssertBox(new Box(1160, 0, 120, 60), bicycle.Box);
    }

    [Fact]
    public void Objects_Iou_HigherThresholdKeepsTheOverlappingDuplicate()
    {
        // The two person boxes overlap with IoU 0.84.
        using var detector = new YoloDetector(new YoloOptions { ModelPath = V8Model.Value, Iou = 0.9f });
        using var frame = Frame();

        var people = detector.Analyze(frame).Detections.Where(d => d.Label == "person").Select(d => d.Score);

        Assert.Equal([0.9f, 0.8f], people);
    }

    [Fact]
    public void Objects_Confidence_FiltersLowScores()
    {
        using var frame = Frame();
        using var lenient = new YoloDetector(new YoloOptions { ModelPath = V8Model.Value, Confidence = 0.1f });
        using var strict = new YoloDetector(new YoloOptions { ModelPath = V8Model.Value, Confidence = 0.85f });

        var lenientResult = lenient.Analyze(frame).Detections;
        var strictResult = strict.Analyze(frame).Detections;

        var faint = Assert.Single(lenientResult, d => d.Score == 0.2f);
        AssertBox(new Box(160, 80, 80, 80), faint.Box);
        Assert.Equal([0.9f], strictResult.Select(d => d.Score));
    }

    [Fact]
    public void Objects_YoloV5_ScoreIsObjectnessTimesClassScore()
    {
        var model = TestModels.ConstantDetector("yolov5", [1, 3, 640, 640], [1, 3, 5 + Coco], TestModels.YoloV5Output(Coco,
            Person with { ClassId = 16, Objectness = 0.5f, Score = 0.9f },
            FaintPerson with { Objectness = 0.9f, Score = 0.2f },
            BicyclePastEdge with { Objectness = 0.1f, Score = 1f }));
        using var detector = new YoloDetector(new YoloOptions { ModelPath = model });
        using var frame = Frame();

        var result = detector.Analyze(frame).Detections;

        var dog = Assert.Single(result);
        Assert.Equal("dog", dog.Label);
        Assert.Equal(0.45f, dog.Score, 1e-6f);
        AssertBox(PersonInFrame, dog.Box);
    }

    [Fact]
    public void Objects_DynamicInputSize_FallsBackTo640()
    {
        var model = TestModels.ConstantDetector("dynamic", [-1, 3, -1, -1], [1, 4 + Coco, 1], TestModels.YoloV8Output(Coco, Person));
        using var detector = new YoloDetector(new YoloOptions { ModelPath = model });
        using var frame = Frame();

        var person = Assert.Single(detector.Analyze(frame).Detections);

        Assert.Equal((640, 640), (detector.InputWidth, detector.InputHeight));
        AssertBox(PersonInFrame, person.Box);
    }

    [Fact]
    public void Objects_NonSquareModelInput_ReadFromModel()
    {
        // 640 wide, 384 high: the frame still scales by 0.5, leaving 12 rows of padding above.
        var model = TestModels.ConstantDetector("wide", [1, 3, 384, 640], [1, 4 + Coco, 1],
            TestModels.YoloV8Output(Coco, Person with { Cy = 192 }));
        using var detector = new YoloDetector(new YoloOptions { ModelPath = model });
        using var frame = Frame();

        var person = Assert.Single(detector.Analyze(frame).Detections);

        AssertBox(PersonInFrame, person.Box);
    }

    [Fact]
    public void Objects_LabelsFile_NamesTheClasses()
    {
        var model = TestModels.ConstantDetector("three-classes", [1, 3, 640, 640], [1, 4 + 3, 1], TestModels.YoloV8Output(3, Person with { ClassId = 2 }));
        var labels = Path.Combine(TestMedia.TempDirectory(), "labels.txt");
        File.WriteAllText(labels, "cat\ndog\nbird\n");
        using var detector = new YoloDetector(new YoloOptions { ModelPath = model, LabelsPath = labels });
        using var frame = Frame();

        var bird = Assert.Single(detector.Analyze(frame).Detections);

        Assert.Equal("bird", bird.Label);
    }

    [Fact]
    public void Objects_LabelCountFitsNeitherLayout_FailsNamingTheModel()
    {
        var model = TestModels.ConstantDetector("three-classes", [1, 3, 640, 640], [1, 4 + 3, 1], TestModels.YoloV8Output(3, Person));

        var error = Assert.Throws<InvalidDataException>(() => new YoloDetector(new YoloOptions { ModelPath = model }));

        Assert.Contains(model, error.Message, StringComparison.Ordinal);
        Assert.Contains("80 labels", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Objects_UninterpretableOutputShape_FailsNamingTheModel()
    {
        var model = TestModels.ConstantDetector("rank4", [1, 3, 640, 640], [1, 1, 4 + Coco, 1], TestModels.YoloV8Output(Coco, Person));

        var error = Assert.Throws<InvalidDataException>(() => new YoloDetector(new YoloOptions { ModelPath = model }));

        Assert.Contains(model, error.Message, StringComparison.Ordinal);
        Assert.Contains("cannot interpret the output shape [1, 1, 84, 1]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Objects_MissingModel_FailsNamingTheFile()
    {
        var path = Path.Combine(TestMedia.TempDirectory(), "absent.onnx");

        var error = Assert.Throws<FileNotFoundException>(() => new YoloDetector(new YoloOptions { ModelPath = path }));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Objects_UnreadableModel_FailsNamingTheFile()
    {
        var path = Path.Combine(TestMedia.TempDirectory(), "garbage.onnx");
        File.WriteAllText(path, "this is not a protocol buffer");

        var error = Assert.Throws<InvalidDataException>(() => new YoloDetector(new YoloOptions { ModelPath = path }));

        Assert.StartsWith($"{path}: not a readable ONNX model", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [Fact]
    public void Objects_Letterbox_GreyPaddingRgbPlanesUnitScale()
    {
        using var bgr = new Mat(FrameHeight, FrameWidth, MatType.CV_8UC3, new Scalar(10, 20, 30));
        using var resized = new Mat();
        var tensor = new float[3 * 640 * 640];

        var letterbox = Letterbox.Fill(bgr, 640, 640, tensor, resized);

        Assert.Equal(new Letterbox(0.5f, 0, 140, 640, 360), letterbox);
        float At(int channel, int y, int x) => tensor[(channel * 640 * 640) + (y * 640) + x];
        Assert.Equal(114 / 255f, At(0, 139, 320), 1e-6f);
        Assert.Equal(114 / 255f, At(2, 500, 0), 1e-6f);
        Assert.Equal(30 / 255f, At(0, 140, 0), 1e-6f);
        Assert.Equal(20 / 255f, At(1, 320, 320), 1e-6f);
        Assert.Equal(10 / 255f, At(2, 499, 639), 1e-6f);
    }

    [Fact]
    public void Objects_Letterbox_PortraitFrame_GreyPaddingAtTheSides()
    {
        using var bgr = new Mat(FrameWidth, FrameHeight, MatType.CV_8UC3, new Scalar(10, 20, 30));
        using var resized = new Mat();
        var tensor = new float[3 * 640 * 640];
        Array.Fill(tensor, -1f);

        var letterbox = Letterbox.Fill(bgr, 640, 640, tensor, resized);

        Assert.Equal(new Letterbox(0.5f, 140, 0, 360, 640), letterbox);
        float At(int channel, int y, int x) => tensor[(channel * 640 * 640) + (y * 640) + x];
        for (var channel = 0; channel < 3; channel++)
        {
            Assert.Equal(114 / 255f, At(channel, 0, 139), 1e-6f);
            Assert.Equal(114 / 255f, At(channel, 639, 500), 1e-6f);
        }
        Assert.Equal(30 / 255f, At(0, 0, 140), 1e-6f);
        Assert.Equal(10 / 255f, At(2, 639, 499), 1e-6f);
    }

    private static AnalysisFrame Frame() => new(new Mat(FrameHeight, FrameWidth, MatType.CV_8UC3, Scalar.All(0)), index: 7, time: 0.25);

    private static void AssertBox(Box expected, Box actual)
    {
        Assert.Equal(expected.X, actual.X, 0.01f);
        Assert.Equal(expected.Y, actual.Y, 0.01f);
        Assert.Equal(expected.Width, actual.Width, 0.01f);
        Assert.Equal(expected.Height, actual.Height, 0.01f);
    }
}
