using Reel.Media.Decoding;

namespace Reel.Media.Scheduling;

/// <summary>One task of a plan, for <see cref="SegmentScheduler{TState}"/>.</summary>
public abstract class WorkTask<TState>
{
    private protected WorkTask()
    {
    }

    /// <summary>A task one worker runs whole (planning a video, rendering a segment into its own encoder).</summary>
    public static WorkTask<TState> Whole(Action<Worker<TState>, CancellationToken> run) => new WholeTask<TState>(run);

    /// <summary>
    /// A segment whose selected frames go out one at a time to whichever worker asks: the worker that opens it decodes
    /// with its own decoder, and free workers join it, taking turns with that decoder.
    /// </summary>
    /// <param name="segment">The segment.</param>
    /// <param name="work">What to do with each frame, and once the segment ends.</param>
    /// <param name="decoderThreads">Threads of the segment's decoder (more than one only when segments are too few to share the cores).</param>
    public static WorkTask<TState> Frames<TFrame>(Segment segment, ISegmentWork<TState, TFrame> work, int decoderThreads = 1) =>
        new SharedSegment<TState, TFrame>(segment, work, decoderThreads);
}

/// <summary>What a tool does with the frames of a segment it hands to <see cref="WorkTask{TState}.Frames"/>.</summary>
/// <typeparam name="TState">A worker's state.</typeparam>
/// <typeparam name="TFrame">A frame taken from the decoder, owned by the worker that took it.</typeparam>
public interface ISegmentWork<TState, TFrame>
{
    /// <summary>
    /// Takes the frame the decoder just stopped at (converts or copies it). Runs while no other worker can move the
    /// decoder on, so it should do no more than that.
    /// </summary>
    TFrame Take(SegmentDecoder decoder, SourceFrame frame);

    /// <summary>Works on a taken frame, on the worker that took it, while others decode.</summary>
    void Process(Worker<TState> worker, SourceFrame frame, TFrame taken);

    /// <summary>
    /// Runs once per segment, when its last frame has been taken: with the selected frames it never produced, or with the
    /// error that ended it early (it could not be opened or decoded). Throw to fail the run.
    /// </summary>
    void Ended(IReadOnlyList<SourceFrame> missing, Exception? error);
}

internal sealed class WholeTask<TState>(Action<Worker<TState>, CancellationToken> run) : WorkTask<TState>
{
    public void Run(Worker<TState> worker, CancellationToken cancellationToken) => run(worker, cancellationToken);
}

/// <summary>A segment being decoded, shared by the workers that take its frames; the scheduler sees it through this.</summary>
internal abstract class SharedSegment<TState> : WorkTask<TState>
{
    private int _retired;

    /// <summary>Selected frames not yet handed out (an estimate, for choosing which segment to join).</summary>
    public abstract int Left { get; }

    /// <summary>Opens the segment with <paramref name="worker"/>'s decoder; false when it cannot be opened (it has then ended).</summary>
    public abstract bool Open(Worker<TState> worker);

    /// <summary>Takes and processes the next frame; false once every frame has been handed out.</summary>
    public abstract bool Step(Worker<TState> worker);

    /// <summary>True for the one caller that retires the ended segment.</summary>
    public bool TryRetire() => Interlocked.Exchange(ref _retired, 1) == 0;
}

internal sealed class SharedSegment<TState, TFrame>(Segment segment, ISegmentWork<TState, TFrame> work, int decoderThreads)
    : SharedSegment<TState>
{
    private readonly Lock _gate = new();
    private SegmentDecoder? _decoder;
    private int _left = segment.Selected.Count;
    private bool _ended;

    public override int Left => Volatile.Read(ref _left);

    public override bool Open(Worker<TState> worker)
    {
        try
        {
            // Opened outside any shared lock: a seek costs more than the other workers should wait.
            _decoder = worker.Decoder.Start(segment, decoderThreads);
            return true;
        }
        catch (MediaException e)
        {
            End([], e);
            return false;
        }
    }

    public override bool Step(Worker<TState> worker)
    {
        SourceFrame frame;
        TFrame taken;
        lock (_gate)
        {
            if (_ended)
            {
                return false;
            }
            bool found;
            try
            {
                found = _decoder!.TryNext(out frame);
                taken = found ? work.Take(_decoder, frame) : default!;
            }
            catch (MediaException e)
            {
                // A decoding error ends the segment for every worker on it.
                End([], e);
                return false;
            }
            if (!found)
            {
                End(_decoder.Missing, null);
                return false;
            }
            Interlocked.Decrement(ref _left);
        }
        work.Process(worker, frame, taken);
        return true;
    }

    private void End(IReadOnlyList<SourceFrame> missing, Exception? error)
    {
        _ended = true;
        Volatile.Write(ref _left, 0);
        work.Ended(missing, error);
    }
}
