using System.CommandLine;
using Reel.Data;
using Reel.Pipelines.Jobs;
using Reel.Pipelines.Specs;
using static Reel.Cli.Commands.DataCommandSupport;
using static Reel.Cli.Commands.PipelineSupport;

namespace Reel.Cli.Commands;

/// <summary><c>reel pipeline create|update|list|inspect|delete|rerun|graph</c>.</summary>
internal static class PipelineCommand
{
    public static Command Create()
    {
        var dataDir = DataDirOption();
        return new Command(
            "pipeline",
            "Pipelines turn every commit to their input repos into a job whose output is a commit to a repo named after the "
            + "pipeline. Specs are YAML or JSON; Pachyderm's JSON specs are read as they are.\n\n"
            + "Examples:\n"
            + "  reel pipeline create -f frames.json\n"
            + "  reel pipeline list\n"
            + "  reel pipeline rerun frames --failed-only\n"
            + "  reel pipeline graph")
        {
            dataDir, CreateVerb(dataDir, update: false), CreateVerb(dataDir, update: true), ListVerb(dataDir), InspectVerb(dataDir),
            DeleteVerb(dataDir), RerunVerb(dataDir), GraphVerb(dataDir),
        };
    }

    private static Command CreateVerb(Option<string?> dataDir, bool update)
    {
        var file = new Option<string>("--file", "-f") { Description = "The spec file (YAML or JSON)", Required = true };
        var verb = update ? "update" : "create";
        var command = new Command(
            verb,
            update
                ? "Replace a pipeline's spec; its version goes up, so every datum runs again under the new spec."
                : "Create a pipeline from a spec; a job starts at once when its inputs already hold data.")
        {
            file,
        };
        command.SetAction((result, cancellationToken) => Remote.For(result) is { } remote
            ? remote.RunAsync($"pipeline {verb}", async r =>
            {
                var path = result.GetRequiredValue(file);
                SpecReader.ReadFile(path);
                var created = await r.PostTextAsync(update ? "api/v1/pipelines?update=true" : "api/v1/pipelines", await File.ReadAllTextAsync(path, cancellationToken));
                await Console.Out.WriteLineAsync($"{created.GetProperty("name").GetString()} (version {created.GetProperty("version").GetInt32()})");
                return ExitCodes.Ok;
            })
            : RunAsync(
            $"pipeline {verb}", result, dataDir, () => Path.GetFullPath(result.GetRequiredValue(file)),
            async (store, path) =>
            {
                var spec = SpecReader.ReadFile(path);
                var text = await File.ReadAllTextAsync(path, cancellationToken);
                var source = Path.GetFileName(path);
                var directory = Path.GetDirectoryName(path)!;
                var pipeline = update
                    ? await store.UpdatePipelineAsync(spec, text, source, directory, cancellationToken)
                    : await store.CreatePipelineAsync(spec, text, source, directory, cancellationToken);
                foreach (var field in spec.Ignored)
                {
                    await Console.Error.WriteLineAsync($"reel pipeline {verb}: {source}: ignored {field}"
                        + (field == "transform.image" ? " (Reel runs the command on this machine, not in a container)" : " (not used by Reel)"));
                }
                var jobs = await StartDueJobsAsync(store, cancellationToken);
                await Console.Out.WriteLineAsync($"{pipeline.Name} (version {pipeline.Version})");
                foreach (var job in jobs)
                {
                    await Console.Error.WriteLineAsync($"job {job.Id} of {job.Pipeline} started; follow it with: reel job wait {Short(job.Id)}");
                }
                return ExitCodes.Ok;
            },
            cancellationToken));
        return command;
    }

    private static Command ListVerb(Option<string?> dataDir)
    {
        var json = JsonOption();
        var command = new Command("list", "List pipelines with their inputs and last job.") { json };
        command.SetAction((result, cancellationToken) => RunAsync(
            "pipeline list", result, dataDir, () => result.GetValue(json),
            async (store, asJson) =>
            {
                var views = new List<PipelineView>();
                foreach (var pipeline in await store.ListPipelinesAsync(cancellationToken))
                {
                    views.Add(await ViewAsync(store, pipeline, cancellationToken));
                }
                if (asJson)
                {
                    await WriteJsonAsync<IReadOnlyList<PipelineView>>(views, PipelineJson.Default.IReadOnlyListPipelineView);
                    return ExitCodes.Ok;
                }
                await WriteTableAsync(
                    ["NAME", "VERSION", "INPUT", "LAST JOB", "STATE", "DATUMS"],
                    views.Select(v => (IReadOnlyList<string>)[
                        v.Name, Number(v.Version), string.Join(" × ", v.Inputs), v.LastJob is null ? "-" : Short(v.LastJob.Id),
                        v.LastJob?.State ?? "-", v.LastJob is null ? "-" : $"{v.LastJob.Datums.Done}/{v.LastJob.Datums.Total}"]));
                return ExitCodes.Ok;
            },
            cancellationToken));
        return command;
    }

    private static Command InspectVerb(Option<string?> dataDir)
    {
        var name = new Argument<string>("NAME");
        var json = JsonOption();
        var command = new Command("inspect", "Show a pipeline: spec, inputs, output repo, last job.") { name, json };
        command.SetAction((result, cancellationToken) => RunAsync(
            "pipeline inspect", result, dataDir, () => (Name: result.GetRequiredValue(name), Json: result.GetValue(json)),
            async (store, args) =>
            {
                var view = await ViewAsync(store, await store.GetPipelineAsync(args.Name, cancellationToken), cancellationToken);
                if (args.Json)
                {
                    await WriteJsonAsync(view, PipelineJson.Default.PipelineView);
                    return ExitCodes.Ok;
                }
                await Console.Out.WriteLineAsync($"""
                    Name:        {view.Name}
                    Version:     {view.Version}
                    Description: {view.Description}
                    Input:       {string.Join(" × ", view.Inputs)}
                    Output:      {view.Output}@master
                    Transform:   {view.Transform}
                    Ignored:     {(view.Ignored.Count == 0 ? "-" : string.Join(", ", view.Ignored))}
                    Created:     {Time(view.Created)}
                    Last job:    {(view.LastJob is { } j ? $"{Short(j.Id)} {j.State} {j.Datums.Done}/{j.Datums.Total} datums" : "-")}
                    """);
                return ExitCodes.Ok;
            },
            cancellationToken));
        return command;
    }

    private static Command DeleteVerb(Option<string?> dataDir)
    {
        var name = new Argument<string>("NAME");
        var command = new Command("delete", "Delete a pipeline with its jobs, logs and output repo.") { name };
        command.SetAction((result, cancellationToken) => RunAsync(
            "pipeline delete", result, dataDir, () => result.GetRequiredValue(name),
            async (store, pipeline) =>
            {
                var running = (await store.ListUnfinishedJobsAsync(cancellationToken)).FirstOrDefault(j => j.Pipeline == pipeline);
                if (running is not null)
                {
                    throw new DataException(DataErrorKind.Conflict, $"job {Short(running.Id)} of '{pipeline}' is running; stop it first: reel job stop {Short(running.Id)}");
                }
                await store.DeletePipelineAsync(pipeline, cancellationToken);
                return ExitCodes.Ok;
            },
            cancellationToken));
        return command;
    }

    private static Command RerunVerb(Option<string?> dataDir)
    {
        var name = new Argument<string>("NAME");
        var failedOnly = new Option<bool>("--failed-only") { Description = "Run only the datums that failed in the last job; carry the rest over" };
        var command = new Command("rerun", "Run a pipeline's last input commits again: every datum, or only the failed ones.") { name, failedOnly };
        command.SetAction((result, cancellationToken) => RunAsync(
            "pipeline rerun", result, dataDir, () => (Name: result.GetRequiredValue(name), FailedOnly: result.GetValue(failedOnly)),
            async (store, args) =>
            {
                var pipeline = await store.GetPipelineAsync(args.Name, cancellationToken);
                var jobs = await store.ListJobsAsync(pipeline.Name, cancellationToken);
                var last = jobs.FirstOrDefault() ?? throw new DataException(DataErrorKind.NotFound, $"pipeline '{pipeline.Name}' has no job to rerun yet");
                if (!last.IsFinished)
                {
                    throw new DataException(DataErrorKind.Conflict, $"job {Short(last.Id)} of '{pipeline.Name}' is still running");
                }
                var job = await store.CreateJobAsync(pipeline, last.Inputs, args.FailedOnly ? "failed" : "all", cancellationToken);
                await StartDueJobsAsync(store, cancellationToken);
                await Console.Out.WriteLineAsync(job.Id);
                return ExitCodes.Ok;
            },
            cancellationToken));
        return command;
    }

    private static Command GraphVerb(Option<string?> dataDir)
    {
        var command = new Command("graph", "Show how repos feed pipelines and pipelines feed each other, as a tree.");
        command.SetAction((result, cancellationToken) => RunAsync(
            "pipeline graph", result, dataDir, () => 0,
            async (store, _) =>
            {
                var pipelines = await store.ListPipelinesAsync(cancellationToken);
                var readers = pipelines.SelectMany(p => p.Spec.Input.Repos.Select(r => (Repo: r.Repo, Input: r, Pipeline: p)))
                    .ToLookup(e => e.Repo, StringComparer.Ordinal);
                var outputs = pipelines.Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
                foreach (var source in readers.Select(g => g.Key).Where(r => !outputs.Contains(r)).Distinct().Order(StringComparer.Ordinal))
                {
                    await Console.Out.WriteLineAsync($"{source} (repo)");
                    await PrintAsync(source, "");
                }
                return ExitCodes.Ok;

                async Task PrintAsync(string repo, string indent)
                {
                    var children = readers[repo].ToList();
                    for (var i = 0; i < children.Count; i++)
                    {
                        var last = i == children.Count - 1;
                        var (_, input, pipeline) = children[i];
                        await Console.Out.WriteLineAsync($"{indent}{(last ? "└─" : "├─")} {pipeline.Name} (pipeline: {input.Branch}, glob {input.Glob}) → {pipeline.Name}@master");
                        await PrintAsync(pipeline.Name, indent + (last ? "   " : "│  "));
                    }
                }
            },
            cancellationToken));
        return command;
    }

    private static async Task<PipelineView> ViewAsync(PipelineStore store, PipelineInfo pipeline, CancellationToken cancellationToken)
    {
        var spec = pipeline.Spec;
        var last = (await store.ListJobsAsync(pipeline.Name, cancellationToken)).FirstOrDefault();
        var transform = spec.Transform.Steps.Count > 0
            ? "steps: " + string.Join(", ", spec.Transform.Steps.Select(s => s.Name))
            : string.Join(' ', spec.Transform.Cmd) + (spec.Transform.Stdin.Count > 0 ? $" (+{spec.Transform.Stdin.Count} stdin lines)" : "");
        return new PipelineView(
            pipeline.Name, pipeline.Version, spec.Description, spec.Input.Repos.Select(r => $"{r.Repo}@{r.Branch}:{r.Glob}").ToList(), pipeline.Name,
            transform, spec.Ignored, pipeline.Created, pipeline.Updated, last is null ? null : JobView.Of(last));
    }
}
