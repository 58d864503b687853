using System.CommandLine;
using Reel.Cli.Rendering;
using Reel.Media;
using Reel.Media.Extraction;
using Reel.Operators.Analysis;
using Reel.Operators.Faces;

namespace Reel.Cli.Commands;

/// <summary><c>reel analyze</c>: run detection and analysis models over videos and images.</summary>
internal static class AnalyzeCommand
{
    public static Command Create()
    {
        var input = new Option<string[]>("--input", "-i")
        {
            Description = "Video or image file, directory, or glob; may be repeated",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var output = new Option<string>("--output-dir", "-o") { Description = "Directory to write results to", Required = true };
        var models = new Option<string>("--models", "-m")
        {
            Description = $"Comma-separated models: {string.Join(", ", AnalyzeOptions.KnownModels)}",
            DefaultValueFactory = _ => "faces",
        };
        var sampling = new SamplingOptions();
        var objectModel = new Option<string?>("--object-model") { Description = "YOLO ONNX file (YOLOv5, YOLOv8/11 layouts) for objects (default: the bundled CenterNet, COCO-80)" };
        var objectLabels = new Option<string?>("--object-labels") { Description = "Labels for the object model, one per line (default: COCO's 80)" };
        var emotionModel = new Option<string?>("--emotion-model") { Description = "ONNX emotion classifier (FER+ style) for emotions (default: the bundled 7-class model)" };
        var faceModel = new Option<string>("--face-model")
        {
            Description = "Face detector: short (BlazeFace, near faces), full (BlazeFace, far faces) or haar (classic cascade)",
            DefaultValueFactory = _ => "short",
        };
        var tiling = new Option<string>("--face-tiling")
        {
            Description = "Extra face passes: auto (squares for video, tiles for images), none (fastest), squares, dense",
            DefaultValueFactory = _ => "auto",
        };
        var size = new Option<int>("--analysis-size")
        {
            Description = "Longer side, in pixels, video frames are analyzed at (results are in source pixels)",
            DefaultValueFactory = _ => 640,
        };
        var workers = new Option<int>("--workers") { Description = "Worker threads (default: number of cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var overwrite = new Option<bool>("--overwrite") { Description = "Replace results a previous run finished" };
        var json = new Option<bool>("--json") { Description = "Print a JSON summary on stdout and no progress" };

        var command = new Command(
            "analyze",
            "Run models over videos and images: DIR/<file name>/results.jsonl, summary.json and detections.png.\n\n"
            + "Examples:\n"
            + "  reel analyze --input video.mp4 --models faces,colors --output-dir results\n"
            + "  reel analyze -i videos/ -m faces,scenes,motion --fps 2 -o results --json\n"
            + "  reel analyze -i team.jpg -m objects --object-model yolov8n.onnx -o results")
        {
            input, output, models, sampling.Fps, sampling.Every, sampling.Keyframes, sampling.Start, sampling.End,
            objectModel, objectLabels, emotionModel, faceModel, tiling, size, workers, overwrite, json,
        };

        command.SetAction(async (result, cancellationToken) =>
        {
            AnalyzeOptions options;
            try
            {
                options = new AnalyzeOptions
                {
                    OutputDirectory = result.GetRequiredValue(output),
                    Models = result.GetRequiredValue(models).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                        .Select(m => m.ToLowerInvariant()).Distinct().ToList(),
                    Sampling = sampling.Parse(result),
                    ObjectModel = result.GetValue(objectModel),
                    ObjectLabels = result.GetValue(objectLabels),
                    EmotionModel = result.GetValue(emotionModel),
                    FaceModel = FaceDetectors.Parse(result.GetRequiredValue(faceModel)),
                    FaceTiling = result.GetRequiredValue(tiling) switch
                    {
                        "auto" => null,
                        "none" => FaceTiling.None,
                        "squares" => FaceTiling.Squares,
                        "dense" => FaceTiling.Dense,
                        var other => throw new ArgumentException($"--face-tiling must be auto, none, squares or dense, not '{other}'"),
                    },
                    AnalysisSize = result.GetValue(size),
                    Workers = result.GetValue(workers),
                    Overwrite = result.GetValue(overwrite),
                };
                options.Validate();
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync($"reel analyze: {e.Message}");
                return ExitCodes.Usage;
            }

            var (files, missing) = MediaInputs.Expand(result.GetRequiredValue(input), includeImages: true);
            foreach (var reason in missing)
            {
                await Console.Error.WriteLineAsync($"reel analyze: {reason}");
            }
            var asJson = result.GetValue(json);
            var report = IRunReport.For(asJson);
            var started = TimeProvider.System.GetTimestamp();
            var analyzer = new VideoAnalyzer(options, report);
            var results = await report.RunAsync(() => analyzer.RunAsync(files, cancellationToken));
            return await RunSummary.FinishAsync("analyze", results, missing, TimeProvider.System.GetElapsedTime(started), asJson, cancellationToken);
        });
        return command;
    }
}
