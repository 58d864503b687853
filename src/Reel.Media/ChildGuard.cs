using System.Diagnostics;
using System.Globalization;

namespace Reel.Media;

/// <summary>
/// Every child process Reel starts (ffmpeg, pipeline commands) runs under <c>reel-guard</c>, which kills it and
/// everything it started when Reel dies, also by SIGKILL (the kernel's parent-death signal; see reel_guard.c).
/// </summary>
public static class ChildGuard
{
    /// <summary>The guard program, built beside Reel's assemblies.</summary>
    public static string Path { get; } = System.IO.Path.Combine(AppContext.BaseDirectory, "reel-guard");

    /// <summary>The command line that runs <paramref name="command"/> under the guard.</summary>
    /// <exception cref="InvalidOperationException">The guard is missing (a broken build).</exception>
    public static IReadOnlyList<string> Wrap(IReadOnlyList<string> command)
    {
        if (!File.Exists(Path))
        {
            throw new InvalidOperationException($"{Path} is missing: Reel's build did not complete (run ./reel again to rebuild)");
        }
        return [Path, Environment.ProcessId.ToString(CultureInfo.InvariantCulture), .. command];
    }

    /// <summary>A start info for <paramref name="program"/> and <paramref name="arguments"/> under the guard.</summary>
    public static ProcessStartInfo StartInfo(string program, IEnumerable<string> arguments)
    {
        var wrapped = Wrap([program, .. arguments]);
        var start = new ProcessStartInfo(wrapped[0]) { UseShellExecute = false };
        foreach (var argument in wrapped.Skip(1))
        {
            start.ArgumentList.Add(argument);
        }
        return start;
    }
}
