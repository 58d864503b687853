using Reel.Data;
using Reel.Pipelines.Specs;

namespace Reel.Pipelines.Datums;

/// <summary>
/// Cuts input commits into datums as Pachyderm does: every path (file or directory) a repo input's glob matches
/// is one datum holding the files at or under it; a cross combines one datum of each input, a union lists all.
/// </summary>
public static class DatumPlanner
{
    /// <param name="files">The files of each repo input's commit, by input name.</param>
    public static IReadOnlyList<Datum> Plan(InputSpec input, IReadOnlyDictionary<string, IReadOnlyList<FileEntry>> files) => input switch
    {
        RepoInput repo => Glob(repo, files[repo.Name]),
        UnionInput union => union.Inputs.SelectMany(i => Plan(i, files)).DistinctBy(d => d.Id).ToList(),
        CrossInput cross => cross.Inputs.Select(i => Plan(i, files))
            .Aggregate((IReadOnlyList<Datum>)[Datum.Of([])], (left, right) =>
                left.SelectMany(l => right.Select(r => Datum.Of(l.Files.Concat(r.Files)))).ToList()),
        _ => throw new ArgumentOutOfRangeException(nameof(input)),
    };

    private static List<Datum> Glob(RepoInput input, IReadOnlyList<FileEntry> files)
    {
        var glob = Data.Glob.Parse(input.Glob);
        if (input.Glob == DataPath.Root)
        {
            return files.Count == 0 ? [] : [Datum.Of(files.Select(f => ToDatumFile(input, f)))];
        }
        // Each file joins the datum of every matching path on its way down: O(files × depth), not O(files²).
        var matches = new Dictionary<string, bool>(StringComparer.Ordinal);
        var datums = new SortedDictionary<string, List<DatumFile>>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            foreach (var path in DataPath.Ancestors(file.Path).Append(file.Path))
            {
                if (!matches.TryGetValue(path, out var match))
                {
                    matches[path] = match = glob.IsMatch(path);
                }
                if (match)
                {
                    if (!datums.TryGetValue(path, out var members))
                    {
                        datums[path] = members = [];
                    }
                    members.Add(ToDatumFile(input, file));
                }
            }
        }
        return datums.Values.Select(Datum.Of).ToList();
    }

    private static DatumFile ToDatumFile(RepoInput input, FileEntry file) => new(input.Name, file.Path, file.Hash, file.Size);
}
