using System.CommandLine;
using Reel.Data;
using static Reel.Cli.Commands.DataCommandSupport;

namespace Reel.Cli.Commands;

/// <summary><c>reel log REPO@BRANCH</c>: a branch's commits, newest first.</summary>
internal static class LogCommand
{
    public static Command Create()
    {
        var dataDir = DataDirOption();
        var address = new Argument<string>("REPO@BRANCH") { Description = "Branch whose history to show" };
        var json = JsonOption();
        var command = new Command("log", "Show a branch's commits, newest first.\n\nExamples:\n  reel log videos\n  reel log videos@dev --json")
        {
            address, json, dataDir,
        };
        command.SetAction((result, cancellationToken) => RunAsync(
            "log", result, dataDir,
            () =>
            {
                var parsed = DataAddress.Parse(result.GetRequiredValue(address));
                return parsed.HasPath ? throw new ArgumentException($"'{result.GetValue(address)}': log takes REPO@BRANCH, without a path") : parsed;
            },
            async (store, target) =>
            {
                var commits = await store.LogAsync(target.Repo, target.Branch, cancellationToken);
                if (result.GetValue(json))
                {
                    await WriteJsonAsync(commits, DataJson.Default.IReadOnlyListCommitInfo);
                }
                else
                {
                    await WriteTableAsync(
                        ["COMMIT", "CREATED", "FILES", "SIZE", "MESSAGE"],
                        commits.Select(c => (IReadOnlyList<string>)[c.Id, Time(c.Created), Number(c.Files), Size(c.Size), c.Message]));
                }
                return ExitCodes.Ok;
            },
            cancellationToken));
        return command;
    }
}
