using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Reel.Operators.Motion;

namespace Reel.Operators.Analysis;

/// <summary>
/// Where one input's analysis goes: <c>results.jsonl</c> (a line per frame and model, in frame order),
/// <c>detections.png</c> (detections per second over time) and <c>summary.json</c>, written last by rename so
/// its presence means the results are complete.
/// </summary>
internal sealed class ResultsFolder(string root, string input)
{
    public const string ResultsName = "results.jsonl";
    public const string SummaryName = "summary.json";
    public const string PlotName = "detections.png";

    /// <summary>A piece's partial results (<see cref="AnalyzeOptions.Piece"/>): its rows, and per sequence model the frames' descriptions.</summary>
    public const string PieceRowsName = "piece.jsonl";

    public string Path { get; } = System.IO.Path.Combine(root, System.IO.Path.GetFileName(input));

    private string SummaryPath => System.IO.Path.Combine(Path, SummaryName);

    public AnalysisSummary? ReadFinished()
    {
        if (!File.Exists(SummaryPath))
        {
            return null;
        }
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(SummaryPath), AnalysisJson.Default.AnalysisSummary);
        }
        catch (JsonException)
        {
            return new AnalysisSummary { Input = input, Settings = "unreadable" };
        }
    }

    public void Commit(AnalysisRun run, AnalyzeOptions options)
    {
        Directory.CreateDirectory(Path);
        File.Delete(SummaryPath);
        var order = AnalyzeOptions.KnownModels.Select((m, i) => (m, i)).ToDictionary(p => p.m, p => p.i);
        var rows = run.Results.OrderBy(r => r.Frame).ThenBy(r => order.GetValueOrDefault(r.Model))
            .Select(r => options.PortableResults ? r with { InferenceMs = null } : r)
            .ToList();

        var results = System.IO.Path.Combine(Path, ResultsName);
        using (var writer = new StreamWriter(results + ".tmp", append: false, new UTF8Encoding(false)))
        {
            foreach (var row in rows)
            {
                writer.Write(JsonSerializer.Serialize(row, AnalysisJson.Default.FrameResult));
                writer.Write('\n');
            }
        }
        File.Move(results + ".tmp", results, overwrite: true);

        var summary = AnalysisSummary.From(run, options);
        var plot = System.IO.Path.Combine(Path, PlotName);
        DetectionPlot.Write(summary, plot);
        File.WriteAllText(SummaryPath + ".tmp", JsonSerializer.Serialize(summary, AnalysisJson.Default.AnalysisSummary));
        File.Move(SummaryPath + ".tmp", SummaryPath, overwrite: true);
    }

    /// <summary>Writes a piece's rows and, for each sequence model, its frames' descriptions in frame order, for the merge.</summary>
    public void CommitPiece(AnalysisRun run, IReadOnlyList<ISequenceAnalyzer> sequences, IReadOnlyList<IReadOnlyList<(int Frame, object Description)>> descriptions)
    {
        Directory.CreateDirectory(Path);
        using (var writer = new StreamWriter(System.IO.Path.Combine(Path, PieceRowsName), append: false, new UTF8Encoding(false)))
        {
            foreach (var row in run.Results)
            {
                writer.Write(JsonSerializer.Serialize(row, AnalysisJson.Default.FrameResult));
                writer.Write('\n');
            }
        }
        for (var m = 0; m < sequences.Count; m++)
        {
            using var writer = new BinaryWriter(File.Create(DescriptionsPath(sequences[m].Model)));
            writer.Write(descriptions[m].Count);
            foreach (var (frame, description) in descriptions[m])
            {
                writer.Write(frame);
                sequences[m].WriteDescription(description, writer);
            }
        }
    }

    /// <summary>A piece's rows, as <see cref="CommitPiece"/> wrote them.</summary>
    public IEnumerable<FrameResult> ReadPieceRows() =>
        File.ReadLines(System.IO.Path.Combine(Path, PieceRowsName))
            .Where(l => l.Length > 0)
            .Select(l => JsonSerializer.Deserialize(l, AnalysisJson.Default.FrameResult) ?? throw new InvalidDataException($"{Path}: an empty row"));

    /// <summary>A piece's descriptions for one sequence model, in frame order.</summary>
    public IEnumerable<(int Frame, object Description)> ReadPieceDescriptions(ISequenceAnalyzer sequence)
    {
        using var reader = new BinaryReader(File.OpenRead(DescriptionsPath(sequence.Model)));
        var count = reader.ReadInt32();
        for (var i = 0; i < count; i++)
        {
            var frame = reader.ReadInt32();
            yield return (frame, sequence.ReadDescription(reader));
        }
    }

    private string DescriptionsPath(string model) => System.IO.Path.Combine(Path, $"piece.{model}.bin");
}

/// <summary>The contents of <c>summary.json</c>.</summary>
public sealed record AnalysisSummary
{
    [JsonPropertyName("input")]
    public required string Input { get; init; }

    [JsonPropertyName("settings")]
    public required string Settings { get; init; }

    [JsonPropertyName("sourceBytes")]
    public long SourceBytes { get; init; }

    /// <summary>Frames analyzed.</summary>
    [JsonPropertyName("frames")]
    public int Frames { get; init; }

    [JsonPropertyName("width")]
    public int Width { get; init; }

    [JsonPropertyName("height")]
    public int Height { get; init; }

    [JsonPropertyName("models")]
    public IReadOnlyDictionary<string, ModelSummary> Models { get; init; } = new Dictionary<string, ModelSummary>();

    /// <summary>Per model with detections: detections in each whole second of the source, [second, count].</summary>
    [JsonPropertyName("perSecond")]
    public IReadOnlyDictionary<string, IReadOnlyList<double[]>> PerSecond { get; init; } = new Dictionary<string, IReadOnlyList<double[]>>();

    /// <summary>Frames where a new shot starts (scenes model).</summary>
    [JsonPropertyName("sceneCuts")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<FrameTime>? SceneCuts { get; init; }

    /// <summary>Stretches of at least a second where the camera did not move (motion model): what the CamHD analysis looks for.</summary>
    [JsonPropertyName("stillStretches")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<StillStretch>? StillStretches { get; init; }

    private static int ModelOrder(string model)
    {
        var index = AnalyzeOptions.KnownModels.ToList().IndexOf(model);
        return index >= 0 ? index : int.MaxValue;
    }

    internal static AnalysisSummary From(AnalysisRun run, AnalyzeOptions options)
    {
        var models = new Dictionary<string, ModelSummary>();
        var perSecond = new Dictionary<string, IReadOnlyList<double[]>>();
        // Results arrive in no fixed order (workers finish when they do): models and labels are listed in a fixed one.
        foreach (var group in run.Results.GroupBy(r => r.Model).OrderBy(g => ModelOrder(g.Key)).ThenBy(g => g.Key, StringComparer.Ordinal))
        {
            var rows = group.ToList();
            models[group.Key] = new ModelSummary(
                rows.Count,
                rows.Sum(r => r.Detections.Count),
                rows.Count(r => r.Detections.Count > 0),
                options.PortableResults ? null : rows.Count == 0 ? 0 : Math.Round(rows.Average(r => r.InferenceMs ?? 0), 3),
                rows.SelectMany(r => r.Detections).GroupBy(d => d.Label).OrderBy(g => g.Key, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count()));
            if (group.Key is "faces" or "objects" or "emotions")
            {
                perSecond[group.Key] = rows
                    .GroupBy(r => Math.Floor(r.Time))
                    .OrderBy(g => g.Key)
                    .Select(g => new[] { g.Key, g.Sum(r => r.Detections.Count) / (double)g.Count() })
                    .ToList();
            }
        }
        var cuts = run.Results.Where(r => r.Scene?.Cut == true).OrderBy(r => r.Frame).Select(r => new FrameTime(r.Frame, r.Time)).ToList();
        return new AnalysisSummary
        {
            Input = options.PortableResults ? System.IO.Path.GetFileName(run.Input) : run.Input,
            Settings = options.Fingerprint(),
            SourceBytes = new FileInfo(run.Input).Length,
            Frames = run.Planned,
            Width = run.Width,
            Height = run.Height,
            Models = models,
            PerSecond = perSecond,
            SceneCuts = options.Models.Contains("scenes") ? cuts : null,
            StillStretches = options.Models.Contains("motion")
                ? MotionAnalyzer.StillStretches(run.Results.Where(r => r.Model == "motion").OrderBy(r => r.Frame).ToList(), TimeSpan.FromSeconds(1))
                : null,
        };
    }
}

/// <summary>One model's totals over a video.</summary>
public sealed record ModelSummary(
    [property: JsonPropertyName("frames")] int Frames,
    [property: JsonPropertyName("detections")] int Detections,
    [property: JsonPropertyName("framesWithDetections")] int FramesWithDetections,
    [property: JsonPropertyName("meanInferenceMs"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? MeanInferenceMs,
    [property: JsonPropertyName("labels")] IReadOnlyDictionary<string, int> Labels);

public sealed record FrameTime(
    [property: JsonPropertyName("frame")] int Frame,
    [property: JsonPropertyName("time")] double Time);

[JsonSerializable(typeof(FrameResult))]
[JsonSerializable(typeof(AnalysisSummary))]
[JsonSourceGenerationOptions(DefaultIgnoreCondition = JsonIgnoreCondition.Never, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
internal sealed partial class AnalysisJson : JsonSerializerContext;
