using System.CommandLine;
using System.Globalization;
using Reel.Cli.Rendering;
using Reel.Media;
using Reel.Media.Extraction;
using Reel.Media.Imaging;
using Reel.Media.Sampling;

namespace Reel.Cli.Commands;

/// <summary><c>reel extract</c>: write the frames of videos as images.</summary>
internal static class ExtractCommand
{
    public static Command Create()
    {
        var input = new Option<string[]>("--input", "-i")
        {
            Description = "Video file, directory of videos, or glob (e.g. 'clips/*.mp4'); may be repeated",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<string>("--output-dir", "-o") { Description = "Directory to write frames to", Required = true };
        var fps = new Option<string?>("--fps") { Description = "Frames per second to keep, e.g. 1, 2.5, 30000/1001; -1 keeps every frame" };
        var every = new Option<int?>("--every") { Description = "Keep every Nth frame: 0, N, 2N…" };
        var keyframes = new Option<bool>("--keyframes") { Description = "Keep only the keyframes" };
        var start = new Option<string?>("--start") { Description = "First time to keep: seconds or [HH:]MM:SS[.mmm]" };
        var end = new Option<string?>("--end") { Description = "Time to stop before: seconds or [HH:]MM:SS[.mmm]" };
        var format = new Option<string>("--format") { Description = "Image format: jpg, png or webp", DefaultValueFactory = _ => "jpg" };
        var quality = new Option<int>("--quality")
        {
            Description = "JPEG/WebP quality 1-100 (default 90: visually lossless)",
            DefaultValueFactory = _ => ExtractOptions.DefaultQuality,
        };
        var width = new Option<int?>("--width") { Description = "Scale to this width; height keeps the aspect ratio" };
        var height = new Option<int?>("--height") { Description = "Scale to this height; width keeps the aspect ratio" };
        var workers = new Option<int>("--workers")
        {
            Description = "Decoding/encoding threads (default: number of cores)",
            DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace frames a previous run finished" };
        var json = new Option<bool>("--json") { Description = "Print a JSON summary on stdout and no progress" };
        var threaded = new Option<bool>("--threaded")
        {
            Description = "Accepted for extract_frames.py compatibility; Reel is always parallel",
            Hidden = true,
        };

        var command = new Command(
            "extract",
            "Write video frames as images: DIR/<video file name>/<frame index, 10 digits>.<ext>, plus frames.jsonl.\n\n"
            + "Examples:\n"
            + "  reel extract --input video.mp4 --output-dir out\n"
            + "  reel extract --input videos/ --output-dir out --fps 1 --width 640\n"
            + "  reel extract -i 'clips/*.mkv' -o out --keyframes --format png --json")
        {
            input, output, fps, every, keyframes, start, end, format, quality, width, height, workers, overwrite, json, threaded,
        };

        command.SetAction(async (result, cancellationToken) =>
        {
            ExtractOptions options;
            try
            {
                options = new ExtractOptions
                {
                    OutputDirectory = result.GetRequiredValue(output),
                    Sampling = ParseSampling(result.GetValue(fps), result.GetValue(every), result.GetValue(keyframes),
                        result.GetValue(start), result.GetValue(end)),
                    Format = ImageFormats.TryParse(result.GetRequiredValue(format), out var f)
                        ? f
                        : throw new ArgumentException($"--format must be jpg, png or webp, not '{result.GetValue(format)}'"),
                    Quality = result.GetValue(quality),
                    Width = result.GetValue(width),
                    Height = result.GetValue(height),
                    Workers = result.GetValue(workers),
                    Overwrite = result.GetValue(overwrite),
                };
                options.Validate();
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync($"reel extract: {e.Message}");
                return ExitCodes.Usage;
            }

            var (files, missing) = MediaInputs.Expand(result.GetRequiredValue(input));
            foreach (var reason in missing)
            {
                await Console.Error.WriteLineAsync($"reel extract: {reason}");
            }

            var asJson = result.GetValue(json);
            var report = asJson || Console.IsErrorRedirected ? (IExtractionReport)new PlainReport() : new ProgressReport();
            var started = TimeProvider.System.GetTimestamp();
            IReadOnlyList<VideoResult> results;
            try
            {
                results = await report.RunAsync(new FrameExtractor(options, report), files, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return ExitCodes.Interrupted;
            }
            foreach (var failed in results.Where(r => r.Outcome == VideoOutcome.Failed))
            {
                await Console.Error.WriteLineAsync($"reel extract: {failed.Input}: {failed.Error}");
            }
            var elapsed = TimeProvider.System.GetElapsedTime(started);
            if (asJson)
            {
                await Console.Out.WriteLineAsync(ExtractSummary.ToJson(results, missing, elapsed));
            }
            else
            {
                ExtractSummary.WriteTable(results, elapsed);
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return ExitCodes.Interrupted;
            }
            return missing.Count > 0 || results.Any(r => r.Outcome == VideoOutcome.Failed) ? ExitCodes.InputFailed : ExitCodes.Ok;
        });
        return command;
    }

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
