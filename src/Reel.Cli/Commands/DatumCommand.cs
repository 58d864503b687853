using System.CommandLine;
using Reel.Pipelines.Jobs;
using static Reel.Cli.Commands.DataCommandSupport;
using static Reel.Cli.Commands.PipelineSupport;

namespace Reel.Cli.Commands;

/// <summary><c>reel datum list JOB</c>: each datum's state, tries, time and error.</summary>
internal static class DatumCommand
{
    public static Command Create()
    {
        var dataDir = DataDirOption();
        var id = new Argument<string>("JOB") { Description = "Job id or a unique prefix of it" };
        var json = JsonOption();
        var list = new Command("list", "List a job's datums: state (Success, Skipped, Failed, Pending), tries, seconds, error.") { id, json };
        list.SetAction((result, cancellationToken) => Remote.For(result) is { } remote
            ? remote.RunAsync("datum list", async r => await PrintAsync(
                await r.GetAsync<List<DatumInfo>>($"api/v1/jobs/{Uri.EscapeDataString(result.GetRequiredValue(id))}/datums"), result.GetValue(json)))
            : RunAsync(
            "datum list", result, dataDir, () => (Id: result.GetRequiredValue(id), Json: result.GetValue(json)),
            async (store, args) =>
            {
                var job = await store.GetJobAsync(args.Id, cancellationToken);
                return await PrintAsync(await store.ListDatumsAsync(job.Id, cancellationToken), args.Json);
            },
            cancellationToken));
        return new Command("datum", "Datums: the units of a job (by default one per input file).") { dataDir, list };
    }

    private static async Task<int> PrintAsync(IReadOnlyList<DatumInfo> datums, bool asJson)
    {
        if (asJson)
        {
            await WriteJsonAsync<IReadOnlyList<DatumView>>(
                datums.Select(d => new DatumView(d.Id, d.State.ToString(), d.Tries, d.Files.Select(f => $"{f.Input}:{f.Path}").ToList(), d.Started, d.Seconds, d.Error)).ToList(),
                PipelineJson.Default.IReadOnlyListDatumView);
            return ExitCodes.Ok;
        }
        await WriteTableAsync(
            ["ID", "STATE", "TRIES", "SECONDS", "FILES", "ERROR"],
            datums.Select(d => (IReadOnlyList<string>)[
                Short(d.Id), d.State.ToString(), Number(d.Tries), d.Seconds is { } s ? s.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) : "-",
                JobCommand.Describe(d), d.Error ?? ""]));
        return ExitCodes.Ok;
    }
}
