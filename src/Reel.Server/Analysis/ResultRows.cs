using System.Text.Json.Nodes;

namespace Reel.Server.Analysis;

/// <summary>Reel's <c>results.jsonl</c> as the analysis API's rows.</summary>
public static class ResultRows
{
    public const string FileName = "results.jsonl";

    /// <summary>Reel's results.jsonl as the API's rows: boxes as [x, y, width, height], colors as hex.</summary>
    public static List<AnalysisRow> Read(string path)
    {
        var rows = new List<AnalysisRow>();
        foreach (var line in File.ReadLines(path))
        {
            var node = JsonNode.Parse(line)!.AsObject();
            var model = (string)node["model"]!;
            var items = new JsonArray();
            if (node["colors"] is JsonArray colors)
            {
                foreach (var color in colors)
                {
                    items.Add(new JsonObject { ["color"] = (string)color!["hex"]!, ["percentage"] = Math.Round((double)color["share"]! * 100, 2) });
                }
            }
            if (node["detections"] is JsonArray detections)
            {
                foreach (var detection in detections)
                {
                    var box = detection!["box"]!;
                    items.Add(new JsonObject
                    {
                        ["label"] = (string)detection["label"]!,
                        ["probability"] = Math.Round((double)detection["score"]!, 4),
                        ["coordinates"] = new JsonArray(
                            (int)Math.Round((double)box["x"]!), (int)Math.Round((double)box["y"]!),
                            (int)Math.Round((double)box["width"]!), (int)Math.Round((double)box["height"]!)),
                    });
                }
            }
            rows.Add(new AnalysisRow(
                (int)node["frame"]!, SeedModels.SeedName(model), (double)node["time"]!, items.ToJsonString(),
                node["inferenceMs"] is JsonNode ms ? (double)ms : 0));
        }
        return rows;
    }
}
