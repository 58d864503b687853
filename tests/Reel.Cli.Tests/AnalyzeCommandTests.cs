using System.Text.Json;
using Reel.Testing;

namespace Reel.Cli.Tests;

public class AnalyzeCommandTests
{
    [Fact]
    public void Analyze_FacesOnVideo_WritesResultsSummaryAndPlotWithThreeFacesAroundFiveSeconds()
    {
        var output = TestMedia.TempDirectory();

        var (exit, stdout, stderr) = ReelProcess.Run(
            "analyze", "--input", TestMedia.Fixture("samsungfun.mp4"), "--models", "faces", "--start", "4.5", "--end", "5.5", "--output-dir", output, "--json");

        Assert.True(exit == 0, stderr);
        var folder = Path.Combine(output, "samsungfun.mp4");
        var rows = File.ReadAllLines(Path.Combine(folder, "results.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(30, rows.Count);
        Assert.Equal(rows.Select(r => r.GetProperty("frame").GetInt32()).Order(), rows.Select(r => r.GetProperty("frame").GetInt32()));
        Assert.All(rows, r => Assert.Equal("faces", r.GetProperty("model").GetString()));
        var atFive = rows.MinBy(r => Math.Abs(r.GetProperty("time").GetDouble() - 5))!;
        var faces = atFive.GetProperty("detections").EnumerateArray().ToList();
        Assert.Equal(3, faces.Count);
        Assert.All(faces, f => Assert.Equal(6, f.GetProperty("keypoints").GetArrayLength()));
        // Boxes are in source pixels (1920x1080), not the smaller analysis size.
        Assert.Contains(faces, f => f.GetProperty("box").GetProperty("x").GetDouble() + (f.GetProperty("box").GetProperty("width").GetDouble() / 2) > 960);
        Assert.True(atFive.GetProperty("inferenceMs").GetDouble() > 0);

        var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "summary.json"))).RootElement;
        Assert.Equal(30, summary.GetProperty("frames").GetInt32());
        Assert.True(summary.GetProperty("models").GetProperty("faces").GetProperty("detections").GetInt32() >= 60);
        Assert.NotEmpty(summary.GetProperty("perSecond").GetProperty("faces").EnumerateArray());
        Assert.Equal((960, 400), TestMedia.Dimensions(Path.Combine(folder, "detections.png")));

        var video = Assert.Single(JsonDocument.Parse(stdout).RootElement.GetProperty("videos").EnumerateArray().ToList());
        Assert.Equal("analyzed", video.GetProperty("status").GetString());
    }

    [Fact]
    public void Analyze_StillImage_IsAOneFrameVideoAndFindsTheTeam()
    {
        var output = TestMedia.TempDirectory();

        var (exit, _, stderr) = ReelProcess.Run("analyze", "--input", TestMedia.Fixture("team.jpg"), "--models", "faces", "--output-dir", output);

        Assert.True(exit == 0, stderr);
        var row = JsonDocument.Parse(Assert.Single(File.ReadAllLines(Path.Combine(output, "team.jpg", "results.jsonl")))).RootElement;
        Assert.Equal(0, row.GetProperty("frame").GetInt32());
        Assert.InRange(row.GetProperty("detections").GetArrayLength(), 13, 16);
    }

    [Fact]
    public void Analyze_BadInputs_FailEachWithOneLineAndLeaveNoSummary()
    {
        var dir = TestMedia.TempDirectory();
        var text = Path.Combine(dir, "notes.mp4");
        File.WriteAllText(text, "not a video");
        var output = TestMedia.TempDirectory();

        var (exit, _, stderr) = ReelProcess.Run("analyze", "-i", text, "-i", Path.Combine(dir, "missing.mp4"), "-i", TestMedia.Fixture("small.ogv"),
            "-m", "faces", "--keyframes", "-o", output);

        Assert.Equal(1, exit);
        var lines = ReelProcess.Lines(stderr);
        Assert.Equal(2, lines.Length);
        Assert.Contains(lines, l => l.Contains("notes.mp4", StringComparison.Ordinal) && l.Contains("cannot open as media", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("missing.mp4", StringComparison.Ordinal) && l.Contains("file not found", StringComparison.Ordinal));
        Assert.False(File.Exists(Path.Combine(output, "notes.mp4", "summary.json")));
        Assert.True(File.Exists(Path.Combine(output, "small.ogv", "summary.json")));
    }

    [Theory]
    [InlineData("--models", "faces,telepathy", "unknown model 'telepathy'")]
    [InlineData("--object-model", "missing.onnx", "--object-model missing.onnx: file not found")]
    [InlineData("--emotion-model", "missing.onnx", "--emotion-model missing.onnx: file not found")]
    [InlineData("--face-model", "huge", "--face-model")]
    public void Analyze_BadOptions_ExitTwoWithTheReason(string option, string value, string expected)
    {
        var output = Path.Combine(TestMedia.TempDirectory(), "out");

        var (exit, _, stderr) = ReelProcess.Run("analyze", "-i", TestMedia.Fixture("small.ogv"), "-o", output, option, value);

        Assert.Equal(2, exit);
        Assert.Contains(expected, Assert.Single(ReelProcess.Lines(stderr)), StringComparison.Ordinal);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void Analyze_RunTwice_SecondIsAlreadyDone()
    {
        var output = TestMedia.TempDirectory();
        var video = TestMedia.Fixture("small.ogv");
        ReelProcess.Run("analyze", "-i", video, "-m", "faces", "--keyframes", "-o", output, "--json");

        var (exit, stdout, _) = ReelProcess.Run("analyze", "-i", video, "-m", "faces", "--keyframes", "-o", output, "--json");

        Assert.Equal(0, exit);
        Assert.Equal("already-done", JsonDocument.Parse(stdout).RootElement.GetProperty("videos")[0].GetProperty("status").GetString());
    }
}
