using System.CommandLine;
using Reel.Data;
using static Reel.Cli.Commands.DataCommandSupport;

namespace Reel.Cli.Commands;

/// <summary><c>reel ls REPO@BRANCH[:PATH]</c>: the files and directories directly under a path of a branch's head.</summary>
internal static class LsCommand
{
    public static Command Create()
    {
        var dataDir = DataDirOption();
        var address = new Argument<string>("REPO@BRANCH[:PATH]") { Description = "What to list (default path: /)" };
        var json = JsonOption();
        var command = new Command(
            "ls",
            "List the files and directories directly under a path of a branch's latest commit.\n\n"
            + "Examples:\n"
            + "  reel ls videos\n"
            + "  reel ls videos@dev:/clips --json")
        {
            address, json, dataDir,
        };
        command.SetAction((result, cancellationToken) => Remote.For(result) is { } remote
            ? remote.RunAsync("ls", async r =>
            {
                var target = DataAddress.Parse(result.GetRequiredValue(address));
                var files = await r.GetAsync<List<FileEntry>>(Remote.FilePath(target.Repo, target.Branch, target.Path) + "?list=true");
                return await PrintAsync(Entries(target.Path, files), result.GetValue(json));
            })
            : RunAsync(
            "ls", result, dataDir, () => DataAddress.Parse(result.GetRequiredValue(address)),
            async (store, target) =>
            {
                var head = await store.GetHeadAsync(target.Repo, target.Branch, cancellationToken);
                var files = await store.ListFilesAsync(head.Id, target.Path, cancellationToken);
                if (files.Count == 0 && target.Path != DataPath.Root)
                {
                    throw new DataException(DataErrorKind.NotFound, $"{target} does not exist");
                }
                return await PrintAsync(Entries(target.Path, files), result.GetValue(json));
            },
            cancellationToken));
        return command;
    }

    private static async Task<int> PrintAsync(IReadOnlyList<ListingEntry> entries, bool asJson)
    {
        if (asJson)
        {
            await WriteJsonAsync(entries, DataJson.Default.IReadOnlyListListingEntry);
        }
        else
        {
            await WriteTableAsync(["NAME", "TYPE", "SIZE"], entries.Select(e => (IReadOnlyList<string>)[e.Path, e.Type, Size(e.Size)]));
        }
        return ExitCodes.Ok;
    }

    /// <summary>A file listed by its own path is just that file; otherwise the children, directories summed.</summary>
    internal static IReadOnlyList<ListingEntry> Entries(string directory, IReadOnlyList<FileEntry> files)
    {
        if (files is [var single] && single.Path == directory)
        {
            return [new ListingEntry(single.Path, "file", single.Size, single.Hash)];
        }
        var prefix = directory == DataPath.Root ? "/" : directory + "/";
        return files
            .GroupBy(f =>
            {
                var slash = f.Path.IndexOf('/', prefix.Length);
                return slash < 0 ? f.Path : f.Path[..slash];
            }, StringComparer.Ordinal)
            .Select(g => g.Key == g.First().Path && g.Count() == 1
                ? new ListingEntry(g.Key, "file", g.First().Size, g.First().Hash)
                : new ListingEntry(g.Key + "/", "dir", g.Sum(f => f.Size), null))
            .OrderBy(e => e.Path, StringComparer.Ordinal)
            .ToList();
    }
}
