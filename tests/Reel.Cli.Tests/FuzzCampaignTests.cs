using System.Globalization;
using System.Text.Json;
using Reel.Testing;
using Xunit.Abstractions;

namespace Reel.Cli.Tests;

/// <summary>
/// Damaged media through extract and analyze, under glibc's malloc checking: every case must end with exit code 0 or
/// 1 and, when it fails, a one-line reason naming it; never a signal, a hang or a stack trace. Many cases share one
/// process; a batch that dies is re-run case by case to name the culprit. ./test.sh runs a few hundred cases;
/// bench/fuzz.sh runs more (<c>REEL_FUZZ_CASES</c>, <c>REEL_FUZZ_SEED</c>).
/// </summary>
public class FuzzCampaignTests(ITestOutputHelper output)
{
    private const int Batch = 40;
    private static readonly TimeSpan BatchLimit = TimeSpan.FromMinutes(5);

    [Fact]
    public void ExtractAndAnalyze_FuzzedFixtures_EveryCaseEndsWithAReasonNeverASignalOrHang()
    {
        var cases = Setting("REEL_FUZZ_CASES", 240);
        var seed = Setting("REEL_FUZZ_SEED", 20261129);
        var bases = FuzzedMedia.Bases();
        var tally = new Tally();
        for (var first = 0; first < cases; first += Batch)
        {
            var folder = TestMedia.TempDirectory();
            var files = FuzzedMedia.Write(folder, seed, first, Math.Min(Batch, cases - first), bases);
            var videos = files.Where(f => !f.EndsWith(".jpg", StringComparison.Ordinal)).ToList();
            Check(tally, "extract", videos, inputs => ["extract", .. inputs, "--output-dir", TestMedia.TempDirectory(), "--json"]);
            Check(tally, "analyze", files, inputs => ["analyze", .. inputs, "--models", "faces,colors,motion,scenes", "--output-dir", TestMedia.TempDirectory(), "--json"]);
            Directory.Delete(folder, recursive: true);
        }

        var report = $"fuzz: seed {seed}, {cases} cases, {tally.Runs} runs: {tally.Completed} completed, {tally.Refused} failed with a reason, "
            + $"{tally.Crashes.Count} crashes, {tally.Hangs.Count} hangs, {tally.Unclear.Count} unclear";
        output.WriteLine(report);
        if (Environment.GetEnvironmentVariable("REEL_FUZZ_REPORT") is { Length: > 0 } reportFile)
        {
            File.WriteAllLines(reportFile, [report, .. tally.Crashes, .. tally.Hangs, .. tally.Unclear]);
        }
        Assert.True(tally.Crashes.Count + tally.Hangs.Count + tally.Unclear.Count == 0,
            string.Join('\n', [report, .. tally.Crashes, .. tally.Hangs, .. tally.Unclear]));
    }

    /// <summary>Runs one verb over a batch; on a crash or hang, over each of its files alone to name the case.</summary>
    private static void Check(Tally tally, string verb, IReadOnlyList<string> files, Func<IEnumerable<string>, string[]> arguments)
    {
        if (files.Count == 0)
        {
            return;
        }
        var inputs = files.SelectMany(f => new[] { "--input", f });
        if (Run(tally, verb, files, arguments(inputs)) || files.Count == 1)
        {
            return;
        }
        foreach (var file in files)
        {
            Run(tally, verb, [file], arguments(["--input", file]));
        }
    }

    /// <returns>False when the process crashed or hung.</returns>
    private static bool Run(Tally tally, string verb, IReadOnlyList<string> files, string[] arguments)
    {
        var what = files.Count == 1 ? $"{verb} {Path.GetFileName(files[0])}" : $"{verb} of {files.Count} cases from {Path.GetFileName(files[0])}";
        (int ExitCode, string StdOut, string StdErr) run;
        try
        {
            run = NativeChecker.Run(BatchLimit, arguments);
        }
        catch (TimeoutException)
        {
            tally.Hangs.Add($"{what}: no end within {BatchLimit.TotalMinutes} minutes");
            return false;
        }
        if (run.ExitCode > 128)
        {
            tally.Crashes.Add($"{what}: signal {run.ExitCode - 128}: {LastLine(run.StdErr)}");
            return false;
        }
        tally.Runs++;
        if (run.ExitCode is not (0 or 1) || run.StdErr.Contains("   at ", StringComparison.Ordinal) || run.StdErr.Contains("Unhandled", StringComparison.Ordinal))
        {
            tally.Unclear.Add($"{what}: exit code {run.ExitCode}: {run.StdErr}");
            return true;
        }
        var videos = JsonDocument.Parse(run.StdOut).RootElement.GetProperty("videos").EnumerateArray().ToList();
        foreach (var file in files)
        {
            var video = videos.SingleOrDefault(v => v.GetProperty("input").GetString() == file);
            if (video.ValueKind == JsonValueKind.Undefined)
            {
                tally.Unclear.Add($"{verb} {Path.GetFileName(file)}: no result reported");
            }
            else if (video.GetProperty("error").GetString() is { } error)
            {
                tally.Refused++;
                if (error.Length == 0 || error.Contains('\n', StringComparison.Ordinal))
                {
                    tally.Unclear.Add($"{verb} {Path.GetFileName(file)}: reason not one line: '{error}'");
                }
            }
            else
            {
                tally.Completed++;
            }
        }
        return true;
    }

    private static string LastLine(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "";

    private static int Setting(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : fallback;

    private sealed class Tally
    {
        public int Runs { get; set; }

        public int Completed { get; set; }

        public int Refused { get; set; }

        public List<string> Crashes { get; } = [];

        public List<string> Hangs { get; } = [];

        public List<string> Unclear { get; } = [];
    }
}
