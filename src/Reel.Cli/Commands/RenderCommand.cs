using System.CommandLine;
using Reel.Cli.Rendering;
using Reel.Operators.Faces;
using Reel.Operators.Filters;
using Reel.Operators.Rendering;

namespace Reel.Cli.Commands;

/// <summary><c>reel render</c>: a video through filters, every frame and the audio kept.</summary>
internal static class RenderCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("video") { Description = "The video to render" };
        var filters = new Option<string[]>("--filter", "-f")
        {
            Description = $"Filter to apply, in order; may be repeated: {string.Join(", ", FilterSpec.Known)}",
            Required = true,
        };
        var output = new Option<string>("--output", "-o") { Description = "The rendered video (.mp4, .mov, .mkv or .ts)", Required = true };
        var workers = new Option<int>("--workers") { Description = "Segments rendered at once (default: number of cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var faceModel = new Option<string>("--face-model")
        {
            Description = "Face detector: short (BlazeFace, near faces), full (BlazeFace, far faces) or haar (classic cascade)",
            DefaultValueFactory = _ => "short",
        };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace the output file when it exists" };
        var json = new Option<bool>("--json") { Description = "Print a JSON summary on stdout and no progress" };

        var command = new Command(
            "render",
            "Render a video through filters: same frames, frame rate and audio; H.264 (libx264, crf 18).\n\n"
            + "Filters: blur-faces (privacy blur), pixelate-faces, boxes (face boxes, scores, keypoints),\n"
            + "overlay=A.png[,B.png...] (PNG with alpha on the eyes, 2.2 eye distances wide; several cycle frame by frame).\n\n"
            + "Examples:\n"
            + "  reel render video.mp4 --filter blur-faces -o blurred.mp4\n"
            + "  reel render video.mp4 -f boxes -f overlay=glasses.png -o fun.mp4 --workers 4\n"
            + "  reel render video.mp4 -f overlay=red.png,green.png,blue.png -o disco.mp4 --overwrite --json")
        {
            input, filters, output, workers, faceModel, overwrite, json,
        };

        command.SetAction(async (result, cancellationToken) =>
        {
            var parsed = new List<IFrameFilter>();
            try
            {
                RenderOptions options;
                try
                {
                    foreach (var spec in result.GetRequiredValue(filters))
                    {
                        parsed.Add(FilterSpec.Parse(spec));
                    }
                    options = new RenderOptions
                    {
                        Output = result.GetRequiredValue(output),
                        Filters = parsed,
                        FaceModel = FaceDetectors.Parse(result.GetRequiredValue(faceModel)),
                        Workers = result.GetValue(workers),
                        Overwrite = result.GetValue(overwrite),
                    };
                    options.Validate();
                }
                catch (ArgumentException e)
                {
                    await Console.Error.WriteLineAsync($"reel render: {e.Message}");
                    return ExitCodes.Usage;
                }

                var asJson = result.GetValue(json);
                var report = IRunReport.For(asJson);
                var started = TimeProvider.System.GetTimestamp();
                var renderer = new VideoRenderer(options, report);
                var video = result.GetRequiredValue(input);
                var results = await report.RunAsync(async () => [await renderer.RenderAsync(video, cancellationToken)]);
                return await RunSummary.FinishAsync("render", results, [], TimeProvider.System.GetElapsedTime(started), asJson, cancellationToken);
            }
            finally
            {
                foreach (var filter in parsed.OfType<IDisposable>())
                {
                    filter.Dispose();
                }
            }
        });
        return command;
    }
}
