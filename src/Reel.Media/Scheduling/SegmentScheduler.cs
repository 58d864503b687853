using System.Runtime.ExceptionServices;
using Reel.Media.Decoding;

namespace Reel.Media.Scheduling;

/// <summary>
/// The one local scheduler: runs the tasks of plans (whole tasks, and segments whose frames any worker may take) on a
/// fixed set of workers. Each worker has a decoder and a state of the tool's own (an image writer, a set of models),
/// made on its first use and kept across runs, so a folder of short clips does not pay for them per clip.
/// </summary>
/// <remarks>
/// A free worker takes, in this order: a task that a running task added (a video's segments, once it is planned); a
/// task the run started with; a frame of the open segment with the most frames left. Added tasks go first so that a
/// run finishes the videos it has opened before it opens more. Joining an open segment keeps every worker busy to the
/// end: without it the workers finish one group of pictures each and the last ones run alone (on samsungfun.mp4, with
/// groups of 104, 79, 74, 41 and 33 frames, one of two analysis workers sat idle for about 12 frames of CenterNet time).
/// </remarks>
/// <typeparam name="TState">A worker's own state; disposed with the scheduler when it is <see cref="IDisposable"/>.</typeparam>
public sealed class SegmentScheduler<TState> : IDisposable
{
    private readonly Worker<TState>[] _workers;
    private readonly object _gate = new();
    private readonly Queue<WorkTask<TState>> _added = new();
    private readonly Queue<WorkTask<TState>> _queued = new();
    private readonly List<SharedSegment<TState>> _open = [];
    private CancellationTokenSource? _stop;
    private ExceptionDispatchInfo? _firstError;
    private int _running;

    /// <param name="workers">How many tasks run at once.</param>
    /// <param name="createState">Makes a worker's state, on the worker, when it first asks for it.</param>
    public SegmentScheduler(int workers, Func<TState> createState)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        _workers = [.. Enumerable.Range(0, workers).Select(i => new Worker<TState>(createState))];
    }

    /// <summary>
    /// Runs <paramref name="tasks"/>, and every task they add, on all workers (the calling thread is one of them); returns
    /// once all are done. The first task that throws stops the run, and its exception is thrown here.
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> stopped the run.</exception>
    public void Run(IEnumerable<WorkTask<TState>> tasks, CancellationToken cancellationToken)
    {
        var queued = tasks.ToList();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        lock (_gate)
        {
            if (_stop is not null)
            {
                throw new InvalidOperationException("The scheduler is already running.");
            }
            _stop = stop;
            _firstError = null;
            _running = 0;
            queued.ForEach(_queued.Enqueue);
        }
        // A worker waiting for work must notice the stop.
        using var wake = stop.Token.Register(WakeAll);
        try
        {
            var threads = _workers.Skip(1)
                .Select((worker, i) => new Thread(() => Work(worker, stop.Token)) { IsBackground = true, Name = $"reel-worker-{i + 1}" })
                .ToList();
            threads.ForEach(t => t.Start());
            Work(_workers[0], stop.Token);
            threads.ForEach(t => t.Join());
        }
        finally
        {
            lock (_gate)
            {
                _stop = null;
                _added.Clear();
                _queued.Clear();
                _open.Clear();
            }
        }
        cancellationToken.ThrowIfCancellationRequested();
        _firstError?.Throw();
    }

    /// <summary>Queues a task from inside a running task; it runs before the tasks the run started with.</summary>
    public void Add(WorkTask<TState> task)
    {
        lock (_gate)
        {
            _added.Enqueue(task);
            Monitor.PulseAll(_gate);
        }
    }

    public void Dispose()
    {
        foreach (var worker in _workers)
        {
            worker.Dispose();
        }
    }

    private void Work(Worker<TState> worker, CancellationToken stop)
    {
        try
        {
            // The segment this worker opened: its decoder is the worker's, so the worker stays on it until it ends.
            SharedSegment<TState>? own = null;
            while (!stop.IsCancellationRequested)
            {
                if (own is not null)
                {
                    if (!own.Step(worker))
                    {
                        Done(own);
                        own = null;
                    }
                    continue;
                }
                if (Next() is not { } next)
                {
                    return;
                }
                switch (next)
                {
                    case (_, { } join):
                        if (!join.Step(worker))
                        {
                            Done(join);
                        }
                        break;
                    case (SharedSegment<TState> segment, _):
                        if (segment.Open(worker))
                        {
                            lock (_gate)
                            {
                                _open.Add(segment);
                                Monitor.PulseAll(_gate);
                            }
                            own = segment;
                        }
                        else
                        {
                            Done(segment);
                        }
                        break;
                    case (WholeTask<TState> whole, _):
                        try
                        {
                            whole.Run(worker, stop);
                        }
                        finally
                        {
                            Done(null);
                        }
                        break;
                }
            }
        }
        catch (Exception e)
        {
            Fail(e, stop);
        }
    }

    /// <summary>The next task to start, or an open segment to join; null when nothing is left or the run stopped.</summary>
    private (WorkTask<TState>? Task, SharedSegment<TState>? Join)? Next()
    {
        lock (_gate)
        {
            while (_stop is { IsCancellationRequested: false })
            {
                if (_added.TryDequeue(out var task) || _queued.TryDequeue(out task))
                {
                    _running++;
                    return (task, null);
                }
                if (_open.Where(s => s.Left > 0).MaxBy(s => s.Left) is { } join)
                {
                    return (null, join);
                }
                if (_running == 0)
                {
                    return null;
                }
                // A running task may still add tasks or open a segment.
                Monitor.Wait(_gate);
            }
            return null;
        }
    }

    /// <summary>Counts a task as done: once its segment's frames are all handed out, or once it ran; wakes the waiting.</summary>
    private void Done(SharedSegment<TState>? segment)
    {
        lock (_gate)
        {
            if (segment is null || segment.TryRetire())
            {
                _running--;
            }
            if (segment is not null)
            {
                _open.Remove(segment);
            }
            Monitor.PulseAll(_gate);
        }
    }

    private void Fail(Exception error, CancellationToken stop)
    {
        CancellationTokenSource? run;
        lock (_gate)
        {
            // Tasks stopped by the first failure throw too; only the first failure is the run's.
            if (_firstError is null && !(error is OperationCanceledException && stop.IsCancellationRequested))
            {
                _firstError = ExceptionDispatchInfo.Capture(error);
            }
            run = _stop;
        }
        run?.Cancel();
    }

    private void WakeAll()
    {
        lock (_gate)
        {
            Monitor.PulseAll(_gate);
        }
    }
}

/// <summary>One worker's decoder and state; used by one thread at a time.</summary>
public sealed class Worker<TState> : IDisposable
{
    private readonly Func<TState> _createState;
    private TState? _state;
    private bool _hasState;

    internal Worker(Func<TState> createState) => _createState = createState;

    /// <summary>Decodes the segments this worker opens; keeps the file open between segments of one video.</summary>
    public VideoDecoder Decoder { get; } = new();

    /// <summary>The tool's state for this worker, made on first use: a worker that never gets work makes none.</summary>
    public TState State
    {
        get
        {
            if (!_hasState)
            {
                _state = _createState();
                _hasState = true;
            }
            return _state!;
        }
    }

    public void Dispose()
    {
        Decoder.Dispose();
        if (_hasState && _state is IDisposable disposable)
        {
            disposable.Dispose();
        }
        _hasState = false;
        _state = default;
    }
}
