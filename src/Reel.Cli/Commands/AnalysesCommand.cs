using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Reel.Data;
using Reel.Server.Analysis;

namespace Reel.Cli.Commands;

/// <summary><c>reel analyses clear --days N</c>: removes old analyses of <c>reel serve</c>, as the seed's <c>clear_frames --days N</c>.</summary>
internal static class AnalysesCommand
{
    public static Command Create()
    {
        var dataDir = DataCommandSupport.DataDirOption();
        var days = new Option<int>("--days") { Description = "Remove finished analyses created more than this many days ago (0: all finished ones)", Required = true };
        var json = DataCommandSupport.JsonOption();
        var clear = new Command(
            "clear",
            "Remove finished analyses older than --days: their rows, results, fetched videos and frames (running ones stay).\n\n"
            + "Example:\n  reel analyses clear --days 30")
        {
            dataDir, days, json,
        };
        clear.SetAction(async (result, cancellationToken) =>
        {
            if (result.GetValue(days) < 0)
            {
                await Console.Error.WriteLineAsync("reel analyses clear: --days must be at least 0");
                return ExitCodes.Usage;
            }
            var directory = DataStore.ResolveDirectory(result.GetValue(dataDir));
            await using var store = await AnalysisStore.OpenAsync(directory, cancellationToken);
            var (removed, bytes) = await AnalysisRetention.ClearAsync(
                store, ct => DataStore.OpenAsync(directory, TimeProvider.System, ct), directory, DateTimeOffset.UtcNow.AddDays(-result.GetValue(days)), cancellationToken);
            if (result.GetValue(json))
            {
                await Console.Out.WriteLineAsync(JsonSerializer.Serialize(new { removed = removed.Select(a => a.Id.ToString("D")), bytes }));
            }
            else
            {
                await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"removed {removed.Count} {(removed.Count == 1 ? "analysis" : "analyses")}, {bytes / (1024.0 * 1024):0.#} MiB freed"));
            }
            return ExitCodes.Ok;
        });
        return new Command("analyses", "Manage the analyses of 'reel serve' in the data directory.") { clear };
    }
}
