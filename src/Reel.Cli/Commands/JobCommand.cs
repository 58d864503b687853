using System.CommandLine;
using Reel.Pipelines.Jobs;
using Spectre.Console;
using static Reel.Cli.Commands.DataCommandSupport;
using static Reel.Cli.Commands.PipelineSupport;

namespace Reel.Cli.Commands;

/// <summary><c>reel job list|inspect|wait|stop</c>.</summary>
internal static class JobCommand
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    public static Command Create()
    {
        var dataDir = DataDirOption();
        return new Command(
            "job",
            "Jobs: one per input commit of a pipeline.\n\n"
            + "Examples:\n"
            + "  reel job list --pipeline frames\n"
            + "  reel job wait                (every running job, and the jobs they start downstream)\n"
            + "  reel job inspect 3f2a91c0\n"
            + "  reel job stop 3f2a91c0")
        {
            dataDir, ListVerb(dataDir), InspectVerb(dataDir), WaitVerb(dataDir), StopVerb(dataDir),
        };
    }

    private static Command ListVerb(Option<string?> dataDir)
    {
        var pipeline = new Option<string?>("--pipeline", "-p") { Description = "Only this pipeline's jobs" };
        var json = JsonOption();
        var command = new Command("list", "List jobs, newest first.") { pipeline, json };
        command.SetAction((result, cancellationToken) => Remote.For(result) is { } remote
            ? remote.RunAsync("job list", async r => await PrintJobsAsync(
                await r.GetAsync<List<JobInfo>>("api/v1/jobs" + (result.GetValue(pipeline) is { } p ? $"?pipeline={Uri.EscapeDataString(p)}" : "")),
                result.GetValue(json)))
            : RunAsync(
            "job list", result, dataDir, () => (Pipeline: result.GetValue(pipeline), Json: result.GetValue(json)),
            async (store, args) =>
            {
                if (args.Pipeline is not null)
                {
                    await store.GetPipelineAsync(args.Pipeline, cancellationToken);
                }
                return await PrintJobsAsync(await store.ListJobsAsync(args.Pipeline, cancellationToken), args.Json);
            },
            cancellationToken));
        return command;
    }

    private static async Task<int> PrintJobsAsync(IReadOnlyList<JobInfo> jobs, bool asJson)
    {
        if (asJson)
        {
            await WriteJsonAsync<IReadOnlyList<JobView>>(jobs.Select(JobView.Of).ToList(), PipelineJson.Default.IReadOnlyListJobView);
            return ExitCodes.Ok;
        }
        await WriteTableAsync(
            ["ID", "PIPELINE", "STATE", "DATUMS", "STARTED", "DURATION", "OUTPUT"],
            jobs.Select(j => (IReadOnlyList<string>)[
                Short(j.Id), j.Pipeline, j.State.ToString(), Progress(j), Time(j.Started ?? j.Created), Elapsed(j),
                j.OutputCommit is null ? "-" : Short(j.OutputCommit)]));
        return ExitCodes.Ok;
    }

    private static Command InspectVerb(Option<string?> dataDir)
    {
        var id = new Argument<string>("JOB") { Description = "Job id or a unique prefix of it" };
        var json = JsonOption();
        var command = new Command("inspect", "Show a job: state, input commits (provenance), output commit, datum counts, failed datums.") { id, json };
        command.SetAction((result, cancellationToken) => Remote.For(result) is { } remote
            ? remote.RunAsync("job inspect", async r =>
            {
                var job = await r.GetAsync<JobInfo>($"api/v1/jobs/{Uri.EscapeDataString(result.GetRequiredValue(id))}");
                return await PrintJobAsync(job, await r.GetAsync<List<DatumInfo>>($"api/v1/jobs/{job.Id}/datums"), result.GetValue(json));
            })
            : RunAsync(
            "job inspect", result, dataDir, () => (Id: result.GetRequiredValue(id), Json: result.GetValue(json)),
            async (store, args) =>
            {
                var job = await store.GetJobAsync(args.Id, cancellationToken);
                return await PrintJobAsync(job, await store.ListDatumsAsync(job.Id, cancellationToken), args.Json);
            },
            cancellationToken));
        return command;
    }

    private static async Task<int> PrintJobAsync(JobInfo job, IReadOnlyList<DatumInfo> datums, bool asJson)
    {
        if (asJson)
        {
            await WriteJsonAsync(JobView.Of(job), PipelineJson.Default.JobView);
            return ExitCodes.Ok;
        }
        await Console.Out.WriteLineAsync($"""
            Job:      {job.Id}
            Pipeline: {job.Pipeline} (version {job.Version})
            State:    {job.State}{(job.Error is null ? "" : $" ({job.Error})")}
            Inputs:   {string.Join(", ", job.Inputs.Select(i => $"{i.Key}@{Short(i.Value)}"))}
            Output:   {(job.OutputCommit is null ? "-" : $"{job.Pipeline}@{job.OutputCommit}")}
            Datums:   {job.Counts.Total} total, {job.Counts.Success} succeeded, {job.Counts.Skipped} skipped, {job.Counts.Failed} failed, {job.Counts.Pending + job.Counts.Running} to run
            Started:  {(job.Started is { } s ? Time(s) : "-")}
            Duration: {Elapsed(job)}
            """);
        foreach (var datum in datums.Where(d => d.State == DatumState.Failed))
        {
            await Console.Out.WriteLineAsync($"  failed {Short(datum.Id)} {Describe(datum)}: {datum.Error}");
        }
        return ExitCodes.Ok;
    }

    private static Command WaitVerb(Option<string?> dataDir)
    {
        var id = new Argument<string?>("JOB") { Description = "Job id or prefix (default: every unfinished job, and those they start)", Arity = ArgumentArity.ZeroOrOne };
        var pipeline = new Option<string?>("--pipeline", "-p") { Description = "Wait for this pipeline's jobs" };
        var command = new Command("wait", "Wait for jobs to finish, with progress; exit code 1 when one of them failed.") { id, pipeline };
        command.SetAction((result, cancellationToken) => Remote.For(result) is { } remote
            ? remote.RunAsync("job wait", r => WaitRemoteAsync(r, result.GetValue(id), result.GetValue(pipeline), cancellationToken))
            : RunAsync(
            "job wait", result, dataDir, () => (Id: result.GetValue(id), Pipeline: result.GetValue(pipeline)),
            async (store, args) =>
            {
                var waited = new Dictionary<string, JobInfo>(StringComparer.Ordinal);
                string? only = args.Id is null ? null : (await store.GetJobAsync(args.Id, cancellationToken)).Id;
                if (args.Pipeline is not null)
                {
                    await store.GetPipelineAsync(args.Pipeline, cancellationToken);
                }

                async Task<bool> PollAsync()
                {
                    await StartDueJobsAsync(store, cancellationToken);
                    var pending = false;
                    foreach (var job in only is null ? await store.ListUnfinishedJobsAsync(cancellationToken) : [await store.GetJobAsync(only, cancellationToken)])
                    {
                        if (args.Pipeline is null || job.Pipeline == args.Pipeline)
                        {
                            waited[job.Id] = job;
                            pending |= !job.IsFinished;
                        }
                    }
                    foreach (var known in waited.Values.Where(j => !j.IsFinished).ToList())
                    {
                        waited[known.Id] = await store.GetJobAsync(known.Id, cancellationToken);
                        pending |= !waited[known.Id].IsFinished;
                    }
                    return pending;
                }

                if (Console.IsErrorRedirected)
                {
                    while (await PollAsync())
                    {
                        await Task.Delay(PollInterval, cancellationToken);
                    }
                }
                else
                {
                    var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
                    await console.Progress()
                        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                        .StartAsync(async context =>
                        {
                            var bars = new Dictionary<string, ProgressTask>(StringComparer.Ordinal);
                            bool more;
                            do
                            {
                                more = await PollAsync();
                                foreach (var job in waited.Values)
                                {
                                    if (!bars.TryGetValue(job.Id, out var bar))
                                    {
                                        bars[job.Id] = bar = context.AddTask(Markup.Escape($"{job.Pipeline} {Short(job.Id)}"));
                                    }
                                    bar.MaxValue = Math.Max(1, job.Counts.Total);
                                    bar.Value = job.IsFinished ? bar.MaxValue : job.Counts.Done;
                                    bar.Description = Markup.Escape($"{job.Pipeline} {Short(job.Id)} {job.State} {Progress(job)}");
                                }
                                if (more)
                                {
                                    await Task.Delay(PollInterval, cancellationToken);
                                }
                            }
                            while (more);
                        });
                }
                foreach (var job in waited.Values.OrderBy(j => j.Created))
                {
                    await Console.Error.WriteLineAsync(
                        $"job {Short(job.Id)} of {job.Pipeline}: {job.State}, {Progress(job)} datums in {Elapsed(job)}"
                        + (job.Error is null ? "" : $": {job.Error}"));
                }
                return waited.Values.All(j => j.State == JobState.Success) ? ExitCodes.Ok : ExitCodes.InputFailed;
            },
            cancellationToken));
        return command;
    }

    /// <summary>
    /// Waits on a server's jobs (of one job or pipeline, or all) until none is unfinished; its engine creates jobs for
    /// new commits within a moment, so an empty list is believed only after a second look.
    /// </summary>
    private static async Task<int> WaitRemoteAsync(Remote remote, string? id, string? pipeline, CancellationToken cancellationToken)
    {
        var seen = new Dictionary<string, JobInfo>(StringComparer.Ordinal);
        var quietRounds = 0;
        while (true)
        {
            var jobs = id is not null ? [await remote.GetAsync<JobInfo>($"api/v1/jobs/{Uri.EscapeDataString(id)}")]
                : await remote.GetAsync<List<JobInfo>>("api/v1/jobs" + (pipeline is null ? "" : $"?pipeline={Uri.EscapeDataString(pipeline)}"));
            var unfinished = jobs.Where(j => !j.IsFinished).ToList();
            foreach (var job in unfinished.Concat(jobs.Where(j => seen.ContainsKey(j.Id) || id is not null)))
            {
                seen[job.Id] = job;
            }
            quietRounds = unfinished.Count == 0 ? quietRounds + 1 : 0;
            if (quietRounds >= (id is null ? 3 : 1))
            {
                break;
            }
            await Task.Delay(PollInterval, cancellationToken);
        }
        foreach (var job in seen.Values.OrderBy(j => j.Created))
        {
            await Console.Error.WriteLineAsync($"job {Short(job.Id)} of {job.Pipeline}: {job.State}, {Progress(job)} datums in {Elapsed(job)}"
                + (job.Error is null ? "" : $": {job.Error}"));
        }
        return seen.Values.All(j => j.State == JobState.Success) ? ExitCodes.Ok : ExitCodes.InputFailed;
    }

    private static Command StopVerb(Option<string?> dataDir)
    {
        var id = new Argument<string>("JOB") { Description = "Job id or a unique prefix of it" };
        var command = new Command("stop", "Stop a running job: its running datums are killed and nothing is committed.") { id };
        command.SetAction((result, cancellationToken) => Remote.For(result) is { } remote
            ? remote.RunAsync("job stop", async r =>
            {
                await r.PostJsonAsync($"api/v1/jobs/{Uri.EscapeDataString(result.GetRequiredValue(id))}/stop", new { });
                return ExitCodes.Ok;
            })
            : RunAsync(
            "job stop", result, dataDir, () => result.GetRequiredValue(id),
            async (store, job) =>
            {
                await store.RequestStopAsync(job, cancellationToken);
                return ExitCodes.Ok;
            },
            cancellationToken));
        return command;
    }

    public static string Describe(DatumInfo datum) => datum.Files.Count switch
    {
        0 => "(empty)",
        1 => $"{datum.Files[0].Input}:{datum.Files[0].Path}",
        _ => $"{datum.Files[0].Input}:{datum.Files[0].Path} (+{datum.Files.Count - 1} files)",
    };
}
