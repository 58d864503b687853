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

/// <summary>A leased datum: run it, renew the lease while it runs, report how it ended.</summary>
[GenerateSerializer, Immutable, Alias("reel.task")]
public sealed record DatumTask([property: Id(0)] string JobId, [property: Id(1)] string DatumId, [property: Id(2)] IReadOnlyList<FileRef> Files)
{
    public Datum ToDatum() => new(DatumId, Files.Select(f => f.ToDatumFile()).ToList());
}

/// <summary>How a datum ended on a worker, after all its tries there.</summary>
[GenerateSerializer, Immutable, Alias("reel.outcome")]
public sealed record TaskOutcome(
    [property: Id(0)] string DatumId, [property: Id(1)] bool Succeeded, [property: Id(2)] int Tries, [property: Id(3)] IReadOnlyList<FileRef> Outputs,
    [property: Id(4)] DateTimeOffset Started, [property: Id(5)] double Seconds, [property: Id(6)] string? Error)
{
    /// <summary>The object holding the datum's log (stored before the report); null when it printed nothing or logs stay local.</summary>
    [Id(7)]
    public string? Log { get; init; }

    public DatumOutcome ToDatumOutcome() =>
        new(DatumId, Succeeded, Tries, Outputs.Select(o => o.ToFileEntry()).ToList(), Started, Seconds, Error) { Log = Log };
}

/// <summary>What a worker needs to run a job's datums: the pipeline spec as stored.</summary>
[GenerateSerializer, Immutable, Alias("reel.jobspec")]
public sealed record JobSpec([property: Id(0)] string SpecText, [property: Id(1)] string SpecSource, [property: Id(2)] string Directory);
