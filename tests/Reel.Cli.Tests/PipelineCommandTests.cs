using System.Diagnostics;
using System.Text.Json;
using Reel.Testing;

namespace Reel.Cli.Tests;

/// <summary>Pipelines end to end with real processes: the Pachyderm demo, incremental jobs, failures, chains, stops.</summary>
public sealed class PipelineCommandTests : IDisposable
{
    private readonly string _work = TestMedia.TempDirectory();

    private string DataDir => Path.Combine(_work, "data");

    [Fact]
    public void PachydermDemo_RunsUnchanged_AndCommitsEveryFrameWithProvenance()
    {
        // The demo's spec, unchanged, beside a script with the demo's command line.
        var specDir = Directory.CreateDirectory(Path.Combine(_work, "demo")).FullName;
        File.Copy(TestMedia.Fixture("pachyderm-frames.json"), Path.Combine(specDir, "frames.json"));
        File.Copy(Path.Combine(TestMedia.RepositoryRoot, "examples", "pachyderm-frames", "extract_frames.py"), Path.Combine(specDir, "extract_frames.py"));

        Ok("repo", "create", "videos");
        var create = Run("pipeline", "create", "-f", Path.Combine(specDir, "frames.json"));
        Assert.Equal(0, create.ExitCode);
        Assert.Contains("ignored transform.image", create.StdErr, StringComparison.Ordinal);
        var input = Ok("put", "videos@master:/", "-f", TestMedia.Fixture("small.ogv")).Trim();
        var wait = Run("job", "wait");
        Assert.True(wait.ExitCode == 0, wait.StdErr + Logs("frames"));

        using var ls = JsonDocument.Parse(Ok("ls", "frames@master:/small.ogv", "--json"));
        var frames = ls.RootElement.EnumerateArray().Select(e => e.GetProperty("path").GetString()).ToList();
        Assert.Equal(89, frames.Count);
        Assert.Equal("/small.ogv/0000000000.jpg", frames[0]);
        Assert.Equal("/small.ogv/0000000088.jpg", frames[^1]);
        var frame = Path.Combine(_work, "frame.jpg");
        Ok("get", "frames@master:/small.ogv/0000000088.jpg", "-o", frame);
        Assert.Equal((400, 300), TestMedia.Dimensions(frame));

        using var jobs = JsonDocument.Parse(Ok("job", "list", "--json"));
        var job = Assert.Single(jobs.RootElement.EnumerateArray().ToList());
        Assert.Equal("Success", job.GetProperty("state").GetString());
        Assert.Equal(input, job.GetProperty("inputs").GetProperty("videos").GetString());
        // Provenance read back from the output side: the commit frames@master points at is the job's output, whose
        // recorded input is the commit the video went in with.
        using var log = JsonDocument.Parse(Ok("log", "frames@master", "--json"));
        var head = log.RootElement.EnumerateArray().First().GetProperty("id").GetString();
        using var inspect = JsonDocument.Parse(Ok("job", "inspect", job.GetProperty("id").GetString()!, "--json"));
        Assert.Equal(head, inspect.RootElement.GetProperty("outputCommit").GetString());
        Assert.Equal(input, inspect.RootElement.GetProperty("inputs").GetProperty("videos").GetString());
        using var inputLog = JsonDocument.Parse(Ok("log", "videos@master", "--json"));
        Assert.Equal(input, inputLog.RootElement.EnumerateArray().First().GetProperty("id").GetString());
        Assert.Contains("small.ogv: 89 frames", Ok("logs", "--pipeline", "frames"), StringComparison.Ordinal);
        Assert.Contains("frames (pipeline: master, glob /*)", Ok("pipeline", "graph"), StringComparison.Ordinal);
    }

    [Fact]
    public void Incremental_OnlyChangedDatumsRun_UnchangedCarryOver_DeletedDisappear()
    {
        var spec = WriteSpec("copy.yaml", """
            pipeline: {name: copy}
            input: {pfs: {repo: inbox, glob: "/*"}}
            transform:
              cmd: [sh]
              stdin:
                - for f in /pfs/inbox/*; do n=$(basename "$f"); tr a-z A-Z < "$f" > "/pfs/out/$n"; echo "$REEL_DATUM_ID" > "/pfs/out/$n.id"; echo "ran $n" >> RUNS; done
            """.Replace("RUNS", Path.Combine(_work, "runs"), StringComparison.Ordinal));
        Ok("repo", "create", "inbox");
        Ok("pipeline", "create", "-f", spec);
        var inbox = Directory.CreateDirectory(Path.Combine(_work, "inbox")).FullName;
        foreach (var name in new[] { "a", "b", "c" })
        {
            File.WriteAllText(Path.Combine(inbox, name), $"text {name}\n");
        }
        Ok("put", "inbox@master:/", "-f", inbox, "-r");
        AssertJobsSucceed();
        var firstIds = Enumerable.ToDictionary(["a", "b", "c"], n => n, n => Get($"copy@master:/{n}.id"));

        File.WriteAllText(Path.Combine(_work, "runs"), "");
        File.WriteAllText(Path.Combine(inbox, "b"), "text b changed\n");
        Ok("put", "inbox@master:/b", "-f", Path.Combine(inbox, "b"));
        Ok("rm", "inbox@master:/c");
        AssertJobsSucceed();

        Assert.Equal("TEXT A\n", Get("copy@master:/a"));
        Assert.Equal("TEXT B CHANGED\n", Get("copy@master:/b"));
        Assert.Equal(firstIds["a"], Get("copy@master:/a.id"));
        Assert.NotEqual(firstIds["b"], Get("copy@master:/b.id"));
        using (var ls = JsonDocument.Parse(Ok("ls", "copy@master:/", "--json")))
        {
            Assert.Equal(["/a", "/a.id", "/b", "/b.id"], ls.RootElement.EnumerateArray().Select(e => e.GetProperty("path").GetString()));
        }
        // Only the changed datum ran again; the unchanged one was carried over, the deleted one is gone.
        Assert.Equal(["ran b"], File.ReadAllLines(Path.Combine(_work, "runs")));
        var latest = LatestJob("copy");
        using var datums = JsonDocument.Parse(Ok("datum", "list", latest, "--json"));
        var states = datums.RootElement.EnumerateArray().ToDictionary(d => d.GetProperty("files")[0].GetString()!, d => d.GetProperty("state").GetString());
        Assert.Equal(["inbox:/a", "inbox:/b"], states.Keys);
        Assert.Equal("Skipped", states["inbox:/a"]);
        // The output commit names the input commit it came from.
        using var job = JsonDocument.Parse(Ok("job", "inspect", latest, "--json"));
        var head = JsonDocument.Parse(Ok("log", "inbox@master", "--json")).RootElement[0].GetProperty("id").GetString();
        Assert.Equal(head, job.RootElement.GetProperty("inputs").GetProperty("inbox").GetString());
    }

    [Fact]
    public void FailedDatum_FailsTheJobKeepsTheRest_AndRerunFailedOnlyRunsJustIt()
    {
        var marker = Path.Combine(_work, "fixed");
        var spec = WriteSpec("picky.yaml", """
            pipeline: {name: picky}
            input: {pfs: {repo: inbox, glob: "/*"}}
            datum_tries: 2
            transform:
              cmd: [sh, -c, 'for f in /pfs/inbox/*; do case "$f" in *bad*) [ -e MARKER ] || { echo "cannot read $f" >&2; exit 3; };; esac; cp "$f" /pfs/out/; echo "ran $(basename "$f")" >> RUNS; done']
            """.Replace("MARKER", marker, StringComparison.Ordinal).Replace("RUNS", Path.Combine(_work, "runs"), StringComparison.Ordinal));
        Ok("repo", "create", "inbox");
        Ok("pipeline", "create", "-f", spec);
        var inbox = Directory.CreateDirectory(Path.Combine(_work, "inbox")).FullName;
        foreach (var name in new[] { "good1", "bad", "good2" })
        {
            File.WriteAllText(Path.Combine(inbox, name), name);
        }
        Ok("put", "inbox@master:/", "-f", inbox, "-r");

        var wait = Run("job", "wait");
        Assert.Equal(1, wait.ExitCode);
        Assert.Contains("Failure", wait.StdErr, StringComparison.Ordinal);
        var failedJob = LatestJob("picky");
        var inspect = Ok("job", "inspect", failedJob);
        Assert.Contains("1 failed", inspect, StringComparison.Ordinal);
        Assert.Contains("inbox:/bad: sh exited with code 3: cannot read", inspect, StringComparison.Ordinal);
        using (var datums = JsonDocument.Parse(Ok("datum", "list", failedJob, "--json")))
        {
            var bad = datums.RootElement.EnumerateArray().Single(d => d.GetProperty("state").GetString() == "Failed");
            Assert.Equal(2, bad.GetProperty("tries").GetInt32());
        }
        Assert.Equal("good1", Get("picky@master:/good1"));
        Assert.Equal("good2", Get("picky@master:/good2"));

        File.WriteAllText(marker, "");
        File.WriteAllText(Path.Combine(_work, "runs"), "");
        Ok("pipeline", "rerun", "picky", "--failed-only");
        AssertJobsSucceed();
        Assert.Equal(["ran bad"], File.ReadAllLines(Path.Combine(_work, "runs")));
        using (var ls = JsonDocument.Parse(Ok("ls", "picky@master:/", "--json")))
        {
            Assert.Equal(["/bad", "/good1", "/good2"], ls.RootElement.EnumerateArray().Select(e => e.GetProperty("path").GetString()));
        }
    }

    [Fact]
    public void ChainedPipelines_BuiltInExtractFeedsACommand_AndGraphShowsTheChain()
    {
        var frames = WriteSpec("frames.yaml", """
            pipeline: {name: frames}
            input: {pfs: {repo: videos, glob: "/*"}}
            transform:
              steps:
                - extract: {fps: 1}
            """);
        var count = WriteSpec("count.json", """
            {"pipeline": {"name": "count"}, "input": {"pfs": {"repo": "frames", "glob": "/*"}},
             "transform": {"cmd": ["sh", "-c", "for d in /pfs/frames/*; do ls \"$d\" | grep -c jpg > /pfs/out/$(basename \"$d\").count; done"]}}
            """);
        Ok("repo", "create", "videos");
        Ok("pipeline", "create", "-f", frames);
        Ok("pipeline", "create", "-f", count);
        Ok("put", "videos@master:/", "-f", TestMedia.Fixture("small.ogv"));
        var wait = Run("job", "wait");
        Assert.True(wait.ExitCode == 0, wait.StdErr + Logs("frames") + Logs("count"));

        var extractDir = Path.Combine(_work, "extract");
        var extract = ReelProcess.Run("extract", "--input", TestMedia.Fixture("small.ogv"), "--output-dir", extractDir, "--fps", "1", "--json");
        Assert.Equal(0, extract.ExitCode);
        var expected = Directory.GetFiles(Path.Combine(extractDir, "small.ogv"), "*.jpg").Length;
        Assert.Equal($"{expected}\n", Get("count@master:/small.ogv.count"));
        Assert.Equal(
            ["videos (repo)", "└─ frames (pipeline: master, glob /*) → frames@master", "   └─ count (pipeline: master, glob /*) → count@master"],
            Ok("pipeline", "graph").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd()));
        Assert.Equal(2, JsonDocument.Parse(Ok("job", "list", "--json")).RootElement.GetArrayLength());
    }

    [Fact]
    public void CommandThatOverwritesItsInput_CannotChangeTheStoredObject()
    {
        var spec = WriteSpec("vandal.yaml", """
            pipeline: {name: vandal}
            input: {pfs: {repo: inbox, glob: "/*"}}
            transform: {cmd: [sh, -c, 'for f in /pfs/inbox/*; do echo owned > "$f"; cat "$f" > /pfs/out/$(basename "$f"); done']}
            """);
        Ok("repo", "create", "inbox");
        Ok("pipeline", "create", "-f", spec);
        File.WriteAllText(Path.Combine(_work, "x"), "original\n");
        Ok("put", "inbox@master:/x", "-f", Path.Combine(_work, "x"));
        AssertJobsSucceed();

        // The command wrote to its own copy: the stored input (checked against its hash by get) is as it was.
        Assert.Equal("owned\n", Get("vandal@master:/x"));
        Assert.Equal("original\n", Get("inbox@master:/x"));
        // Every stored object still matches the hash it is stored under.
        foreach (var shard in Directory.EnumerateDirectories(Path.Combine(DataDir, "objects")).Where(d => Path.GetFileName(d).Length == 2))
        {
            foreach (var file in Directory.EnumerateFiles(shard))
            {
                var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(file)));
                Assert.Equal(Path.GetFileName(shard) + Path.GetFileName(file), hash);
            }
        }
    }

    [Fact]
    public void JobStop_KillsRunningDatums_AndCommitsNothing()
    {
        var spec = WriteSpec("slow.yaml", """
            pipeline: {name: slow}
            input: {pfs: {repo: inbox, glob: "/*"}}
            transform: {cmd: [sh, -c, "echo $$ > STARTED.tmp && mv STARTED.tmp STARTED; exec sleep 600"]}
            """.Replace("STARTED", Path.Combine(_work, "started"), StringComparison.Ordinal));
        Ok("repo", "create", "inbox");
        Ok("pipeline", "create", "-f", spec);
        File.WriteAllText(Path.Combine(_work, "x"), "x");
        Ok("put", "inbox@master:/x", "-f", Path.Combine(_work, "x"));
        var job = LatestJob("slow");
        WaitUntil(() => File.Exists(Path.Combine(_work, "started")));

        Ok("job", "stop", job);
        var wait = Run("job", "wait", job);
        Assert.Equal(1, wait.ExitCode);
        using var inspect = JsonDocument.Parse(Ok("job", "inspect", job, "--json"));
        Assert.Equal("Killed", inspect.RootElement.GetProperty("state").GetString());
        Assert.Equal(JsonValueKind.Null, inspect.RootElement.GetProperty("outputCommit").ValueKind);
        Assert.Equal(1, Run("ls", "slow@master:/").ExitCode);
        // The command itself (sh, then exec'd into sleep) is gone, not just the job marked Killed.
        var pid = int.Parse(File.ReadAllText(Path.Combine(_work, "started")).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        WaitUntil(() => !TestProcesses.IsAlive(pid));
        Assert.False(TestProcesses.IsAlive(pid));
    }

    [Fact]
    public void DatumTimeout_KillsTheCommand_AndFailsTheDatumWithTheReason()
    {
        var spec = WriteSpec("stuck.yaml", """
            pipeline: {name: stuck}
            input: {pfs: {repo: inbox, glob: "/*"}}
            datum_tries: 1
            datum_timeout: 1s
            transform: {cmd: [sleep, "600"]}
            """);
        Ok("repo", "create", "inbox");
        Ok("pipeline", "create", "-f", spec);
        File.WriteAllText(Path.Combine(_work, "x"), "x");
        Ok("put", "inbox@master:/x", "-f", Path.Combine(_work, "x"));

        Assert.Equal(1, Run("job", "wait").ExitCode);
        using var datums = JsonDocument.Parse(Ok("datum", "list", LatestJob("stuck"), "--json"));
        var datum = Assert.Single(datums.RootElement.EnumerateArray().ToList());
        Assert.Equal("Failed", datum.GetProperty("state").GetString());
        Assert.Equal("timed out after 00:00:01", datum.GetProperty("error").GetString());
    }

    [Fact]
    public void BadRequests_GetOneLineReasons_AndChangeNothing()
    {
        var bad = WriteSpec("bad.yaml", "pipeline: {name: p}\ninput: {pfs: {repo: videos}}\ntransform: {cmd: [true]}\n");
        var result = Run("pipeline", "create", "-f", bad);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("reel pipeline create: bad.yaml: input.pfs.glob is required", result.StdErr.Trim());

        var noRepo = WriteSpec("norepo.yaml", "pipeline: {name: p}\ninput: {pfs: {repo: videos, glob: /*}}\ntransform: {cmd: [true]}\n");
        result = Run("pipeline", "create", "-f", noRepo);
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("reel pipeline create: input repo 'videos' does not exist; create it with 'reel repo create videos'", result.StdErr.Trim());

        result = Run("job", "inspect", "zz");
        Assert.Equal(2, result.ExitCode);
        result = Run("pipeline", "inspect", "nothing");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal("reel pipeline inspect: pipeline 'nothing' does not exist", result.StdErr.Trim());
        Assert.Equal("", Ok("pipeline", "list", "--json").Trim().Trim('[', ']').Trim());
    }

    public void Dispose()
    {
        foreach (var engine in ReelProcess.Engines(DataDir))
        {
            Signals.Send(engine, 9);
        }
        Directory.Delete(_work, recursive: true);
    }

    private string WriteSpec(string name, string text)
    {
        var path = Path.Combine(_work, name);
        File.WriteAllText(path, text);
        return path;
    }

    private string LatestJob(string pipeline) =>
        JsonDocument.Parse(Ok("job", "list", "--pipeline", pipeline, "--json")).RootElement[0].GetProperty("id").GetString()!;

    private string Get(string address)
    {
        var target = Path.Combine(_work, "got-" + Guid.NewGuid().ToString("N"));
        Ok("get", address, "-o", target);
        return File.ReadAllText(target);
    }

    private void AssertJobsSucceed()
    {
        var wait = Run("job", "wait");
        Assert.True(wait.ExitCode == 0, $"reel job wait exited {wait.ExitCode}: {wait.StdErr}");
    }

    private string Logs(string pipeline) => "\n" + Run("logs", "--pipeline", pipeline).StdOut;

    private static void WaitUntil(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), "timed out waiting");
            Thread.Sleep(50);
        }
    }

    private (int ExitCode, string StdOut, string StdErr) Run(params string[] arguments) =>
        ReelProcess.Run([.. arguments, "--data-dir", DataDir]);

    private string Ok(params string[] arguments)
    {
        var result = Run(arguments);
        Assert.True(result.ExitCode == 0, $"reel {string.Join(' ', arguments)} exited {result.ExitCode}: {result.StdErr}");
        return result.StdOut;
    }
}
