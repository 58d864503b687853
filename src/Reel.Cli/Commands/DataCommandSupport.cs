using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Reel.Cluster;
using Reel.Data;

namespace Reel.Cli.Commands;

/// <summary>What the versioned-data verbs share: <c>--data-dir</c>, <c>--json</c>, opening the store and mapping errors to exit codes.</summary>
internal static class DataCommandSupport
{
    public static Option<string?> DataDirOption() => new("--data-dir")
    {
        Description = "Data directory (default: $REEL_DATA_DIR, else ~/.reel)",
        Recursive = true,
    };

    public static Option<bool> JsonOption() => new("--json") { Description = "Print JSON on stdout" };

    /// <summary>
    /// Parses the arguments (a malformed one is a usage error, before anything is opened), then runs
    /// <paramref name="run"/> on the opened store. Data errors become one stderr line and exit code 1.
    /// </summary>
    public static async Task<int> RunAsync<T>(
        string verb, ParseResult result, Option<string?> dataDir, Func<T> parse, Func<DataStore, T, Task<int>> run, CancellationToken cancellationToken)
    {
        if (Remote.For(result) is { } remote)
        {
            // Verbs that work over a server branch off before this; the others must not quietly use local data instead.
            remote.Dispose();
            await Console.Error.WriteLineAsync($"reel {verb}: --server (or $REEL_SERVER) is not supported by this command; run it where the data directory is");
            return ExitCodes.Usage;
        }
        T arguments;
        try
        {
            arguments = parse();
        }
        catch (Exception e) when (e is DataException or ArgumentException)
        {
            await Console.Error.WriteLineAsync($"reel {verb}: {e.Message}");
            return ExitCodes.Usage;
        }
        try
        {
            if (ClusterSupport.Path(result) is { } clusterPath)
            {
                var cluster = ClusterFile.Load(clusterPath);
                await using var data = await ClusterData.OpenAsync(cluster, ClusterSupport.LocalDirectory(cluster), cancellationToken);
                return await run(data.Store, arguments);
            }
            await using var store = await DataStore.OpenAsync(DataStore.ResolveDirectory(result.GetValue(dataDir)), TimeProvider.System, cancellationToken);
            return await run(store, arguments);
        }
        catch (ClusterException e)
        {
            await Console.Error.WriteLineAsync($"reel {verb}: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (Npgsql.NpgsqlException e)
        {
            await Console.Error.WriteLineAsync($"reel {verb}: {ClusterSetup.Describe(e)}");
            return ExitCodes.InputFailed;
        }
        catch (DataException e)
        {
            await Console.Error.WriteLineAsync($"reel {verb}: {e.Message}");
            return e.Kind == DataErrorKind.Invalid ? ExitCodes.Usage : ExitCodes.InputFailed;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync($"reel {verb}: interrupted; nothing was committed");
            return ExitCodes.Interrupted;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"reel {verb}: {e.Message}");
            return ExitCodes.InputFailed;
        }
    }

    public static async Task WriteJsonAsync<T>(T value, JsonTypeInfo<T> type) =>
        await Console.Out.WriteLineAsync(JsonSerializer.Serialize(value, type));

    /// <summary>Rows as aligned columns, the header first.</summary>
    public static async Task WriteTableAsync(IReadOnlyList<string> header, IEnumerable<IReadOnlyList<string>> rows)
    {
        var all = rows.Prepend(header).ToList();
        var widths = Enumerable.Range(0, header.Count).Select(i => all.Max(r => r[i].Length)).ToArray();
        foreach (var row in all)
        {
            var cells = row.Select((cell, i) => i == row.Count - 1 ? cell : cell.PadRight(widths[i]));
            await Console.Out.WriteLineAsync(string.Join("  ", cells).TrimEnd());
        }
    }

    public static string Time(DateTimeOffset time) => time.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    public static string Number(long n) => n.ToString(CultureInfo.InvariantCulture);

    public static string Size(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.#} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.#} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):0.##} GiB"),
    };
}

/// <summary>One entry of <c>reel ls</c>: a file, or a directory with the total size of what is under it.</summary>
internal sealed record ListingEntry(string Path, string Type, long Size, string? Hash);

[JsonSerializable(typeof(IReadOnlyList<RepoInfo>))]
[JsonSerializable(typeof(RepoInfo))]
[JsonSerializable(typeof(IReadOnlyList<CommitInfo>))]
[JsonSerializable(typeof(CommitInfo))]
[JsonSerializable(typeof(IReadOnlyList<FileEntry>))]
[JsonSerializable(typeof(IReadOnlyList<FileChange>))]
[JsonSerializable(typeof(IReadOnlyList<ListingEntry>))]
[JsonSourceGenerationOptions(
    WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
internal sealed partial class DataJson : JsonSerializerContext;
