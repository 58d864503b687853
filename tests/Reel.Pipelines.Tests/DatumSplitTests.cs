using Reel.Data;
using Reel.Pipelines.Datums;
using Reel.Pipelines.Execution;
using Reel.Pipelines.Specs;
using Reel.Testing;

namespace Reel.Pipelines.Tests;

/// <summary>
/// A datum that is one large video runs as pieces and a merge: the rule that decides how many, and the merge giving
/// the very files (paths and hashes) a run in one task gives. No cluster: the tasks run one after another here.
/// </summary>
public sealed class DatumSplitTests : IDisposable
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly string _directory = TestMedia.TempDirectory();

    [Theory]
    [InlineData(65.0, 9, 3)] // no piece under 20 s of video
    [InlineData(65.0, 2, 2)] // no more pieces than free slots
    [InlineData(19.9, 8, 1)] // short videos stay whole
    [InlineData(7200.0, 12, 12)]
    [InlineData(600.0, 1, 1)] // one slot: nothing to share it with
    public void Tasks_DurationAndSlots_SplitsSoEverySlotWorksButNoPieceIsShort(double seconds, int slots, int expected) =>
        Assert.Equal(expected, DatumSplit.Tasks(seconds, slots));

    [Fact]
    public async Task PiecesThenMerge_LongVideo_SameOutputsAsOneTask()
    {
        // 65 s with a keyframe every second: three pieces of whole groups of pictures.
        var video = TestMedia.Generate("split-65s.mp4", "-f lavfi -i testsrc2=size=320x180:rate=10:duration=65 -c:v libx264 -g 10 -sc_threshold 0 -pix_fmt yuv420p");
        var spec = SpecReader.Parse("""
            pipeline: {name: frames}
            input: {pfs: {repo: videos, glob: "/*"}}
            transform:
              steps:
                - extract: {fps: 2, width: 160}
            """, "frames.yaml", _directory);
        using var objects = ObjectStores.Open(Path.Combine(_directory, "objects"), Path.Combine(_directory, "cache"));
        StoredObject stored;
        await using (var content = File.OpenRead(video))
        {
            stored = await objects.PutAsync(content, None);
        }
        var datum = Datum.Of([new DatumFile("videos", "/clip.mp4", stored.Hash, stored.Size)]);
        var runner = new DatumRunner(objects, Path.Combine(_directory, "scratch"));
        var log = Path.Combine(_directory, "log");

        var whole = await runner.RunAsync(spec, "job", datum, null, 1, log, None);
        var plan = await runner.RunAsync(spec, "job", datum, null, 8, log, None);

        Assert.Empty(whole.Split);
        Assert.InRange(whole.Outputs.Count(o => o.Path.EndsWith(".jpg", StringComparison.Ordinal)), 125, 135);
        Assert.Empty(plan.Outputs);
        Assert.Equal(3, plan.Split.Count);
        Assert.Equal(0, plan.Split[0].First);
        // Keyframe-aligned and in frame order, each starting where a group of pictures starts.
        Assert.All(plan.Split, p => Assert.Equal(0, p.First % 10));
        Assert.All(plan.Split.Zip(plan.Split.Skip(1)), pair => Assert.True(pair.First.End <= pair.Second.First, $"{pair.First} overlaps {pair.Second}"));
        var merged = new List<FileEntry>();
        var pieces = new List<IReadOnlyList<FileEntry>>();
        for (var i = 0; i < plan.Split.Count; i++)
        {
            var piece = await runner.RunAsync(spec, "job", datum, new DatumPart(i, plan.Split.Count, plan.Split[i], false), 8, log, None);
            Assert.Empty(piece.Split);
            pieces.Add(piece.Outputs);
            merged.AddRange(piece.Outputs);
        }
        merged.AddRange((await runner.RunAsync(spec, "job", datum, DatumPart.Merge(plan.Split.Count), 8, log, None)).Outputs);

        Assert.All(pieces, p => Assert.NotEmpty(p));
        Assert.Equal(whole.Outputs.Select(o => o.Path), merged.Select(o => o.Path).Distinct().Order(StringComparer.Ordinal));
        Assert.Equal(whole.Outputs, merged.OrderBy(o => o.Path, StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("colors,faces")]
    [InlineData("motion,scenes")] // compared across the pieces' boundaries at the merge
    public async Task AnalyzePiecesThenMerge_LongVideo_SameBytesAsOneTask(string models)
    {
        var video = TestMedia.Generate("split-65s.mp4", "-f lavfi -i testsrc2=size=320x180:rate=10:duration=65 -c:v libx264 -g 10 -sc_threshold 0 -pix_fmt yuv420p");
        var spec = SpecReader.Parse($$$"""
            pipeline: {name: analysis}
            input: {pfs: {repo: videos, glob: "/*"}}
            transform:
              steps:
                - analyze: {models: "{{{models}}}", fps: 2}
            """, "analysis.yaml", _directory);
        using var objects = ObjectStores.Open(Path.Combine(_directory, "objects"), Path.Combine(_directory, "cache"));
        StoredObject stored;
        await using (var content = File.OpenRead(video))
        {
            stored = await objects.PutAsync(content, None);
        }
        var datum = Datum.Of([new DatumFile("videos", "/clip.mp4", stored.Hash, stored.Size)]);
        var runner = new DatumRunner(objects, Path.Combine(_directory, "scratch"));
        var log = Path.Combine(_directory, "log");

        var whole = await runner.RunAsync(spec, "job", datum, null, 1, log, None);
        // Another slot, another scratch path: the same bytes (no timings, no paths in the outputs).
        var again = await new DatumRunner(objects, Path.Combine(_directory, "other-slot")).RunAsync(spec, "job", datum, null, 1, log, None);
        var plan = await runner.RunAsync(spec, "job", datum, null, 8, log, None);
        Assert.Equal(3, plan.Split.Count);
        var partials = new List<IReadOnlyList<FileEntry>>();
        var merged = new List<FileEntry>();
        for (var i = 0; i < plan.Split.Count; i++)
        {
            var piece = await runner.RunAsync(spec, "job", datum, new DatumPart(i, plan.Split.Count, plan.Split[i], false), 8, log, None);
            // A piece's results only feed the merge: nothing of it is the datum's output.
            Assert.Empty(piece.Outputs);
            Assert.NotEmpty(piece.Partial);
            partials.Add(piece.Partial);
        }
        merged.AddRange((await runner.RunAsync(spec, "job", datum, DatumPart.Merge(plan.Split.Count, partials), 8, log, None)).Outputs);

        Assert.Equal(["/clip.mp4/detections.png", "/clip.mp4/results.jsonl", "/clip.mp4/summary.json"], whole.Outputs.Select(o => o.Path));
        Assert.Equal(whole.Outputs, again.Outputs);
        Assert.Equal(whole.Outputs, merged.OrderBy(o => o.Path, StringComparer.Ordinal));
        var results = await File.ReadAllLinesAsync(await objects.GetLocalPathAsync(whole.Outputs[1].Hash, None));
        Assert.Equal(130 * models.Split(',').Length, results.Length);
        Assert.DoesNotContain(results, r => r.Contains("inferenceMs", StringComparison.Ordinal));
        var summary = await File.ReadAllTextAsync(await objects.GetLocalPathAsync(whole.Outputs[2].Hash, None));
        Assert.Contains("\"input\":\"clip.mp4\"", summary, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RenderPiecesThenMerge_LongVariableRateVideoWithAudio_SameBytesAsOneTaskAndSourceTimes()
    {
        // 650 frames at 10 fps with two pauses (1.5 s and 2.5 s without a frame), a keyframe every second, a tone as audio.
        var video = TestMedia.Generate("split-vfr-69s.mp4",
            "-f lavfi -i testsrc2=size=320x180:rate=10:duration=65 -f lavfi -i sine=frequency=440:duration=75 " +
            "-vf \"setpts='(N*0.1+if(gte(N,200),1.5,0)+if(gte(N,400),2.5,0))/TB'\" " +
            "-fps_mode vfr -c:v libx264 -g 10 -sc_threshold 0 -pix_fmt yuv420p -c:a aac -shortest");
        var spec = SpecReader.Parse("""
            pipeline: {name: boxed}
            input: {pfs: {repo: videos, glob: "/*"}}
            transform:
              steps:
                - render: {filters: [boxes]}
            """, "boxed.yaml", _directory);
        using var objects = ObjectStores.Open(Path.Combine(_directory, "objects"), Path.Combine(_directory, "cache"));
        StoredObject stored;
        await using (var content = File.OpenRead(video))
        {
            stored = await objects.PutAsync(content, None);
        }
        var datum = Datum.Of([new DatumFile("videos", "/clip.mp4", stored.Hash, stored.Size)]);
        var runner = new DatumRunner(objects, Path.Combine(_directory, "scratch"));
        var log = Path.Combine(_directory, "log");

        var whole = await runner.RunAsync(spec, "job", datum, null, 1, log, None);
        var plan = await runner.RunAsync(spec, "job", datum, null, 8, log, None);
        Assert.Equal(3, plan.Split.Count);
        var partials = new List<IReadOnlyList<FileEntry>>();
        var frames = 0L;
        for (var i = 0; i < plan.Split.Count; i++)
        {
            var piece = await runner.RunAsync(spec, "job", datum, new DatumPart(i, plan.Split.Count, plan.Split[i], false), 8, log, None);
            Assert.Empty(piece.Outputs);
            Assert.NotEmpty(piece.Partial);
            partials.Add(piece.Partial);
            frames += piece.Frames;
        }
        var merged = await runner.RunAsync(spec, "job", datum, DatumPart.Merge(plan.Split.Count, partials), 8, log, None);

        Assert.Equal(650, frames);
        Assert.Equal(["/clip.mp4"], whole.Outputs.Select(o => o.Path));
        Assert.Equal(whole.Outputs, merged.Outputs);
        var rendered = await objects.GetLocalPathAsync(merged.Outputs[0].Hash, None);
        var expected = FrameTimes(video);
        Assert.True(Seconds(expected[200]) - Seconds(expected[199]) > 1.5, "the generated source is not variable-rate");
        Assert.Equal(expected, FrameTimes(rendered));
        Assert.Equal("aac", TestMedia.Ffprobe($"-v error -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 \"{rendered}\"").Trim());
    }

    private static double Seconds(string time) => double.Parse(time, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Each decoded frame's presentation time in seconds, in order, as ffprobe prints it.</summary>
    private static List<string> FrameTimes(string video) =>
        [.. TestMedia.Ffprobe($"-v error -select_streams v:0 -show_entries frame=best_effort_timestamp_time -of csv=p=0 \"{video}\"")
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(l => l.Split(',')[0])];

    [Fact]
    public async Task Plan_ShortVideoOrImageOrCommand_RunsWhole()
    {
        var video = TestMedia.Generate("split-12s.mp4", "-f lavfi -i testsrc2=size=160x90:rate=10:duration=12 -c:v libx264 -g 10 -sc_threshold 0 -pix_fmt yuv420p");
        var extract = SpecReader.Parse("""
            pipeline: {name: frames}
            input: {pfs: {repo: videos, glob: "/*"}}
            transform: {steps: [extract: {keyframes: true}]}
            """, "frames.yaml", _directory);
        using var objects = ObjectStores.Open(Path.Combine(_directory, "objects"), Path.Combine(_directory, "cache"));
        StoredObject stored;
        await using (var content = File.OpenRead(video))
        {
            stored = await objects.PutAsync(content, None);
        }
        var runner = new DatumRunner(objects, Path.Combine(_directory, "scratch"));

        var run = await runner.RunAsync(extract, "job", Datum.Of([new DatumFile("videos", "/short.mp4", stored.Hash, stored.Size)]), null, 8,
            Path.Combine(_directory, "log"), None);

        Assert.Empty(run.Split);
        Assert.Equal(12, run.Outputs.Count(o => o.Path.EndsWith(".jpg", StringComparison.Ordinal)));
        Assert.Null(DatumSplit.SplittableStep(extract, Datum.Of([new DatumFile("videos", "/a.jpg", stored.Hash, 1)])));
        Assert.Null(DatumSplit.SplittableStep(extract, Datum.Of([new DatumFile("videos", "/a.mp4", "a", 1), new DatumFile("videos", "/b.mp4", "b", 1)])));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
