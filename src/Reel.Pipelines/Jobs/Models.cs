using Reel.Pipelines.Datums;
using Reel.Pipelines.Specs;

namespace Reel.Pipelines.Jobs;

/// <summary>A pipeline as stored: its spec text (re-read when used) and the version that edits bump.</summary>
public sealed record PipelineInfo(
    string Name, int Version, string SpecText, string SpecSource, string Directory, DateTimeOffset Created, DateTimeOffset Updated)
{
    public PipelineSpec Spec => SpecReader.Parse(SpecText, SpecSource, Directory);
}

public enum JobState
{
    /// <summary>Created; its datums are not listed yet.</summary>
    Starting,
    Running,
    Success,
    /// <summary>Finished with failed datums (their output is missing, the rest is committed) or a job error.</summary>
    Failure,
    /// <summary>Stopped by a user or its timeout; nothing is committed.</summary>
    Killed,
}

public enum DatumState
{
    Pending,
    Running,
    Success,
    /// <summary>Its input and the pipeline version already succeeded: the earlier output is carried over.</summary>
    Skipped,
    Failed,
}

public sealed record DatumCounts(int Total, int Pending, int Running, int Success, int Skipped, int Failed)
{
    public int Done => Success + Skipped + Failed;
}

/// <param name="Inputs">The input commit of each repo input, by input name: the output commit's provenance.</param>
/// <param name="Rerun">Why a user asked for this job: "all" reruns every datum, "failed" only the failed ones; null for a commit.</param>
public sealed record JobInfo(
    string Id, string Pipeline, int Version, JobState State, IReadOnlyDictionary<string, string> Inputs, string? OutputCommit,
    string? Rerun, DateTimeOffset Created, DateTimeOffset? Started, DateTimeOffset? Finished, string? Error, DatumCounts Counts)
{
    public bool IsFinished => State is JobState.Success or JobState.Failure or JobState.Killed;
}

public sealed record DatumInfo(
    string JobId, string Id, DatumState State, int Tries, IReadOnlyList<DatumFile> Files, DateTimeOffset? Started,
    DateTimeOffset? Finished, double? Seconds, string? Error)
{
    /// <summary>The object holding the datum's log, when a cluster node stored it there; null otherwise (see <see cref="PipelineStore.LogFileAsync"/>).</summary>
    public string? Log { get; init; }
}

/// <summary>How one try of a datum ended, as a worker reports it.</summary>
public sealed record DatumOutcome(string DatumId, bool Succeeded, int Tries, IReadOnlyList<Data.FileEntry> Outputs, DateTimeOffset Started, double Seconds, string? Error)
{
    /// <summary>The object the worker stored the datum's log in before reporting; null when the log stays on the worker's machine (or is empty).</summary>
    public string? Log { get; init; }
}

/// <summary>
/// A node's worker pool as it last reported itself: where it runs, how many slots it has and uses, and what it has
/// done. <see cref="Frames"/> and <see cref="BusySeconds"/> give frames per second and milliseconds per frame where
/// the work is frames (analyses); for datums they count datums.
/// </summary>
public sealed record WorkerInfo(
    string Id, string Kind, string Host, string Address, int Slots, int Running, long Done, long Failed, long Frames, double BusySeconds,
    DateTimeOffset Started, DateTimeOffset Seen)
{
    public double FramesPerSecond => BusySeconds > 0 ? Frames / BusySeconds : 0;

    public double MillisecondsPerFrame => Frames > 0 ? BusySeconds * 1000 / Frames : 0;

    /// <summary>What the worker runs now, one line per datum or piece (for example <c>frames /clip.mp4 piece 2 of 3 (frames 620-929)</c>).</summary>
    public IReadOnlyList<string> WorkingOn { get; init; } = [];
}

/// <summary>A write by an activation of a job's grain that a newer activation superseded; the database refused it.</summary>
public sealed class StaleJobException(string message) : Exception(message);

/// <summary>A datum that runs as pieces (see <see cref="Datums.DatumSplit"/>): its pieces in frame order, as recorded.</summary>
public sealed record SplitInfo(string DatumId, DateTimeOffset Started, IReadOnlyList<PieceInfo> Pieces);

/// <summary>One piece of a split datum; <see cref="Done"/> holds its results once it is done.</summary>
public sealed record PieceInfo(Media.Decoding.FramePiece Frames, PieceResults? Done);

/// <summary>A done piece's outputs, and the results only the merge reads.</summary>
public sealed record PieceResults(IReadOnlyList<Data.FileEntry> Outputs, IReadOnlyList<Data.FileEntry> Partial);
