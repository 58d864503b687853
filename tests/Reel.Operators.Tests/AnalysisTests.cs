using System.Text.Json;
using Reel.Media.Sampling;
using Reel.Operators.Analysis;
using Reel.Operators.Onnx;
using Reel.Operators.Tests.Onnx;
using Reel.Testing;

namespace Reel.Operators.Tests;

public class AnalysisTests
{
    [Fact]
    public async Task Analyze_ObjectsAndEmotionsWithoutModelFiles_RunTheBundledModels()
    {
        var output = TestMedia.TempDirectory();
        var analyzer = new VideoAnalyzer(new AnalyzeOptions
        {
            OutputDirectory = output,
            Models = ["faces", "objects", "emotions"],
            Sampling = new FrameSampling { Start = 4.95, End = 5.05 },
        });

        var result = Assert.Single(await analyzer.RunAsync([TestMedia.Fixture("samsungfun.mp4")]));

        Assert.Null(result.Error);
        var rows = File.ReadAllLines(Path.Combine(output, "samsungfun.mp4", "results.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.NotEmpty(rows);
        foreach (var frame in rows.GroupBy(r => r.GetProperty("frame").GetInt32()))
        {
            // Frames are analyzed at 640 pixels; the people come back in the 1920×1080 source's pixels.
            var people = frame.Single(r => r.GetProperty("model").GetString() == "objects").GetProperty("detections").EnumerateArray()
                .Where(d => d.GetProperty("label").GetString() == "person").ToList();
            Assert.Equal(3, people.Count);
            Assert.Contains(people, p => p.GetProperty("box").GetProperty("height").GetDouble() > 800);
            var moods = frame.Single(r => r.GetProperty("model").GetString() == "emotions").GetProperty("detections").EnumerateArray().ToList();
            Assert.Equal(3, moods.Count);
            Assert.All(moods, m => Assert.Equal(
                ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"], m.GetProperty("scores").EnumerateObject().Select(p => p.Name)));
        }
    }

    [Fact]
    public async Task Analyze_FacesObjectsEmotions_ShareEachFrameAndReportInSourcePixels()
    {
        // A 640×640 YOLOv8 model that always sees one "person" filling the middle of its letterboxed input.
        var objects = TestModels.ConstantDetector("yolo", [1, 3, 640, 640], [1, 84, 1],
            TestModels.YoloV8Output(80, new FakeBox(320, 320, 320, 180, ClassId: 0, Score: 0.9f)));
        // Emotions: "happiness" wins for bright crops, "neutral" for dark ones.
        var emotions = TestModels.GreyClassifier([-0.02f, 0.02f, 0, 0, 0, 0, 0, 0], [2.5f, -2.5f, 0, 0, 0, 0, 0, 0]);
        var output = TestMedia.TempDirectory();
        var analyzer = new VideoAnalyzer(new AnalyzeOptions
        {
            OutputDirectory = output,
            Models = ["faces", "objects", "emotions"],
            ObjectModel = objects,
            EmotionModel = emotions,
            Sampling = new FrameSampling { Start = 4.9, End = 5.1 },
        });

        var result = Assert.Single(await analyzer.RunAsync([TestMedia.Fixture("samsungfun.mp4")]));

        Assert.Null(result.Error);
        var rows = File.ReadAllLines(Path.Combine(output, "samsungfun.mp4", "results.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(6, result.FramesWritten);
        Assert.Equal(18, rows.Count);
        foreach (var frame in rows.GroupBy(r => r.GetProperty("frame").GetInt32()))
        {
            Assert.Equal(["faces", "objects", "emotions"], frame.Select(r => r.GetProperty("model").GetString()));
            var faces = frame.First().GetProperty("detections").EnumerateArray().ToList();
            var moods = frame.Last().GetProperty("detections").EnumerateArray().ToList();
            Assert.Equal(3, faces.Count);
            // One emotion per face, on the face's box, with every label's probability.
            Assert.Equal(faces.Select(f => f.GetProperty("box").GetProperty("x").GetDouble()), moods.Select(m => m.GetProperty("box").GetProperty("x").GetDouble()));
            Assert.All(moods, m => Assert.Equal(1, m.GetProperty("scores").EnumerateObject().Sum(p => p.Value.GetDouble()), 3));
            // The model's 320×180 box at the centre of the 640 input is the middle half of the 1920×1080 frame.
            var person = Assert.Single(frame.ElementAt(1).GetProperty("detections").EnumerateArray().ToList());
            Assert.Equal("person", person.GetProperty("label").GetString());
            var box = person.GetProperty("box");
            Assert.Equal(480, box.GetProperty("x").GetDouble(), 0);
            Assert.Equal(270, box.GetProperty("y").GetDouble(), 0);
            Assert.Equal(960, box.GetProperty("width").GetDouble(), 0);
            Assert.Equal(540, box.GetProperty("height").GetDouble(), 0);
        }
        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "samsungfun.mp4", "summary.json"))).RootElement;
        Assert.Equal(6, summary.GetProperty("models").GetProperty("objects").GetProperty("labels").GetProperty("person").GetInt32());
    }

    [Fact]
    public async Task Analyze_SequenceModelsAcrossParallelSegments_CompareEachFrameWithItsTrueNeighbour()
    {
        var output = TestMedia.TempDirectory();
        var analyzer = new VideoAnalyzer(new AnalyzeOptions { OutputDirectory = output, Models = ["colors", "motion", "scenes"], Workers = 3 });

        var result = Assert.Single(await analyzer.RunAsync([TestMedia.Fixture("samsungfun.mp4")]));

        Assert.Null(result.Error);
        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "samsungfun.mp4", "summary.json"))).RootElement;
        // The shots change exactly where the encoder put keyframes, which is also where segments are cut.
        Assert.Equal([33, 137, 178, 252], summary.GetProperty("sceneCuts").EnumerateArray().Select(c => c.GetProperty("frame").GetInt32()));
        var still = Assert.Single(summary.GetProperty("stillStretches").EnumerateArray().ToList());
        Assert.Equal(252, still.GetProperty("firstFrame").GetInt32());
        var rows = File.ReadAllLines(Path.Combine(output, "samsungfun.mp4", "results.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(331 * 3, rows.Count);
        Assert.All(rows.Where(r => r.GetProperty("model").GetString() == "colors"),
            r => Assert.Equal(1, r.GetProperty("colors").EnumerateArray().Sum(c => c.GetProperty("share").GetDouble()), 6));
    }

    [Fact]
    public async Task Analyze_UnreadableObjectModel_FailsTheVideoWithTheModelsName()
    {
        var bad = Path.Combine(TestMedia.TempDirectory(), "broken.onnx");
        await File.WriteAllTextAsync(bad, "not a model");
        var output = TestMedia.TempDirectory();
        var analyzer = new VideoAnalyzer(new AnalyzeOptions { OutputDirectory = output, Models = ["objects"], ObjectModel = bad });

        var result = Assert.Single(await analyzer.RunAsync([TestMedia.Fixture("small.ogv")]));

        Assert.Equal(Reel.Media.Extraction.VideoOutcome.Failed, result.Outcome);
        Assert.Contains("broken.onnx", result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(output, "small.ogv", "summary.json")));
    }
}
