using System.Globalization;
using System.Text.Json;
using Reel.Operators.Tests.Onnx;
using Reel.Testing;

namespace Reel.Cli.Tests;

/// <summary>
/// Every picture size and pixel format through every path that hands memory to native code (decoders, libswscale,
/// image encoders, OpenCV, the models, the renderer), under glibc's malloc checking. Each clip is 3 frames of the
/// team photo scaled to the size, stored as raw video in NUT (any size, any pixel format; its frames come straight
/// from the packet, with the tightest strides a decoder can give). Many sizes share one process.
/// In ./test.sh: every size in yuv420p and a sample in the other formats; <c>REEL_SWEEP=full</c> (bench/sweep.sh)
/// runs every size in every format.
/// </summary>
public class NativeBoundarySweepTests
{
    private const int FramesPerClip = 3;
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(8);
    private static readonly bool Full = Environment.GetEnvironmentVariable("REEL_SWEEP") == "full";

    public static TheoryData<string> PixelFormats => ["yuv420p", "yuv422p", "yuv444p", "nv12", "gray", "yuv420p10le", "rgb24"];

    private static readonly IReadOnlyList<(int Width, int Height)> Named = [(200, 200), (202, 202), (1921, 1081), (4097, 17), (17, 4097)];

    /// <summary>Widths 1-70 at heights 1, 2, 17, 200; heights 1-70 at widths 1, 2, 17, 200; a few named sizes.</summary>
    private static readonly IReadOnlyList<(int Width, int Height)> AllSizes = SweepSizes();

    [Theory]
    [MemberData(nameof(PixelFormats))]
    public void Extract_EverySize_JpgPngWebpAndScaled_WriteEveryFrameAtItsSize(string pixelFormat)
    {
        var (folder, sizes) = Clips(pixelFormat);
        foreach (var variant in new[] { new[] { "--format", "jpg" }, ["--format", "png"], ["--format", "webp"], ["--width", "33"] })
        {
            var output = TestMedia.TempDirectory();
            var run = NativeChecker.Run(Limit, ["extract", "--input", folder, "--output-dir", output, "--json", .. variant]);

            var what = $"extract {string.Join(' ', variant)} of {sizes.Count} {pixelFormat} sizes";
            NativeChecker.AssertClean(run, what);
            var summary = JsonDocument.Parse(run.StdOut).RootElement;
            Assert.Equal(sizes.Count * FramesPerClip, summary.GetProperty("framesWritten").GetInt32());
            foreach (var (w, h) in Named.Where(sizes.Contains))
            {
                var extension = variant[0] == "--format" ? variant[1] : "jpg";
                var image = Path.Combine(output, Clip(w, h), $"{FramesPerClip - 1:D10}.{extension}");
                var expected = variant[0] == "--width" ? (33, Math.Max(1, (int)Math.Round(33.0 * h / w))) : (w, h);
                Assert.Equal(expected, TestMedia.Dimensions(image));
            }
        }
    }

    [Theory]
    [MemberData(nameof(PixelFormats))]
    public void Analyze_EverySize_EveryModel_GivesEveryFrameAResult(string pixelFormat)
    {
        var (folder, sizes) = Clips(pixelFormat);
        var output = TestMedia.TempDirectory();

        var run = NativeChecker.Run(Limit,
            "analyze", "--input", folder, "--models", "faces,objects,emotions,colors,motion,scenes", "--output-dir", output,
            "--object-model", Models.Objects, "--emotion-model", Models.Emotions, "--json");

        NativeChecker.AssertClean(run, $"analyze of {sizes.Count} {pixelFormat} sizes");
        foreach (var (w, h) in sizes)
        {
            var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, Clip(w, h), "summary.json"))).RootElement;
            Assert.Equal(FramesPerClip, summary.GetProperty("frames").GetInt32());
        }
        // The fake detector's box lands inside every picture, in source pixels, however thin the picture.
        foreach (var (w, h) in Named.Where(sizes.Contains))
        {
            var rows = File.ReadAllLines(Path.Combine(output, Clip(w, h), "results.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
            var objects = rows.Where(r => r.GetProperty("model").GetString() == "objects").ToList();
            Assert.Equal(FramesPerClip, objects.Count);
            Assert.All(objects.SelectMany(r => r.GetProperty("detections").EnumerateArray()), d =>
            {
                var box = d.GetProperty("box");
                Assert.InRange(box.GetProperty("x").GetDouble(), 0, w);
                Assert.InRange(box.GetProperty("x").GetDouble() + box.GetProperty("width").GetDouble(), 0, w + 0.5);
                Assert.InRange(box.GetProperty("y").GetDouble() + box.GetProperty("height").GetDouble(), 0, h + 0.5);
            });
        }
    }

    [Theory]
    [MemberData(nameof(PixelFormats))]
    public void Render_EveryFilter_KeepsEveryFrame(string pixelFormat)
    {
        var (folder, sizes) = Clips(pixelFormat);
        var picked = Full ? sizes : pixelFormat == "yuv420p"
            ? [(1, 1), (17, 2), (2, 17), (69, 200), (200, 200), (202, 202), (4097, 17)]
            : [(1, 1), (200, 200), (1921, 1081)];
        foreach (var (w, h) in picked)
        {
            var output = Path.Combine(TestMedia.TempDirectory(), "out.mp4");
            var run = NativeChecker.Run(Limit,
                "render", Path.Combine(folder, Clip(w, h)), "--filter", "blur-faces", "--filter", "pixelate-faces", "--filter", "boxes",
                "--filter", "overlay=" + TestMedia.Fixture("glasses.png"), "--output", output, "--json");

            NativeChecker.AssertClean(run, $"render of {w}x{h} {pixelFormat}");
            Assert.Equal(FramesPerClip, TestMedia.CountFrames(output));
        }
    }

    [Fact]
    public void Analyze_200x200H264_TheReportedCrash_RunsCleanEveryTime()
    {
        var clip = TestMedia.Generate("c200.mp4", "-f lavfi -i testsrc2=size=200x200:rate=25:duration=4 -c:v libx264 -pix_fmt yuv420p");
        var clip202 = TestMedia.Generate("c202.mp4", "-f lavfi -i testsrc2=size=202x202:rate=25:duration=4 -c:v libx264 -pix_fmt yuv420p");
        foreach (var (video, models) in new[] { (clip, "colors"), (clip, "scenes"), (clip202, "colors"), (clip202, "scenes") })
        {
            for (var i = 0; i < 3; i++)
            {
                var output = TestMedia.TempDirectory();
                var run = NativeChecker.Run(Limit, "analyze", "--input", video, "--models", models, "--output-dir", output, "--json");

                NativeChecker.AssertClean(run, $"analyze --models {models} of {Path.GetFileName(video)}, run {i + 1}");
                var summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, Path.GetFileName(video), "summary.json"))).RootElement;
                Assert.Equal(100, summary.GetProperty("frames").GetInt32());
            }
        }
    }

    private static string Name(int w, int h) => string.Create(CultureInfo.InvariantCulture, $"{w}x{h}");

    /// <summary>The clip's file name, which also names its output folder.</summary>
    private static string Clip(int w, int h) => Name(w, h) + ".nut";

    /// <summary>The clips of one pixel format, made once per run by one ffmpeg process.</summary>
    private static (string Folder, IReadOnlyList<(int Width, int Height)> Sizes) Clips(string pixelFormat)
    {
        lock (Made)
        {
            if (Made.TryGetValue(pixelFormat, out var made))
            {
                return made;
            }
            var sizes = Full || pixelFormat == "yuv420p" ? AllSizes : Sample();
            var folder = TestMedia.TempDirectory();
            var photo = TestMedia.Fixture("team.jpg");
            // One scaled copy of the photo split to every size: one decode, many outputs.
            var graph = $"[0]scale=480:-2,split={sizes.Count}{string.Concat(sizes.Select((_, i) => $"[s{i}]"))};"
                + string.Join(';', sizes.Select((s, i) => $"[s{i}]scale={s.Width}:{s.Height},setsar=1[o{i}]"));
            var outputs = string.Join(' ', sizes.Select((s, i) =>
                $"-map [o{i}] -frames:v {FramesPerClip} -c:v rawvideo -pix_fmt {pixelFormat} \"{Path.Combine(folder, Clip(s.Width, s.Height))}\""));
            var script = Path.Combine(folder, "graph.txt");
            File.WriteAllText(script, graph);
            TestMedia.Ffmpeg($"-v error -y -loop 1 -framerate 5 -i \"{photo}\" -filter_complex_script \"{script}\" {outputs}");
            File.Delete(script);
            Made[pixelFormat] = (folder, sizes);
            return (folder, sizes);
        }
    }

    private static readonly Dictionary<string, (string, IReadOnlyList<(int, int)>)> Made = [];

    /// <summary>About one size in eight, spread over the list, and the named sizes.</summary>
    private static List<(int Width, int Height)> Sample() =>
        [.. AllSizes.Where((_, i) => i % 8 == 3).Union(Named).Union([(1, 1), (2, 2), (1, 200), (200, 1)])];

    private static List<(int Width, int Height)> SweepSizes()
    {
        var sizes = new SortedSet<(int, int)>(Named);
        for (var n = 1; n <= 70; n++)
        {
            foreach (var other in new[] { 1, 2, 17, 200 })
            {
                sizes.Add((n, other));
                sizes.Add((other, n));
            }
        }
        return [.. sizes];
    }

    /// <summary>A YOLOv8-layout detector that always reports one person, and an emotion classifier.</summary>
    private static class Models
    {
        public static readonly string Objects = TestModels.ConstantDetector("yolo", [1, 3, 640, 640], [1, 84, 1],
            TestModels.YoloV8Output(80, new FakeBox(320, 320, 600, 600, ClassId: 0, Score: 0.9f)));

        public static readonly string Emotions = TestModels.GreyClassifier([-0.02f, 0.02f, 0, 0, 0, 0, 0, 0], [2.5f, -2.5f, 0, 0, 0, 0, 0, 0]);
    }
}
