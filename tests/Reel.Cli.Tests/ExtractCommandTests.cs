using System.Diagnostics;
using System.Text.Json;
using Reel.Testing;

namespace Reel.Cli.Tests;

public class ExtractCommandTests
{
    [Fact]
    public void Extract_BadInputs_EachGetsOneLineNamingItAndTheGoodVideoStillCompletes()
    {
        var bad = BadInputs.Create();
        var output = TestMedia.TempDirectory();
        var good = TestMedia.Fixture("small.ogv");
        var arguments = new List<string> { "extract", "--output-dir", output, "--json" };
        foreach (var input in bad.Values.Append(good))
        {
            arguments.AddRange(["--input", input]);
        }

        var (exit, stdout, stderr) = ReelProcess.Run([.. arguments]);

        Assert.Equal(1, exit);
        var lines = ReelProcess.Lines(stderr);
        Assert.Equal(bad.Count, lines.Length);
        foreach (var (kind, path) in bad)
        {
            var line = Assert.Single(lines, l => l.Contains(path, StringComparison.Ordinal));
            Assert.Contains(ExpectedReason(kind), line, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(output, Path.GetFileName(path), "frames.jsonl")), $"{kind} left a manifest");
        }
        Assert.Equal(89, File.ReadAllLines(Path.Combine(output, "small.ogv", "frames.jsonl")).Length);

        var summary = JsonDocument.Parse(stdout).RootElement;
        Assert.False(summary.GetProperty("ok").GetBoolean());
        var videos = summary.GetProperty("videos").EnumerateArray().ToList();
        Assert.Equal("extracted", videos[^1].GetProperty("status").GetString());
        Assert.All(videos.SkipLast(1), v => Assert.Equal("failed", v.GetProperty("status").GetString()));
    }

    [Fact]
    public void Extract_TruncatedFile_KeepsTheFramesBeforeTheDamageAndSaysHowFarItGot()
    {
        var truncated = BadInputs.Create()["truncated"];
        var output = TestMedia.TempDirectory();

        var (exit, _, stderr) = ReelProcess.Run("extract", "--input", truncated, "--output-dir", output);

        Assert.Equal(1, exit);
        Assert.Contains("only 136 of its 331 frames can be read", stderr, StringComparison.Ordinal);
        Assert.Contains("up to frame 135", stderr, StringComparison.Ordinal);
        var folder = Path.Combine(output, "truncated.mp4");
        Assert.Equal(136, Directory.GetFiles(folder, "*.jpg").Length);
        Assert.False(File.Exists(Path.Combine(folder, "frames.jsonl")));
    }

    [Fact]
    public void Extract_Json_PrintsOnlyTheSummaryOnStdout()
    {
        var output = TestMedia.TempDirectory();

        var (exit, stdout, stderr) = ReelProcess.Run("extract", "--input", TestMedia.Fixture("samsungfun.mp4"), "--output-dir", output, "--fps", "1", "--json");

        Assert.Equal(0, exit);
        Assert.Equal("", stderr);
        var summary = JsonDocument.Parse(stdout).RootElement;
        var video = Assert.Single(summary.GetProperty("videos").EnumerateArray().ToList());
        Assert.Equal(11, video.GetProperty("framesWritten").GetInt32());
        Assert.Equal("extracted", video.GetProperty("status").GetString());
        Assert.True(video.GetProperty("seconds").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Null, video.GetProperty("error").ValueKind);
        Assert.True(summary.GetProperty("ok").GetBoolean());
    }

    [Fact]
    public void Extract_PachydermScriptFlags_AreAccepted()
    {
        var input = Path.GetDirectoryName(TestMedia.Fixture("small.ogv"))!;
        var output = TestMedia.TempDirectory();

        var (exit, _, stderr) = ReelProcess.Run("extract", "--input", input, "--output-dir", output, "--fps", "1", "--threaded");

        Assert.True(exit == 0, stderr);
        Assert.Equal(4, File.ReadAllLines(Path.Combine(output, "small.ogv", "frames.jsonl")).Length);
        Assert.Equal(11, File.ReadAllLines(Path.Combine(output, "samsungfun.mp4", "frames.jsonl")).Length);
    }

    [Fact]
    public void Extract_FpsMinusOne_KeepsEveryFrame()
    {
        var output = TestMedia.TempDirectory();

        var (exit, _, _) = ReelProcess.Run("extract", "--input", TestMedia.Fixture("small.ogv"), "--output-dir", output, "--fps", "-1", "--json");

        Assert.Equal(0, exit);
        Assert.Equal(89, Directory.GetFiles(Path.Combine(output, "small.ogv"), "*.jpg").Length);
    }

    [Fact]
    public void Extract_RunTwice_SecondIsAlreadyDone()
    {
        var output = TestMedia.TempDirectory();
        var video = TestMedia.Fixture("small.ogv");
        ReelProcess.Run("extract", "--input", video, "--output-dir", output, "--json");

        var (exit, stdout, _) = ReelProcess.Run("extract", "--input", video, "--output-dir", output, "--json");

        Assert.Equal(0, exit);
        var video0 = JsonDocument.Parse(stdout).RootElement.GetProperty("videos")[0];
        Assert.Equal("already-done", video0.GetProperty("status").GetString());
        Assert.Equal(89, video0.GetProperty("framesWritten").GetInt32());
    }

    [Theory]
    [InlineData("--fps", "abc", "--fps")]
    [InlineData("--fps", "0", "--fps")]
    [InlineData("--every", "0", "--every")]
    [InlineData("--quality", "101", "quality")]
    [InlineData("--format", "gif", "--format")]
    [InlineData("--start", "1:99", "--start")]
    [InlineData("--workers", "0", "workers")]
    public void Extract_BadOption_ExitsTwoWithTheReasonAndWritesNothing(string option, string value, string named)
    {
        var output = Path.Combine(TestMedia.TempDirectory(), "out");

        var (exit, stdout, stderr) = ReelProcess.Run("extract", "--input", TestMedia.Fixture("small.ogv"), "--output-dir", output, option, value);

        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Contains(named, Assert.Single(ReelProcess.Lines(stderr)), StringComparison.Ordinal);
        Assert.False(Directory.Exists(output));
    }

    [Fact]
    public void Extract_ConflictingSampling_ExitsTwo()
    {
        var (exit, _, stderr) = ReelProcess.Run("extract", "-i", TestMedia.Fixture("small.ogv"), "-o", TestMedia.TempDirectory(), "--fps", "1", "--keyframes");

        Assert.Equal(2, exit);
        Assert.Contains("choose one of --fps, --every and --keyframes", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void Extract_MissingRequiredOption_ExitsTwo()
    {
        var (exit, _, stderr) = ReelProcess.Run("extract", "--input", TestMedia.Fixture("small.ogv"));

        Assert.Equal(2, exit);
        Assert.Contains("--output-dir", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Extract_Interrupted_ExitsWithoutAManifest()
    {
        var output = TestMedia.TempDirectory();
        // PNG at 1080p on one worker takes seconds, leaving time to interrupt midway.
        using var process = Process.Start(ReelProcess.StartInfo(
            "extract", "--input", TestMedia.Fixture("samsungfun.mp4"), "--output-dir", output, "--format", "png", "--workers", "1", "--json"))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var folder = Path.Combine(output, "samsungfun.mp4");
        var deadline = Stopwatch.StartNew();
        while (!(Directory.Exists(folder) && Directory.GetFiles(folder, "*.png").Length >= 3) && deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(20);
        }
        Assert.False(process.HasExited, "finished before it could be interrupted");

        Assert.Equal(0, Signals.Send(process.Id, Signals.Interrupt));

        Assert.True(process.WaitForExit(TimeSpan.FromSeconds(30)), "did not stop after SIGINT");
        Assert.Equal(130, process.ExitCode);
        Assert.True(Directory.GetFiles(folder, "*.png").Length < 331);
        Assert.False(File.Exists(Path.Combine(folder, "frames.jsonl")));
        await Task.WhenAll(stdout, stderr);
    }

    private static string ExpectedReason(string kind) => kind switch
    {
        "missing" => "file not found",
        "empty" => "file is empty",
        "text" => "cannot open as media",
        "audio" => "no video stream",
        "truncated" => "truncated or damaged",
        "corrupt" => "cannot decode frame",
        "unknown-codec" => "unsupported video codec",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };
}

/// <summary>Inputs that must fail, each for its own reason, made fresh in a temp directory.</summary>
internal static class BadInputs
{
    public static Dictionary<string, string> Create()
    {
        var dir = TestMedia.TempDirectory();
        string At(string name) => Path.Combine(dir, name);
        var samsungfun = TestMedia.Fixture("samsungfun.mp4");

        File.WriteAllBytes(At("empty.mp4"), []);
        File.WriteAllText(At("notes.mp4"), "this is a text file, not a video\n");
        TestMedia.Ffmpeg($"-v error -f lavfi -i sine=duration=1 \"{At("audio.m4a")}\"");

        // moov first (faststart), then cut: the index promises 331 frames, the data holds fewer.
        TestMedia.Ffmpeg($"-v error -i \"{samsungfun}\" -c copy -movflags +faststart \"{At("faststart.mp4")}\"");
        var whole = File.ReadAllBytes(At("faststart.mp4"));
        File.WriteAllBytes(At("truncated.mp4"), whole[..1_200_000]);

        var corrupt = File.ReadAllBytes(samsungfun);
        new Random(7).NextBytes(corrupt.AsSpan(400_000, 300_000));
        File.WriteAllBytes(At("corrupt.mp4"), corrupt);

        // An AVI whose video FourCC no decoder knows.
        TestMedia.Ffmpeg($"-v error -f lavfi -i testsrc2=size=160x120:rate=10:duration=1 -c:v mjpeg \"{At("mjpeg.avi")}\"");
        var avi = File.ReadAllBytes(At("mjpeg.avi"));
        for (var i = avi.AsSpan().IndexOf("MJPG"u8); i >= 0; i = avi.AsSpan().IndexOf("MJPG"u8))
        {
            "QQQQ"u8.CopyTo(avi.AsSpan(i));
        }
        File.WriteAllBytes(At("unknown-codec.avi"), avi);

        return new Dictionary<string, string>
        {
            ["missing"] = At("missing.mp4"),
            ["empty"] = At("empty.mp4"),
            ["text"] = At("notes.mp4"),
            ["audio"] = At("audio.m4a"),
            ["truncated"] = At("truncated.mp4"),
            ["corrupt"] = At("corrupt.mp4"),
            ["unknown-codec"] = At("unknown-codec.avi"),
        };
    }
}

/// <summary>POSIX signals, sent the way a terminal's Ctrl-C does.</summary>
internal static partial class Signals
{
    public const int Interrupt = 2;

    public static int Send(int pid, int signal) => Kill(pid, signal);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
