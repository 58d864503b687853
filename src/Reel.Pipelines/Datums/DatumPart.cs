using Reel.Media.Decoding;

namespace Reel.Pipelines.Datums;

/// <summary>
/// What one task of a datum runs. Most datums are one task (<see cref="Whole"/>). A datum that is one large video may
/// be split: its first task only plans (<see cref="DatumRun.Split"/>), then one task per keyframe-aligned piece writes
/// that piece's outputs, and a last task merges them (see <see cref="DatumSplit"/>).
/// </summary>
/// <param name="Index">The piece's place in frame order (0-based); for the merge, the number of pieces.</param>
/// <param name="Count">How many pieces the datum was split into.</param>
/// <param name="Frames">The piece's frames; unused for the merge.</param>
/// <param name="IsMerge">The task that merges the pieces once all are done.</param>
public sealed record DatumPart(int Index, int Count, FramePiece Frames, bool IsMerge)
{
    /// <summary>For the merge: each piece's partial results (<see cref="DatumRun.Partial"/>), in frame order.</summary>
    public IReadOnlyList<IReadOnlyList<Data.FileEntry>> Partials { get; init; } = [];

    public static DatumPart Merge(int count, IReadOnlyList<IReadOnlyList<Data.FileEntry>>? partials = null) =>
        new(count, count, default, true) { Partials = partials ?? [] };

    public override string ToString() => IsMerge ? $"merge of {Count} pieces" : $"piece {Index + 1} of {Count} ({Frames})";
}

/// <summary>
/// How a task of a datum ended: its outputs and the video frames its built-in steps processed (a command's frames are
/// not known: 0), or, for a datum's first task, the pieces it was split into.
/// </summary>
public sealed record DatumRun(IReadOnlyList<Data.FileEntry> Outputs, IReadOnlyList<FramePiece> Split, long Frames = 0)
{
    /// <summary>For a piece: stored results that only the merge reads (never part of the datum's output).</summary>
    public IReadOnlyList<Data.FileEntry> Partial { get; init; } = [];
}
