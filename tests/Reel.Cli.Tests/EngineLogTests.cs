using System.Diagnostics;
using System.Globalization;
using System.Text;
using Reel.Testing;

namespace Reel.Cli.Tests;

/// <summary>logs/engine.log of a background engine stays capped: rotated when an engine starts and while it runs.</summary>
public sealed class EngineLogTests : IDisposable
{
    private readonly string _work = TestMedia.TempDirectory();

    private string DataDir => Path.Combine(_work, "data");

    private string Log => Path.Combine(DataDir, "logs", "engine.log");

    [Fact]
    public void StartingAnEngine_FullLog_ShiftsGenerationsAndDropsTheOldest()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Log)!);
        File.WriteAllText(Log, "current " + new string('x', 6000));
        for (var i = 1; i <= 3; i++)
        {
            File.WriteAllText($"{Log}.{i}", $"generation {i}");
        }

        // A cap above what one engine writes (about 1 kB), so only the start rotates.
        RunJob(idleExitSeconds: 2, maxBytes: 5000);

        Assert.StartsWith("current ", File.ReadAllText(Log + ".1"), StringComparison.Ordinal);
        Assert.Equal("generation 1", File.ReadAllText(Log + ".2"));
        Assert.Equal("generation 2", File.ReadAllText(Log + ".3"));
        Assert.False(File.Exists(Log + ".4"), "only three generations are kept");
        Assert.True(File.Exists(Log), "the new engine writes a new log");
    }

    [Fact]
    public void RunningEngine_LogPastTheCap_IsRotatedAndTheEngineWritesToANewLog()
    {
        RunJob(idleExitSeconds: 60, maxBytes: 100);
        var engine = Assert.Single(ReelProcess.Engines(DataDir));

        // What the engine would have written: the file its stdout and stderr are appended to grows past the cap.
        const string Marker = "written before the rotation";
        File.AppendAllText(Log, Marker + new string('.', 2000) + "\n");

        var clock = Stopwatch.StartNew();
        while (!(Rotated() && Target(engine, 1) == Log && Target(engine, 2) == Log))
        {
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(1),
                $"not rotated within a minute: fd 1 -> {Target(engine, 1)}, fd 2 -> {Target(engine, 2)}");
            Thread.Sleep(200);
        }
        Assert.DoesNotContain(Marker, File.ReadAllText(Log), StringComparison.Ordinal);

        bool Rotated() => Enumerable.Range(1, 3).Any(i => File.Exists($"{Log}.{i}") && File.ReadAllText($"{Log}.{i}").Contains(Marker, StringComparison.Ordinal));
    }

    public void Dispose()
    {
        foreach (var pid in ReelProcess.Engines(DataDir))
        {
            try
            {
                using var engine = Process.GetProcessById(pid);
                engine.Kill();
                engine.WaitForExit(TimeSpan.FromSeconds(10));
            }
            catch (ArgumentException)
            {
                // It stopped by itself meanwhile.
            }
        }
        Directory.Delete(_work, recursive: true);
    }

    private static string? Target(int pid, int fd)
    {
        try
        {
            return new FileInfo($"/proc/{pid}/fd/{fd}").LinkTarget;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>One job of a pipeline whose command does nothing; the put starts the engine with the given log cap.</summary>
    private void RunJob(int idleExitSeconds, int maxBytes)
    {
        var spec = Path.Combine(_work, "noop.yaml");
        File.WriteAllText(spec, """
            pipeline: {name: noop}
            input: {pfs: {repo: inbox, glob: "/*"}}
            transform: {cmd: ["true"]}
            """);
        var file = Path.Combine(_work, "a.txt");
        File.WriteAllText(file, "a");
        string[][] commands = [["repo", "create", "inbox"], ["pipeline", "create", "-f", spec], ["put", "inbox@master:/", "-f", file], ["job", "wait"]];
        foreach (var command in commands)
        {
            Ok(idleExitSeconds, maxBytes, command);
        }
    }

    private void Ok(int idleExitSeconds, int maxBytes, string[] arguments)
    {
        var start = ReelProcess.StartInfo([.. arguments, "--data-dir", DataDir]);
        start.Environment["REEL_ENGINE_IDLE_EXIT"] = idleExitSeconds.ToString(CultureInfo.InvariantCulture);
        start.Environment["REEL_ENGINE_LOG_MAX_BYTES"] = maxBytes.ToString(CultureInfo.InvariantCulture);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), "reel " + string.Join(' ', arguments) + " did not finish in 3 minutes");
        var message = new StringBuilder().Append("reel ").AppendJoin(' ', arguments).Append(" exited ").Append(process.ExitCode).Append(": ").Append(stderr.Result);
        Assert.True(process.ExitCode == 0, message.ToString() + stdout.Result);
    }
}
