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
        var sampling = new SamplingOptions();
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
            input, output, sampling.Fps, sampling.Every, sampling.Keyframes, sampling.Start, sampling.End, format, quality, width, height, workers, overwrite, json, threaded,
        };

        command.SetAction(async (result, cancellationToken) =>
        {
            ExtractOptions options;
            try
            {
                options = new ExtractOptions
                {
                    OutputDirectory = result.GetRequiredValue(output),
                    Sampling = sampling.Parse(result),
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
            var report = IRunReport.For(asJson);
            var started = TimeProvider.System.GetTimestamp();
            var extractor = new FrameExtractor(options, report);
            var results = await report.RunAsync(() => extractor.RunAsync(files, cancellationToken));
            return await RunSummary.FinishAsync("extract", results, missing, TimeProvider.System.GetElapsedTime(started), asJson, cancellationToken);
        });
        return command;
    }
}
