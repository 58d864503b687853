using System.Text.Json;
using System.Text.RegularExpressions;
using Reel.Data;
using Reel.Pipelines.Datums;
using Reel.Pipelines.Execution;
using Reel.Pipelines.Specs;
using Reel.Testing;

namespace Reel.Cluster.Tests;

/// <summary>
/// One long 1080p video in a repo with a frames pipeline on three nodes: its datum runs as keyframe-aligned pieces on
/// every node and is merged into the output one task gives (same paths, same hashes), also when a node is killed mid-piece.
/// </summary>
[Collection(nameof(ClusterFailureTests))]
public sealed partial class ClusterSplitTests
{
    private static readonly TimeSpan JobLimit = TimeSpan.FromMinutes(3);

    // 62 s of 1080p at 15 fps, a keyframe every second: three pieces of at least 20 s each.
    private static string Video => TestMedia.Generate("split-1080p-62s.mp4",
        "-f lavfi -i testsrc2=size=1920x1080:rate=15:duration=62 -c:v libx264 -preset ultrafast -crf 35 -g 15 -sc_threshold 0 -pix_fmt yuv420p");

    private const string Spec = """
        pipeline: {name: frames}
        input: {pfs: {repo: videos, glob: "/*"}}
        transform:
          steps:
            - extract: {fps: 2, width: 480}
        """;

    // 62 s of small video at 10 fps with a pause of 2 s and a tone as audio: cheap to render in pieces.
    private static string Clip => TestMedia.Generate("split-vfr-audio-62s.mp4",
        "-f lavfi -i testsrc2=size=320x180:rate=10:duration=60 -f lavfi -i sine=frequency=440:duration=70 " +
        "-vf \"setpts='(N*0.1+if(gte(N,300),2,0))/TB'\" -fps_mode vfr -c:v libx264 -g 10 -sc_threshold 0 -pix_fmt yuv420p -c:a aac -shortest");

    private const string RenderSpec = """
        pipeline: {name: boxed}
        input: {pfs: {repo: clips, glob: "/*"}}
        transform:
          steps:
            - render: {filters: [boxes]}
        """;

    /// <summary>The files one task writes for the video, run in this process: the reference the cluster must match.</summary>
    private static readonly Lazy<Task<IReadOnlyDictionary<string, string>>> OneTask = new(() => RunOneTaskAsync(Spec, Video));

    private static readonly Lazy<Task<IReadOnlyDictionary<string, string>>> OneTaskRender = new(() => RunOneTaskAsync(RenderSpec, Clip));

    private static async Task<IReadOnlyDictionary<string, string>> RunOneTaskAsync(string spec, string video)
    {
        var directory = TestMedia.TempDirectory();
        using var objects = ObjectStores.Open(Path.Combine(directory, "objects"), Path.Combine(directory, "cache"));
        StoredObject stored;
        await using (var content = File.OpenRead(video))
        {
            stored = await objects.PutAsync(content, CancellationToken.None);
        }
        var outputs = await new DatumRunner(objects, Path.Combine(directory, "scratch")).RunAsync(
            SpecReader.Parse(spec, "spec.yaml", directory), "job", Datum.Of([new DatumFile("videos", "/clip.mp4", stored.Hash, stored.Size)]),
            Path.Combine(directory, "log"), CancellationToken.None);
        Directory.Delete(directory, recursive: true);
        return outputs.Outputs.ToDictionary(o => o.Path, o => o.Hash);
    }

    [Fact]
    public async Task LongVideo_ThreeNodes_PiecesRunOnEveryNodeAndOutputIsTheOneTaskOutput()
    {
        await using var lab = await StartAsync();
        var nodes = Enumerable.Range(0, 3).Select(_ => lab.AddNode(slots: 1)).ToList();
        await lab.WaitForNodesAsync(3);
        var job = await PutVideoAsync(lab);
        // While it runs, the node list shows the nodes at work on the one video: each piece on a node of its own.
        var working = new HashSet<(string Node, string Task)>();
        await Eventually.WaitAsync(
            async () =>
            {
                foreach (var node in JsonDocument.Parse(await lab.OkAsync("node", "list", "--json")).RootElement.EnumerateArray())
                {
                    working.UnionWith(node.GetProperty("workingOn").EnumerateArray().Select(w => w.GetString()!)
                        .Where(w => w.StartsWith("frames /clip.mp4 piece ", StringComparison.Ordinal))
                        .Select(w => (node.GetProperty("address").GetString()!, w)));
                }
                return working.Count;
            },
            n => n >= 3, JobLimit, "the pieces of /clip.mp4 listed as the nodes' work");
        Assert.Equal(3, working.Select(w => w.Node).Distinct().Count());
        Assert.All(Enumerable.Range(1, 3), i => Assert.Contains(working, w => w.Task.StartsWith($"frames /clip.mp4 piece {i} of 3 (frames ", StringComparison.Ordinal)));

        var final = await lab.WaitForJobAsync(job, JobLimit);

        Assert.True(final.GetProperty("state").GetString() == "Success", $"job {final}\n{lab.Logs()}");
        Assert.Equal(1, final.GetProperty("datums").GetProperty("success").GetInt32());
        var ranOn = PieceWorkers(lab, job);
        Assert.Equal(3, ranOn.Count);
        Assert.All(nodes, n => Assert.Contains(n.Address + ":11111", ranOn.Values));
        await AssertOneTaskOutputAsync(lab);

        // Node counters count datums: the split datum is done once (by its merge), not once per plan, piece and merge task.
        var done = await Eventually.WaitAsync(
            async () => JsonDocument.Parse(await lab.OkAsync("node", "list", "--json")).RootElement.EnumerateArray()
                .Sum(n => n.TryGetProperty("done", out var d) && d.ValueKind == JsonValueKind.Number ? d.GetInt64() : 0),
            d => d >= 1, TimeSpan.FromSeconds(30), "the datum counted as done");
        Assert.Equal(1, done);

        // Render: each node encodes a piece; the pieces joined are the one-task bytes, with every frame's time and the audio.
        var renderSpec = Path.Combine(lab.Directory, "boxed.yaml");
        await File.WriteAllTextAsync(renderSpec, RenderSpec);
        await lab.OkAsync("repo", "create", "clips");
        await lab.OkAsync("pipeline", "create", "-f", renderSpec);
        var renderJob = await PutVideoAsync(lab, "clips", "boxed", Clip);
        var rendered = await lab.WaitForJobAsync(renderJob, JobLimit);
        Assert.True(rendered.GetProperty("state").GetString() == "Success", $"job {rendered}\n{lab.Logs()}");
        Assert.Equal(3, PieceWorkers(lab, renderJob).Values.Distinct().Count());
        Assert.Equal(await OneTaskRender.Value, await lab.FilesAsync("boxed"));
    }

    [Fact]
    public async Task LongVideo_KillNineOfANodeMidPiece_PieceRunsAgainNothingMissingOrDoubled()
    {
        await using var lab = await StartAsync();
        var nodes = Enumerable.Range(0, 3).Select(_ => lab.AddNode(slots: 1)).ToList();
        await lab.WaitForNodesAsync(3);
        var job = await PutVideoAsync(lab);
        // A worker only (not the job's grain or the scheduler), caught while its piece is writing frames.
        var victim = await Eventually.WaitAsync(
            () => Task.FromResult(nodes.FirstOrDefault(n => !n.Log().Contains("datums to run of", StringComparison.Ordinal)
                && !n.Log().Contains("scheduler active", StringComparison.Ordinal)
                && Directory.Exists(Path.Combine(lab.Directory, "node-" + n.Address, "scratch"))
                && Directory.EnumerateFiles(Path.Combine(lab.Directory, "node-" + n.Address, "scratch"), "*.jpg", SearchOption.AllDirectories).Any())),
            n => n is not null, JobLimit, "a worker node writing a piece's frames");
        victim!.Kill9();

        var final = await lab.WaitForJobAsync(job, JobLimit);

        Assert.True(final.GetProperty("state").GetString() == "Success", $"job {final}\n{lab.Logs()}");
        var counts = final.GetProperty("datums");
        Assert.Equal(1, counts.GetProperty("total").GetInt32());
        Assert.Equal(1, counts.GetProperty("success").GetInt32());
        // Whether its piece's lease lapsed or the piece was reported just before the kill (a race on a busy machine),
        // what must hold is below: every frame once, one datum, one commit.
        var ranOn = PieceWorkers(lab, job);
        Assert.Equal(3, ranOn.Count);
        Assert.DoesNotContain(victim.Address + ":11111", ranOn.Values);
        await AssertOneTaskOutputAsync(lab);
    }

    [Fact]
    public async Task LongVideo_KillNineOfTheCoordinatorAfterAPiece_DonePiecesDoNotRunAgain()
    {
        await using var lab = await StartAsync();
        var nodes = Enumerable.Range(0, 3).Select(_ => lab.AddNode(slots: 1)).ToList();
        await lab.WaitForNodesAsync(3);
        var job = await PutVideoAsync(lab);
        // The node whose job grain has written a done piece to the database holds the job: kill it right then.
        var (coordinator, recorded) = await Eventually.WaitAsync(
            () => Task.FromResult(nodes.Select(n => (Node: n, Match: PieceRecorded().Match(n.Log()))).FirstOrDefault(x => x.Match.Success)),
            x => x.Node is not null, JobLimit, "a piece recorded as done");
        coordinator.Kill9();
        var piece = recorded.Groups[1].Value;

        var final = await lab.WaitForJobAsync(job, JobLimit);

        Assert.True(final.GetProperty("state").GetString() == "Success", $"job {final}\n{lab.Logs()}");
        Assert.Equal(1, final.GetProperty("datums").GetProperty("success").GetInt32());
        // The job's new grain took the done pieces from the database and ran only the others, then the merge.
        var resumed = lab.Nodes.Where(n => n != coordinator).Select(n => PieceResumed().Match(n.Log())).FirstOrDefault(m => m.Success);
        Assert.True(resumed is not null, $"no node resumed the split datum\n{lab.Logs()}");
        Assert.InRange(int.Parse(resumed.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), 1, 3);
        Assert.Single(lab.Nodes.SelectMany(n => n.Log().Split('\n')), l => l.Contains($"job {job}:", StringComparison.Ordinal)
            && l.Contains($"piece {piece} of 3 (", StringComparison.Ordinal) && l.Contains(" done on ", StringComparison.Ordinal));
        await AssertOneTaskOutputAsync(lab);
    }

    [GeneratedRegex(@"recorded piece (\d+) of 3 ")]
    private static partial Regex PieceRecorded();

    [GeneratedRegex(@"resumes as 3 pieces, (\d+) of them done before")]
    private static partial Regex PieceResumed();

    private static async Task<ClusterLab> StartAsync()
    {
        _ = await OneTask.Value;
        _ = await OneTaskRender.Value;
        var lab = await ClusterLab.StartAsync(sums: false);
        var spec = Path.Combine(lab.Directory, "frames.yaml");
        await File.WriteAllTextAsync(spec, Spec);
        await lab.OkAsync("repo", "create", "videos");
        await lab.OkAsync("pipeline", "create", "-f", spec);
        return lab;
    }

    private static Task<string> PutVideoAsync(ClusterLab lab) => PutVideoAsync(lab, "videos", "frames", Video);

    /// <summary>Puts <paramref name="video"/> as /clip.mp4 in <paramref name="repo"/>; the job of <paramref name="pipeline"/> it starts.</summary>
    private static async Task<string> PutVideoAsync(ClusterLab lab, string repo, string pipeline, string video)
    {
        await lab.OkAsync("put", repo + "@master:/clip.mp4", "-f", video);
        var jobs = await Eventually.WaitAsync(async () => JsonDocument.Parse(await lab.OkAsync("job", "list", "--pipeline", pipeline, "--json")).RootElement,
            j => j.GetArrayLength() == 1, TimeSpan.FromSeconds(30), "the job created");
        return jobs[0].GetProperty("id").GetString()!;
    }

    /// <summary>Which worker finished each piece of <paramref name="job"/>, from the job grain's log (the last one that did, for a piece that ran twice).</summary>
    private static Dictionary<int, string> PieceWorkers(ClusterLab lab, string job) => lab.Nodes
        .SelectMany(n => n.Log().Split('\n'))
        .Where(l => l.Contains($"job {job}:", StringComparison.Ordinal))
        .Select(l => PieceDone().Match(l))
        .Where(m => m.Success)
        .GroupBy(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))
        .ToDictionary(g => g.Key, g => g.Last().Groups[2].Value);

    [GeneratedRegex(@"piece (\d+) of 3 \(frames \d+-\d+\) done on (\S+)")]
    private static partial Regex PieceDone();

    private static async Task AssertOneTaskOutputAsync(ClusterLab lab)
    {
        var expected = await OneTask.Value;
        Assert.Equal(expected.OrderBy(e => e.Key, StringComparer.Ordinal), (await lab.FilesAsync("frames")).OrderBy(e => e.Key, StringComparer.Ordinal));
        Assert.Equal(1, JsonDocument.Parse(await lab.OkAsync("log", "frames@master", "--json")).RootElement.GetArrayLength());
        // 124 frames at 2 fps, each once in the manifest.
        var manifest = expected.Keys.Count(k => k.EndsWith(".jpg", StringComparison.Ordinal));
        Assert.InRange(manifest, 120, 126);
    }
}
