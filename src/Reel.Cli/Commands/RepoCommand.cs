using System.CommandLine;
using Reel.Data;
using static Reel.Cli.Commands.DataCommandSupport;

namespace Reel.Cli.Commands;

/// <summary><c>reel repo create|list|inspect|delete</c>: versioned data repos.</summary>
internal static class RepoCommand
{
    public static Command Create()
    {
        var dataDir = DataDirOption();
        var command = new Command(
            "repo",
            "Create, list, inspect and delete versioned data repos.\n\n"
            + "Examples:\n"
            + "  reel repo create videos\n"
            + "  reel repo list --json\n"
            + "  reel repo delete videos --force")
        {
            dataDir, CreateVerb(dataDir), ListVerb(dataDir), InspectVerb(dataDir), DeleteVerb(dataDir),
        };
        return command;
    }

    private static Command CreateVerb(Option<string?> dataDir)
    {
        var name = new Argument<string>("NAME") { Description = "Repo name: letters, digits, '_', '-', '.'" };
        var command = new Command("create", "Create an empty repo.\n\nExample:\n  reel repo create videos") { name };
        command.SetAction((result, cancellationToken) => Remote.For(result) is { } remote
            ? remote.RunAsync("repo create", async r =>
            {
                await r.PostJsonAsync("api/v1/repos", new { name = result.GetRequiredValue(name) });
                return ExitCodes.Ok;
            })
            : RunAsync(
            "repo create", result, dataDir, () => result.GetRequiredValue(name),
            async (store, repo) =>
            {
                await store.CreateRepoAsync(repo, cancellationToken);
                return ExitCodes.Ok;
            },
            cancellationToken));
        return command;
    }

    private static Command ListVerb(Option<string?> dataDir)
    {
        var json = JsonOption();
        var command = new Command("list", "List repos with their branches and commit counts.\n\nExample:\n  reel repo list") { json };
        command.SetAction((result, cancellationToken) => Remote.For(result) is { } remote
            ? remote.RunAsync("repo list", async r => await PrintReposAsync(await r.GetAsync<List<RepoInfo>>("api/v1/repos"), result.GetValue(json)))
            : RunAsync(
            "repo list", result, dataDir, () => result.GetValue(json),
            async (store, asJson) => await PrintReposAsync(await store.ListReposAsync(cancellationToken), asJson),
            cancellationToken));
        return command;
    }

    private static async Task<int> PrintReposAsync(IReadOnlyList<RepoInfo> repos, bool asJson)
    {
        if (asJson)
        {
            await WriteJsonAsync(repos, DataJson.Default.IReadOnlyListRepoInfo);
        }
        else
        {
            await WriteTableAsync(
                ["NAME", "CREATED", "COMMITS", "BRANCHES"],
                repos.Select(r => (IReadOnlyList<string>)[r.Name, Time(r.Created), Number(r.Commits), string.Join(',', r.Branches.Select(b => b.Name))]));
        }
        return ExitCodes.Ok;
    }

    private static Command InspectVerb(Option<string?> dataDir)
    {
        var name = new Argument<string>("NAME") { Description = "Repo name" };
        var json = JsonOption();
        var command = new Command("inspect", "Show a repo: creation time, commits, and each branch's head.\n\nExample:\n  reel repo inspect videos")
        {
            name, json,
        };
        command.SetAction((result, cancellationToken) => RunAsync(
            "repo inspect", result, dataDir, () => (Name: result.GetRequiredValue(name), Json: result.GetValue(json)),
            async (store, arguments) =>
            {
                var repo = await store.GetRepoAsync(arguments.Name, cancellationToken);
                if (arguments.Json)
                {
                    await WriteJsonAsync(repo, DataJson.Default.RepoInfo);
                    return ExitCodes.Ok;
                }
                await Console.Out.WriteLineAsync($"Name: {repo.Name}");
                await Console.Out.WriteLineAsync($"Created: {Time(repo.Created)}");
                await Console.Out.WriteLineAsync($"Commits: {repo.Commits}");
                foreach (var branch in repo.Branches)
                {
                    var head = await store.GetCommitAsync(branch.Head, cancellationToken);
                    await Console.Out.WriteLineAsync($"Branch {branch.Name}: {head.Id} ({head.Files} files, {Size(head.Size)})");
                }
                return ExitCodes.Ok;
            },
            cancellationToken));
        return command;
    }

    private static Command DeleteVerb(Option<string?> dataDir)
    {
        var name = new Argument<string>("NAME") { Description = "Repo name" };
        var force = new Option<bool>("--force", "-f") { Description = "Delete even if the repo holds commits" };
        var command = new Command(
            "delete",
            "Delete a repo, its branches and commits, and the stored content no other repo uses. "
            + "A repo that holds commits needs --force.\n\nExample:\n  reel repo delete videos --force")
        {
            name, force,
        };
        command.SetAction((result, cancellationToken) => RunAsync(
            "repo delete", result, dataDir, () => (Name: result.GetRequiredValue(name), Force: result.GetValue(force)),
            async (store, arguments) =>
            {
                await store.DeleteRepoAsync(arguments.Name, arguments.Force, cancellationToken);
                return ExitCodes.Ok;
            },
            cancellationToken));
        return command;
    }
}
