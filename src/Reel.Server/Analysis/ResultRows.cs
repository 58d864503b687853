using System.Text.Json;
using Reel.Operators;

namespace Reel.Server.Analysis;

/// <summary>Reel's results (as analyzed, or from <c>results.jsonl</c>) as the analysis API's stored rows.</summary>
public static class ResultRows
{
    public const string FileName = "results.jsonl";

    private static readonly JsonSerializerOptions Json = new();

    /// <summary>One model's result on one frame as a row: Reel's frame index and milliseconds, the seed's result shape.</summary>
    public static AnalysisRow From(FrameResult result) => new(
        result.Frame, SeedModels.SeedName(result.Model), result.Time, SeedApi.Results(result).ToJsonString(), result.InferenceMs ?? 0);

    /// <summary>Reel's results.jsonl as rows.</summary>
    public static List<AnalysisRow> Read(string path) =>
        File.ReadLines(path).Where(l => l.Length > 0).Select(l => From(JsonSerializer.Deserialize<FrameResult>(l, Json)!)).ToList();
}
