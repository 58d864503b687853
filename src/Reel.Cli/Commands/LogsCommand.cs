using System.CommandLine;
using Reel.Data;
using Reel.Pipelines.Jobs;
using static Reel.Cli.Commands.PipelineSupport;

namespace Reel.Cli.Commands;

/// <summary><c>reel logs --pipeline P | --job J | --datum D [-f]</c>: what datums' commands printed.</summary>
internal static class LogsCommand
{
    public static Command Create()
    {
        var dataDir = DataCommandSupport.DataDirOption();
        var pipeline = new Option<string?>("--pipeline", "-p") { Description = "The pipeline's latest job" };
        var job = new Option<string?>("--job", "-j") { Description = "A job id or prefix" };
        var datum = new Option<string?>("--datum", "-d") { Description = "A datum id or prefix (of the job given, else of the latest job holding it)" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing until the job finishes" };
        var command = new Command(
            "logs",
            "Print the output (stdout and stderr) of a job's datums, each line prefixed by its datum.\n\n"
            + "Examples:\n  reel logs --pipeline frames\n  reel logs --job 3f2a91c0 -f\n  reel logs --datum 9be1")
        {
            pipeline, job, datum, follow, dataDir,
        };
        command.SetAction((result, cancellationToken) => RunAsync(
            "logs", result, dataDir,
            () => (Pipeline: result.GetValue(pipeline), Job: result.GetValue(job), Datum: result.GetValue(datum), Follow: result.GetValue(follow)),
            async (store, args) =>
            {
                if (args.Pipeline is null && args.Job is null && args.Datum is null)
                {
                    throw new ArgumentException("give --pipeline, --job or --datum");
                }
                var target = args.Job is not null ? await store.GetJobAsync(args.Job, cancellationToken)
                    : args.Pipeline is not null ? (await store.ListJobsAsync((await store.GetPipelineAsync(args.Pipeline, cancellationToken)).Name, cancellationToken)).FirstOrDefault()
                        ?? throw new DataException(DataErrorKind.NotFound, $"pipeline '{args.Pipeline}' has no jobs yet")
                    : await FindJobOfDatumAsync(store, args.Datum!, cancellationToken);
                var printed = new Dictionary<string, long>(StringComparer.Ordinal);
                while (true)
                {
                    var datums = await store.ListDatumsAsync(target.Id, cancellationToken);
                    foreach (var d in datums.Where(d => args.Datum is null || d.Id.StartsWith(args.Datum, StringComparison.OrdinalIgnoreCase)))
                    {
                        await PrintNewAsync(store, d, printed, cancellationToken);
                    }
                    target = await store.GetJobAsync(target.Id, cancellationToken);
                    if (!args.Follow || target.IsFinished)
                    {
                        break;
                    }
                    await Task.Delay(TimeSpan.FromMilliseconds(300), cancellationToken);
                }
                return ExitCodes.Ok;
            },
            cancellationToken));
        return command;
    }

    private static async Task<JobInfo> FindJobOfDatumAsync(PipelineStore store, string datum, CancellationToken cancellationToken)
    {
        foreach (var job in await store.ListJobsAsync(null, cancellationToken))
        {
            if ((await store.ListDatumsAsync(job.Id, cancellationToken)).Any(d => d.Id.StartsWith(datum, StringComparison.OrdinalIgnoreCase)))
            {
                return job;
            }
        }
        throw new DataException(DataErrorKind.NotFound, $"datum '{datum}' does not exist");
    }

    /// <summary>
    /// Prints the lines added to a datum's log since the last call, each prefixed by its datum: from this machine's
    /// log file while the datum runs here, else (a datum a cluster node ran) once from the object its node stored.
    /// </summary>
    private static async Task PrintNewAsync(PipelineStore store, DatumInfo datum, Dictionary<string, long> printed, CancellationToken cancellationToken)
    {
        var seen = printed.GetValueOrDefault(datum.Id);
        // Once following a local file, keep to it: the stored log, when it comes, holds the same lines.
        var stored = seen == 0 && datum.Log is not null;
        var path = stored ? await store.LogFileAsync(datum, cancellationToken) : store.LogPath(datum.JobId, datum.Id);
        if (seen == StoredLogPrinted || !File.Exists(path))
        {
            return;
        }
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite) { Position = seen };
        using var reader = new StreamReader(file);
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            await Console.Out.WriteLineAsync($"{Short(datum.Id)} {line}");
        }
        printed[datum.Id] = stored ? StoredLogPrinted : file.Position;
    }

    private const long StoredLogPrinted = -1;
}
