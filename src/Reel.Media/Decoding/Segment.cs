namespace Reel.Media.Decoding;

/// <summary>
/// A piece of one video that one decoder handles alone: the frames from a keyframe (or the start) up to,
/// not including, <see cref="EndFrame"/>, of which <see cref="Selected"/> are wanted.
/// </summary>
public sealed record Segment(VideoSource Source, int FirstFrame, int EndFrame, IReadOnlyList<SourceFrame> Selected)
{
    /// <summary>Decoded from the start of the file rather than from a seek.</summary>
    public bool FromStart => FirstFrame == 0 || !Source.HasTimestamps;

    /// <summary>Frames the decoder works through: up to the last wanted one.</summary>
    public int DecodeCost => Selected.Count == 0 ? 0 : Selected[^1].Index - FirstFrame + 1;
}

/// <summary>Frames [<see cref="First"/>, <see cref="End"/>) of a video: a keyframe-aligned piece that one task handles.</summary>
public readonly record struct FramePiece(int First, int End)
{
    public bool Contains(int index) => index >= First && index < End;

    public override string ToString() => $"frames {First}-{End - 1}";
}

/// <summary>Cuts a video into keyframe-aligned segments that decode independently.</summary>
public static class SegmentPlanner
{
    /// <summary>
    /// One segment per group of pictures that holds a selected frame. Neighbours are merged while the first
    /// would be decoded to its end anyway and the merged piece stays under its share of the work, so many small
    /// groups do not each pay for a seek.
    /// </summary>
    /// <param name="source">The probed video.</param>
    /// <param name="selected">Indices of the wanted frames, ascending.</param>
    /// <param name="pieces">How many pieces the work should spread over (typically a few per worker).</param>
    public static IReadOnlyList<Segment> Plan(VideoSource source, IReadOnlyList<int> selected, int pieces)
    {
        var frames = source.Frames;
        if (selected.Count == 0)
        {
            return [];
        }
        if (!source.HasTimestamps)
        {
            return [new Segment(source, 0, frames.Count, selected.Select(i => frames[i]).ToList())];
        }

        var groups = new List<Segment>();
        var s = 0;
        var start = 0;
        for (var i = 1; i <= frames.Count; i++)
        {
            if (i < frames.Count && !frames[i].IsKeyframe)
            {
                continue;
            }
            var picked = new List<SourceFrame>();
            while (s < selected.Count && selected[s] < i)
            {
                picked.Add(frames[selected[s++]]);
            }
            if (picked.Count > 0)
            {
                groups.Add(new Segment(source, start, i, picked));
            }
            start = i;
        }

        var share = Math.Max(1, groups.Sum(g => g.DecodeCost) / Math.Max(1, pieces));
        var merged = new List<Segment>();
        foreach (var group in groups)
        {
            if (merged.Count > 0 && merged[^1] is { } last
                && last.EndFrame == group.FirstFrame
                && last.Selected[^1].Index == last.EndFrame - 1
                && last.DecodeCost + group.DecodeCost <= share)
            {
                merged[^1] = last with { EndFrame = group.EndFrame, Selected = [.. last.Selected, .. group.Selected] };
            }
            else
            {
                merged.Add(group);
            }
        }
        return merged;
    }

    /// <summary>
    /// Cuts the work of one video into at most <paramref name="tasks"/> contiguous keyframe-aligned pieces of about equal
    /// decoding cost, for tasks that run on different machines (each of which then plans its piece with <see cref="Plan"/>).
    /// Pieces hold the groups of pictures with selected frames; together they hold every selected frame, once.
    /// </summary>
    public static IReadOnlyList<FramePiece> Spread(VideoSource source, IReadOnlyList<int> selected, int tasks) =>
        // One group per keyframe interval with a wanted frame: the finest cut that decodes independently.
        Spread(Plan(source, selected, int.MaxValue), tasks);

    /// <summary>
    /// Cuts <paramref name="groups"/> (contiguous segments in frame order) into at most <paramref name="tasks"/> pieces of
    /// about equal decoding cost, each holding whole segments.
    /// </summary>
    public static IReadOnlyList<FramePiece> Spread(IReadOnlyList<Segment> groups, int tasks)
    {
        if (groups.Count == 0)
        {
            return [];
        }
        var total = groups.Sum(g => (long)g.DecodeCost);
        var pieces = new List<FramePiece>();
        var first = groups[0].FirstFrame;
        long done = 0;
        for (var i = 0; i < groups.Count; i++)
        {
            done += groups[i].DecodeCost;
            // Cut where the work so far reaches the next piece's share; the last group always closes a piece.
            if (i == groups.Count - 1 || (pieces.Count < tasks - 1 && done * tasks >= total * (pieces.Count + 1)))
            {
                pieces.Add(new FramePiece(first, groups[i].EndFrame));
                if (i < groups.Count - 1)
                {
                    first = groups[i + 1].FirstFrame;
                }
            }
        }
        return pieces;
    }
}
