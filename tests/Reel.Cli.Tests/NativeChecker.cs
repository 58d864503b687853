using System.Diagnostics;

namespace Reel.Cli.Tests;

/// <summary>
/// Runs <c>reel</c> under glibc's malloc checking: every heap block gets a check byte past its end that is verified
/// when it is freed, and freed or fresh memory is filled with a pattern, so a native write past a buffer aborts the
/// process (SIGABRT) instead of silently damaging memory. Against the code before the padded-picture fix, a 200x200
/// analysis died this way in most runs (see README, "Reliability").
/// </summary>
internal static class NativeChecker
{
    private const string DebugMalloc = "/usr/lib/x86_64-linux-gnu/libc_malloc_debug.so.0";

    public static ProcessStartInfo StartInfo(params string[] arguments)
    {
        Assert.True(File.Exists(DebugMalloc), $"{DebugMalloc} (Debian's libc6) is needed for malloc checking");
        var start = ReelProcess.StartInfo(arguments);
        start.Environment["LD_PRELOAD"] = DebugMalloc;
        start.Environment["GLIBC_TUNABLES"] = "glibc.malloc.check=3";
        start.Environment["MALLOC_PERTURB_"] = "165";
        return start;
    }

    /// <summary>Runs a command to its end (bounded); a signal shows as an exit code of 128 + its number.</summary>
    public static (int ExitCode, string StdOut, string StdErr) Run(TimeSpan limit, params string[] arguments)
    {
        using var process = Process.Start(StartInfo(arguments))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"reel {string.Join(' ', arguments)} did not finish in {limit.TotalSeconds} s");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Asserts a run ended by itself with exit code 0, naming a signal when one killed it.</summary>
    public static void AssertClean((int ExitCode, string StdOut, string StdErr) run, string what)
    {
        Assert.False(run.ExitCode > 128, $"{what}: killed by signal {run.ExitCode - 128}: {Tail(run.StdErr)}");
        Assert.True(run.ExitCode == 0, $"{what}: exit code {run.ExitCode}: {Tail(run.StdErr)}");
    }

    private static string Tail(string text) => text.Length > 2000 ? text[^2000..] : text;
}
