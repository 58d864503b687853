using System.CommandLine;
using Reel.Data;
using static Reel.Cli.Commands.DataCommandSupport;

namespace Reel.Cli.Commands;

/// <summary><c>reel rm REPO@BRANCH:PATH</c>: one commit without a file or a directory's files.</summary>
internal static class RmCommand
{
    public static Command Create()
    {
        var dataDir = DataDirOption();
        var address = new Argument<string>("REPO@BRANCH:PATH") { Description = "The file or directory to delete" };
        var message = new Option<string?>("--message", "-m") { Description = "Commit message (default: what was deleted)" };
        var command = new Command(
            "rm",
            "Delete a file, or a directory with everything under it, from a branch as one new commit; prints the commit id. "
            + "Earlier commits keep it.\n\nExample:\n  reel rm videos@master:/clips/old.mp4")
        {
            address, message, dataDir,
        };
        command.SetAction((result, cancellationToken) => RunAsync(
            "rm", result, dataDir, () => DataAddress.Parse(result.GetRequiredValue(address)),
            async (store, target) =>
            {
                if (!target.HasPath || target.Path == DataPath.Root)
                {
                    throw new DataException(DataErrorKind.Invalid, "give the path to delete, e.g. videos@master:/clips/old.mp4");
                }
                await using var writer = await store.BeginCommitAsync(target.Repo, target.Branch, result.GetValue(message) ?? $"rm {target}", cancellationToken);
                await writer.DeleteAsync(target.Path, cancellationToken);
                var commit = await writer.FinishAsync(cancellationToken);
                await Console.Out.WriteLineAsync(commit.Id);
                await PipelineSupport.StartAfterCommitAsync(store, cancellationToken);
                return ExitCodes.Ok;
            },
            cancellationToken));
        return command;
    }
}
