using System.Text.Json;
using System.Text.Json.Serialization;
using Reel.Media.Extraction;
using Spectre.Console;

namespace Reel.Cli.Rendering;

/// <summary>The end of a run over many inputs: one stderr line per failure, a table or JSON, and the exit code.</summary>
internal static class RunSummary
{
    /// <param name="verb">The command: its word for a finished input ("extract" → "extracted") and its error prefix.</param>
    public static async Task<int> FinishAsync(
        string verb, IReadOnlyList<VideoResult> results, IReadOnlyList<string> inputErrors, TimeSpan elapsed, bool json, CancellationToken cancellationToken)
    {
        foreach (var failed in results.Where(r => r.Outcome == VideoOutcome.Failed))
        {
            await Console.Error.WriteLineAsync($"reel {verb}: {failed.Input}: {failed.Error}");
        }
        var done = verb.EndsWith('e') ? verb + "d" : verb + "ed";
        if (json)
        {
            await Console.Out.WriteLineAsync(ToJson(results, inputErrors, elapsed, done));
        }
        else
        {
            WriteTable(results, elapsed, done);
        }
        if (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Interrupted;
        }
        return inputErrors.Count > 0 || results.Any(r => r.Outcome == VideoOutcome.Failed) ? ExitCodes.InputFailed : ExitCodes.Ok;
    }

    private static void WriteTable(IReadOnlyList<VideoResult> results, TimeSpan elapsed, string done)
    {
        var table = new Table().Border(TableBorder.Simple)
            .AddColumn("video").AddColumn("status").AddColumn(new TableColumn("frames").RightAligned())
            .AddColumn(new TableColumn("seconds").RightAligned()).AddColumn("output");
        foreach (var r in results)
        {
            var status = r.Outcome switch
            {
                VideoOutcome.Completed => $"[green]{done}[/]",
                VideoOutcome.AlreadyDone => "[grey]already done[/]",
                _ => "[red]failed[/]",
            };
            table.AddRow(Markup.Escape(r.Input), status, $"{r.FramesWritten}", $"{r.Elapsed.TotalSeconds:0.00}", Markup.Escape(r.OutputDirectory));
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"{results.Sum(r => r.FramesWritten)} frames from {results.Count} input(s) in {elapsed.TotalSeconds:0.00}s");
    }

    private static string ToJson(IReadOnlyList<VideoResult> results, IReadOnlyList<string> inputErrors, TimeSpan elapsed, string done)
    {
        var summary = new Summary(
            results.Select(r => new VideoSummary(
                r.Input, r.OutputDirectory, Status(r.Outcome, done), r.FramesWritten, r.FramesPlanned,
                Math.Round(r.Elapsed.TotalSeconds, 3), r.Error)).ToList(),
            inputErrors,
            results.Sum(r => r.FramesWritten),
            Math.Round(elapsed.TotalSeconds, 3),
            inputErrors.Count == 0 && results.All(r => r.Outcome != VideoOutcome.Failed));
        return JsonSerializer.Serialize(summary, SummaryJson.Default.Summary);
    }

    private static string Status(VideoOutcome outcome, string done) => outcome switch
    {
        VideoOutcome.Completed => done,
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
