using System.CommandLine;
using Reel.Data;
using static Reel.Cli.Commands.DataCommandSupport;

namespace Reel.Cli.Commands;

/// <summary><c>reel glob REPO@BRANCH:PATTERN</c>: the files of a branch's head whose paths match.</summary>
internal static class GlobCommand
{
    public static Command Create()
    {
        var dataDir = DataDirOption();
        var address = new Argument<string>("REPO@BRANCH:PATTERN") { Description = "'*' and '?' within a path segment, '**' across segments" };
        var json = JsonOption();
        var command = new Command(
            "glob",
            "List the files of a branch's latest commit whose paths match a glob.\n\n"
            + "Examples:\n"
            + "  reel glob 'videos@master:/*.mp4'\n"
            + "  reel glob 'frames:/**/*.jpg' --json")
        {
            address, json, dataDir,
        };
        command.SetAction((result, cancellationToken) => RunAsync(
            "glob", result, dataDir,
            () =>
            {
                var parsed = DataAddress.Parse(result.GetRequiredValue(address));
                return parsed.HasPath ? parsed : throw new ArgumentException($"'{result.GetValue(address)}' has no pattern; write REPO@BRANCH:PATTERN");
            },
            async (store, target) =>
            {
                var glob = Glob.Parse(target.Path);
                var head = await store.GetHeadAsync(target.Repo, target.Branch, cancellationToken);
                var matches = (await store.ListFilesAsync(head.Id, DataPath.Root, cancellationToken)).Where(f => glob.IsMatch(f.Path)).ToList();
                if (result.GetValue(json))
                {
                    await WriteJsonAsync<IReadOnlyList<FileEntry>>(matches, DataJson.Default.IReadOnlyListFileEntry);
                }
                else
                {
                    await WriteTableAsync(["NAME", "SIZE"], matches.Select(f => (IReadOnlyList<string>)[f.Path, Size(f.Size)]));
                }
                return ExitCodes.Ok;
            },
            cancellationToken));
        return command;
    }
}
