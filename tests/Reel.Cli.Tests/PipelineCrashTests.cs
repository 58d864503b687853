using System.Diagnostics;
using System.Text.Json;
using Reel.Testing;

namespace Reel.Cli.Tests;

/// <summary>The engine killed with SIGKILL in the middle of a job: nothing half-done shows, and the job resumes.</summary>
public sealed class PipelineCrashTests : IDisposable
{
    private const int SigKill = 9;
    private const int Datums = 12;

    private readonly string _work = TestMedia.TempDirectory();

    private string DataDir => Path.Combine(_work, "data");

    [Fact]
    public async Task Engine_KilledMidJob_NoOutputVisible_ThenResumesWithoutRedoingFinishedDatums()
    {
        var runs = Path.Combine(_work, "runs");
        // Datums after the first four wait for the gate, which opens only after the kill: however slow the machine (or
        // however late the test sees the first ones done), the kill finds some datums done and others not.
        var gate = Path.Combine(_work, "gate");
        var spec = Path.Combine(_work, "slow.yaml");
        await File.WriteAllTextAsync(spec, """
            pipeline: {name: slow}
            input: {pfs: {repo: inbox, glob: "/*"}}
            transform:
              cmd: [sh, -c, 'sleep 0.4; for f in /pfs/inbox/*; do case "$(basename "$f")" in f0[0-3]) ;; *) while [ ! -e GATE ]; do sleep 0.05; done ;; esac; cp "$f" /pfs/out/; echo "$(basename "$f")" >> RUNS; done']
            """.Replace("RUNS", runs, StringComparison.Ordinal).Replace("GATE", gate, StringComparison.Ordinal));
        var inbox = Directory.CreateDirectory(Path.Combine(_work, "inbox")).FullName;
        for (var i = 0; i < Datums; i++)
        {
            await File.WriteAllTextAsync(Path.Combine(inbox, $"f{i:D2}"), $"content {i}");
        }
        Ok("repo", "create", "inbox");
        Ok("pipeline", "create", "-f", spec);
        Ok("put", "inbox@master:/", "-f", inbox, "-r");
        var job = JsonDocument.Parse(Ok("job", "list", "--json")).RootElement[0].GetProperty("id").GetString()!;

        // Kill once some datums are recorded as done and others are still to run.
        var clock = Stopwatch.StartNew();
        while (Succeeded(job).Count < 3)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1), "the job never got going");
            await Task.Delay(50);
        }
        var engine = Assert.Single(ReelProcess.Engines(DataDir));
        Assert.Equal(0, Signals.Send(engine, SigKill));
        clock.Restart();
        while (ReelProcess.Engines(DataDir).Count > 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the engine did not die");
            await Task.Delay(20);
        }
        var doneBeforeCrash = Succeeded(job);
        Assert.InRange(doneBeforeCrash.Count, 3, Datums - 1);
        using (var inspect = JsonDocument.Parse(Ok("job", "inspect", job, "--json")))
        {
            Assert.Equal("Running", inspect.RootElement.GetProperty("state").GetString());
        }
        Assert.Equal(1, Run("ls", "slow@master:/").ExitCode);

        // The next command that waits starts an engine, which picks the job up where it was.
        await File.WriteAllTextAsync(gate, "");
        var wait = Run("job", "wait", job);
        Assert.True(wait.ExitCode == 0, wait.StdErr);
        using (var ls = JsonDocument.Parse(Ok("ls", "slow@master:/", "--json")))
        {
            Assert.Equal(Enumerable.Range(0, Datums).Select(i => $"/f{i:D2}"), ls.RootElement.EnumerateArray().Select(e => e.GetProperty("path").GetString()));
        }
        var ran = await File.ReadAllLinesAsync(runs);
        Assert.Equal(Datums, ran.Distinct().Count());
        // Datums recorded before the crash were not run again (those in flight or not yet recorded may have been).
        Assert.All(doneBeforeCrash, name => Assert.Single(ran, name));
    }

    public void Dispose()
    {
        foreach (var engine in ReelProcess.Engines(DataDir))
        {
            Signals.Send(engine, SigKill);
        }
        Directory.Delete(_work, recursive: true);
    }

    /// <summary>The input file names of the job's datums recorded as succeeded.</summary>
    private List<string> Succeeded(string job) =>
        JsonDocument.Parse(Ok("datum", "list", job, "--json")).RootElement.EnumerateArray()
            .Where(d => d.GetProperty("state").GetString() == "Success")
            .Select(d => d.GetProperty("files")[0].GetString()!["inbox:/".Length..])
            .ToList();

    private (int ExitCode, string StdOut, string StdErr) Run(params string[] arguments) => ReelProcess.Run([.. arguments, "--data-dir", DataDir]);

    private string Ok(params string[] arguments)
    {
        var result = Run(arguments);
        Assert.True(result.ExitCode == 0, $"reel {string.Join(' ', arguments)} exited {result.ExitCode}: {result.StdErr}");
        return result.StdOut;
    }
}
