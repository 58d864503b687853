using System.CommandLine;
using Reel.Data;
using static Reel.Cli.Commands.DataCommandSupport;

namespace Reel.Cli.Commands;

/// <summary><c>reel diff COMMIT COMMIT</c>: paths added, removed or changed from the first commit to the second.</summary>
internal static class DiffCommand
{
    public static Command Create()
    {
        var dataDir = DataDirOption();
        var from = new Argument<string>("FROM") { Description = "Commit id, unique id prefix, or REPO@BRANCH (its head)" };
        var to = new Argument<string>("TO") { Description = "Commit id, unique id prefix, or REPO@BRANCH (its head)" };
        var json = JsonOption();
        var command = new Command(
            "diff",
            "Show the paths added (+), removed (-) and changed (M) from one commit to another.\n\n"
            + "Examples:\n"
            + "  reel diff 3f2a9c1e 77b0d4aa\n"
            + "  reel diff videos@master videos@dev --json")
        {
            from, to, json, dataDir,
        };
        command.SetAction((result, cancellationToken) => RunAsync(
            "diff", result, dataDir, () => (From: result.GetRequiredValue(from), To: result.GetRequiredValue(to)),
            async (store, commits) =>
            {
                var before = await store.GetCommitAsync(commits.From, cancellationToken);
                var after = await store.GetCommitAsync(commits.To, cancellationToken);
                var changes = await store.DiffAsync(before.Id, after.Id, cancellationToken);
                if (result.GetValue(json))
                {
                    await WriteJsonAsync(changes, DataJson.Default.IReadOnlyListFileChange);
                    return ExitCodes.Ok;
                }
                foreach (var change in changes)
                {
                    var mark = change.Kind switch { ChangeKind.Added => "+", ChangeKind.Removed => "-", _ => "M" };
                    await Console.Out.WriteLineAsync($"{mark} {change.Path}");
                }
                return ExitCodes.Ok;
            },
            cancellationToken));
        return command;
    }
}
