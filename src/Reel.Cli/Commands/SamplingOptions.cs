using System.CommandLine;
using System.Globalization;
using Reel.Media;
using Reel.Media.Sampling;

namespace Reel.Cli.Commands;

/// <summary>The frame-choosing options <c>extract</c> and <c>analyze</c> share.</summary>
internal sealed class SamplingOptions
{
    public Option<string?> Fps { get; } = new("--fps") { Description = "Frames per second to keep, e.g. 1, 2.5, 30000/1001; -1 keeps every frame" };

    public Option<int?> Every { get; } = new("--every") { Description = "Keep every Nth frame: 0, N, 2N…" };

    public Option<bool> Keyframes { get; } = new("--keyframes") { Description = "Keep only the keyframes" };

    public Option<string?> Start { get; } = new("--start") { Description = "First time to keep: seconds or [HH:]MM:SS[.mmm]" };

    public Option<string?> End { get; } = new("--end") { Description = "Time to stop before: seconds or [HH:]MM:SS[.mmm]" };

    /// <exception cref="ArgumentException">The options contradict each other or do not parse.</exception>
    public FrameSampling Parse(ParseResult result) =>
        ParseSampling(result.GetValue(Fps), result.GetValue(Every), result.GetValue(Keyframes), result.GetValue(Start), result.GetValue(End));

    /// <exception cref="ArgumentException">The options contradict each other or do not parse.</exception>
    internal static FrameSampling ParseSampling(string? fps, int? every, bool keyframes, string? start, string? end)
    {
        Rational? rate = null;
        if (fps is not null)
        {
            if (!Rational.TryParse(fps, out var parsed) || (parsed.Numerator <= 0 && parsed != new Rational(-1, 1)))
            {
                throw new ArgumentException($"--fps must be a positive number or fraction (or -1 for every frame), not '{fps}'");
            }
            rate = parsed.Numerator > 0 ? parsed : null;
        }
        var chosen = (rate is not null ? 1 : 0) + (every is not null ? 1 : 0) + (keyframes ? 1 : 0);
        if (chosen > 1)
        {
            throw new ArgumentException("choose one of --fps, --every and --keyframes");
        }
        if (every is < 1)
        {
            throw new ArgumentException($"--every must be at least 1, not {every}");
        }
        var sampling = new FrameSampling
        {
            Start = start is null ? null : ParseTime(start, "--start"),
            End = end is null ? null : ParseTime(end, "--end"),
        };
        return rate is { } r ? sampling with { Mode = SamplingMode.Fps, Fps = r }
            : every is { } n ? sampling with { Mode = SamplingMode.Every, Step = n }
            : keyframes ? sampling with { Mode = SamplingMode.Keyframes }
            : sampling;
    }

    /// <summary>Seconds ("12.5") or a clock time ("1:02.5", "01:00:00").</summary>
    internal static double ParseTime(string text, string option)
    {
        var parts = text.Trim().Split(':');
        double seconds = 0;
        var ok = parts.Length <= 3;
        for (var i = 0; ok && i < parts.Length; i++)
        {
            var last = i == parts.Length - 1;
            ok = double.TryParse(parts[i], last ? NumberStyles.Float : NumberStyles.None, CultureInfo.InvariantCulture, out var part)
                && part >= 0 && (i == 0 || part < 60);
            seconds = (seconds * 60) + part;
        }
        if (!ok || !double.IsFinite(seconds))
        {
            throw new ArgumentException($"{option} must be seconds or [HH:]MM:SS[.mmm], not '{text}'");
        }
        return seconds;
    }
}
