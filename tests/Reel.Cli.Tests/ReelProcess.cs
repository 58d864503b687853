using System.Diagnostics;
using System.Text;

namespace Reel.Cli.Tests;

/// <summary>Runs the built <c>reel</c> CLI as a real process.</summary>
internal static class ReelProcess
{
    private static string Dll => Path.Combine(AppContext.BaseDirectory, "reel.dll");

    public static ProcessStartInfo StartInfo(params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        // Engines that commands start in the background stop soon after their last job, so tests leave none behind.
        start.Environment["REEL_ENGINE_IDLE_EXIT"] = "2";
        start.ArgumentList.Add(Dll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        return start;
    }

    public static (int ExitCode, string StdOut, string StdErr) Run(params string[] arguments)
    {
        using var process = Process.Start(StartInfo(arguments))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("reel " + string.Join(' ', arguments) + " did not finish in 3 minutes");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The process ids of <c>reel engine</c> processes serving <paramref name="dataDirectory"/>.</summary>
    public static IReadOnlyList<int> Engines(string dataDirectory)
    {
        var engines = new List<int>();
        foreach (var proc in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(proc), out var pid))
            {
                continue;
            }
            try
            {
                var arguments = File.ReadAllText(Path.Combine(proc, "cmdline")).Split('\0');
                if (arguments.Contains("engine") && arguments.Contains(dataDirectory))
                {
                    engines.Add(pid);
                }
            }
            catch (IOException)
            {
                // It exited meanwhile.
            }
        }
        return engines;
    }

    public static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
