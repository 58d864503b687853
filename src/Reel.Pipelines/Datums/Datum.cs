using System.Security.Cryptography;
using System.Text;

namespace Reel.Pipelines.Datums;

/// <summary>One input file of a datum: where it is in its repo and, under <c>/pfs/&lt;Input&gt;</c>, in the datum.</summary>
public sealed record DatumFile(string Input, string Path, string Hash, long Size);

/// <summary>
/// The unit a pipeline processes: a set of input files. Its <see cref="Id"/> hashes their paths and contents, so the
/// same files give the same id in every job: that is how unchanged datums are recognized and skipped.
/// </summary>
public sealed record Datum(string Id, IReadOnlyList<DatumFile> Files)
{
    public static Datum Of(IEnumerable<DatumFile> files)
    {
        var sorted = files.OrderBy(f => f.Input, StringComparer.Ordinal).ThenBy(f => f.Path, StringComparer.Ordinal).ToList();
        var text = new StringBuilder();
        foreach (var file in sorted)
        {
            text.Append(file.Input).Append('\t').Append(file.Path).Append('\t').Append(file.Hash).Append('\n');
        }
        var id = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
        return new Datum(id, sorted);
    }

    /// <summary>A short, readable name: the first file's path and how many more there are.</summary>
    public string Describe() => Files.Count switch
    {
        0 => "(empty)",
        1 => $"{Files[0].Input}:{Files[0].Path}",
        _ => $"{Files[0].Input}:{Files[0].Path} (+{Files.Count - 1})",
    };
}
