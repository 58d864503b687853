using System.Text.Json;
using System.Text.Json.Serialization;
using Reel.Media.Extraction;
using Spectre.Console;

namespace Reel.Cli.Rendering;

/// <summary>The end-of-run summary of <c>reel extract</c>, as a table or as JSON.</summary>
internal static class ExtractSummary
{
    public static void WriteTable(IReadOnlyList<VideoResult> results, TimeSpan elapsed)
    {
        var table = new Table().Border(TableBorder.Simple)
            .AddColumn("video").AddColumn("status").AddColumn(new TableColumn("frames").RightAligned())
            .AddColumn(new TableColumn("seconds").RightAligned()).AddColumn("output");
        foreach (var r in results)
        {
            var status = r.Outcome switch
            {
                VideoOutcome.Completed => "[green]extracted[/]",
                VideoOutcome.AlreadyDone => "[grey]already done[/]",
                _ => "[red]failed[/]",
            };
            table.AddRow(Markup.Escape(r.Input), status, $"{r.FramesWritten}", $"{r.Elapsed.TotalSeconds:0.00}", Markup.Escape(r.OutputDirectory));
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"{results.Sum(r => r.FramesWritten)} frames from {results.Count} video(s) in {elapsed.TotalSeconds:0.00}s");
    }

    public static string ToJson(IReadOnlyList<VideoResult> results, IReadOnlyList<string> inputErrors, TimeSpan elapsed)
    {
        var summary = new Summary(
            results.Select(r => new VideoSummary(
                r.Input, r.OutputDirectory, Status(r.Outcome), r.FramesWritten, r.FramesPlanned,
                Math.Round(r.Elapsed.TotalSeconds, 3), r.Error)).ToList(),
            inputErrors,
            results.Sum(r => r.FramesWritten),
            Math.Round(elapsed.TotalSeconds, 3),
            inputErrors.Count == 0 && results.All(r => r.Outcome != VideoOutcome.Failed));
        return JsonSerializer.Serialize(summary, SummaryJson.Default.Summary);
    }

    private static string Status(VideoOutcome outcome) => outcome switch
    {
        VideoOutcome.Completed => "extracted",
        VideoOutcome.AlreadyDone => "already-done",
        _ => "failed",
    };
}

internal sealed record Summary(
    [property: JsonPropertyName("videos")] IReadOnlyList<VideoSummary> Videos,
    [property: JsonPropertyName("inputErrors")] IReadOnlyList<string> InputErrors,
    [property: JsonPropertyName("framesWritten")] int FramesWritten,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("ok")] bool Ok);

internal sealed record VideoSummary(
    [property: JsonPropertyName("input")] string Input,
    [property: JsonPropertyName("output")] string Output,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("framesWritten")] int FramesWritten,
    [property: JsonPropertyName("framesPlanned")] int FramesPlanned,
    [property: JsonPropertyName("seconds")] double Seconds,
    [property: JsonPropertyName("error")] string? Error);

[JsonSerializable(typeof(Summary))]
[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
internal sealed partial class SummaryJson : JsonSerializerContext;
