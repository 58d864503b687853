using System.Collections.Concurrent;
using Reel.Media;
using Reel.Media.Decoding;

namespace Reel.Operators.Analysis;

/// <summary>
/// Hands a video's frames to the analysis workers one at a time. A worker opens the next segment while there is one
/// (largest first); once none is left it joins the open segment with the most frames still to hand out, taking turns
/// with its decoder. Without that, the workers finish one group of pictures each and the last ones run alone: on
/// samsungfun.mp4 (groups of 104, 79, 74, 41 and 33 frames) one of two workers sat idle for about 12 frames of
/// CenterNet time at the end.
/// </summary>
internal sealed class SegmentFeed
{
    private readonly Lock _gate = new();
    private readonly Queue<Segment> _pending;
    private readonly List<OpenSegment> _open = [];

    /// <param name="segments">The segments, in the order to open them.</param>
    public SegmentFeed(IEnumerable<Segment> segments) => _pending = new(segments);

    /// <summary>
    /// The segment to take frames from next: a new one, opened with <paramref name="decoder"/>, or, once all are open,
    /// the open one with the most frames left; null when every frame has been handed out.
    /// </summary>
    /// <exception cref="MediaException">The new segment cannot be opened (it is then no one's).</exception>
    public OpenSegment? Next(VideoDecoder decoder)
    {
        Segment? segment;
        lock (_gate)
        {
            if (!_pending.TryDequeue(out segment))
            {
                return _open.Where(o => o.Left > 0).MaxBy(o => o.Left);
            }
        }
        // Opened outside the gate: a seek costs more than the other workers should wait.
        var open = new OpenSegment(segment, decoder.Start(segment));
        lock (_gate)
        {
            _open.Add(open);
        }
        return open;
    }
}

/// <summary>One segment being decoded, shared by the workers that take frames from it; one frame at a time.</summary>
internal sealed class OpenSegment
{
    private readonly Lock _gate = new();
    private readonly SegmentDecoder _decoder;
    private int _left;
    private bool _finished;

    public OpenSegment(Segment segment, SegmentDecoder decoder)
    {
        Segment = segment;
        _decoder = decoder;
        _left = segment.Selected.Count;
    }

    public Segment Segment { get; }

    /// <summary>Selected frames not yet handed out (an estimate for choosing which segment to join).</summary>
    public int Left => Volatile.Read(ref _left);

    /// <summary>
    /// Decodes the next selected frame and converts it with <paramref name="convert"/> while no other worker can move
    /// the decoder on; false once the segment is done, with the frames it never produced added to <paramref name="missing"/>
    /// by whichever worker found the end.
    /// </summary>
    public bool TryNext<T>(Func<SegmentDecoder, SourceFrame, T> convert, ConcurrentBag<SourceFrame> missing, out SourceFrame frame, out T? converted)
    {
        lock (_gate)
        {
            if (!_finished)
            {
                try
                {
                    if (_decoder.TryNext(out frame))
                    {
                        converted = convert(_decoder, frame);
                        Interlocked.Decrement(ref _left);
                        return true;
                    }
                }
                catch
                {
                    // A decoding error ends the segment for every worker on it; the one that hit it reports it.
                    Finish();
                    throw;
                }
                Finish();
                foreach (var lost in _decoder.Missing)
                {
                    missing.Add(lost);
                }
            }
            frame = default;
            converted = default;
            return false;
        }
    }

    private void Finish()
    {
        _finished = true;
        Volatile.Write(ref _left, 0);
    }
}
