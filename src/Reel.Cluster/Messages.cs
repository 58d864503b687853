using Reel.Data;
using Reel.Pipelines.Datums;
using Reel.Pipelines.Jobs;

namespace Reel.Cluster;

/// <summary>A file by reference (its object hash), as it travels between grains and workers; never its bytes.</summary>
[GenerateSerializer, Immutable, Alias("reel.file")]
public sealed record FileRef([property: Id(0)] string Input, [property: Id(1)] string Path, [property: Id(2)] string Hash, [property: Id(3)] long Size)
{
    public static FileRef Of(DatumFile file) => new(file.Input, file.Path, file.Hash, file.Size);

    public static FileRef Of(FileEntry file) => new("out", file.Path, file.Hash, file.Size);

    public DatumFile ToDatumFile() => new(Input, Path, Hash, Size);

    public FileEntry ToFileEntry() => new(Path, Hash, Size);
}

/// <summary>
/// A leased task of a datum: run it, renew the lease while it runs, report how it ended. Most datums are one task
/// (<see cref="Part"/> null); a large video is split into pieces and a merge (<see cref="DatumPart"/>).
/// </summary>
/// <param name="Slots">For a whole datum: the cluster's free slots, which decide whether it splits.</param>
[GenerateSerializer, Immutable, Alias("reel.task")]
public sealed record DatumTask(
    [property: Id(0)] string JobId, [property: Id(1)] string DatumId, [property: Id(2)] IReadOnlyList<FileRef> Files,
    [property: Id(3)] TaskPart? Part = null, [property: Id(4)] int Slots = 1)
{
    /// <summary>Names the task among its job's: the datum's id, then the piece's number or "merge".</summary>
    public string TaskId => Part is null ? DatumId : DatumId + (Part.IsMerge ? ".merge" : "." + Part.Index.ToString(System.Globalization.CultureInfo.InvariantCulture));

    public Datum ToDatum() => new(DatumId, Files.Select(f => f.ToDatumFile()).ToList());
}

/// <summary>A <see cref="DatumPart"/> as it travels.</summary>
/// <param name="Partials">For the merge: each piece's partial results, in frame order.</param>
[GenerateSerializer, Immutable, Alias("reel.part")]
public sealed record TaskPart([property: Id(0)] int Index, [property: Id(1)] int Count, [property: Id(2)] int First, [property: Id(3)] int End,
    [property: Id(4)] bool IsMerge, [property: Id(5)] IReadOnlyList<IReadOnlyList<FileRef>>? Partials = null)
{
    public static TaskPart Of(DatumPart part) => new(part.Index, part.Count, part.Frames.First, part.Frames.End, part.IsMerge,
        part.Partials.Count == 0 ? null : part.Partials.Select(p => (IReadOnlyList<FileRef>)p.Select(FileRef.Of).ToList()).ToList());

    public DatumPart ToDatumPart() => new(Index, Count, new Reel.Media.Decoding.FramePiece(First, End), IsMerge)
    {
        Partials = Partials?.Select(p => (IReadOnlyList<FileEntry>)p.Select(f => f.ToFileEntry()).ToList()).ToList() ?? [],
    };

    public override string ToString() => ToDatumPart().ToString();
}

/// <summary>How a task of a datum ended on a worker, after all its tries there.</summary>
/// <param name="TaskId">The task's <see cref="DatumTask.TaskId"/>; the datum's id for a whole datum.</param>
/// <param name="Split">For a whole datum that split instead of running: its pieces (first and end frame of each).</param>
/// <param name="Partial">For a piece: results only the merge reads (<see cref="DatumRun.Partial"/>).</param>
[GenerateSerializer, Immutable, Alias("reel.outcome")]
public sealed record TaskOutcome(
    [property: Id(0)] string DatumId, [property: Id(1)] bool Succeeded, [property: Id(2)] int Tries, [property: Id(3)] IReadOnlyList<FileRef> Outputs,
    [property: Id(4)] DateTimeOffset Started, [property: Id(5)] double Seconds, [property: Id(6)] string? Error,
    [property: Id(7)] string? TaskId = null, [property: Id(8)] IReadOnlyList<TaskPart>? Split = null,
    [property: Id(9)] IReadOnlyList<FileRef>? Partial = null)
{
    /// <summary>The task it reports on.</summary>
    public string Task => TaskId ?? DatumId;

    /// <summary>The object holding the datum's log (stored before the report); null when it printed nothing or logs stay local.</summary>
    [Id(10)]
    public string? Log { get; init; }

    public DatumOutcome ToDatumOutcome() =>
        new(DatumId, Succeeded, Tries, Outputs.Select(o => o.ToFileEntry()).ToList(), Started, Seconds, Error) { Log = Log };
}

/// <summary>What a worker needs to run a job's datums: the pipeline spec as stored.</summary>
[GenerateSerializer, Immutable, Alias("reel.jobspec")]
public sealed record JobSpec([property: Id(0)] string SpecText, [property: Id(1)] string SpecSource, [property: Id(2)] string Directory);
