using System.Collections.Concurrent;
using Reel.Media.Decoding;
using Reel.Media.Scheduling;

namespace Reel.Media.Tests;

public class SegmentSchedulerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public void Run_TasksAddedByATask_RunBeforeTheQueuedOnes()
    {
        using var scheduler = new SegmentScheduler<object?>(1, () => null);
        var order = new List<string>();
        WorkTask<object?> Named(string name, Action? then = null) => WorkTask<object?>.Whole((_, _) =>
        {
            order.Add(name);
            then?.Invoke();
        });

        scheduler.Run([Named("a", () => { scheduler.Add(Named("a1")); scheduler.Add(Named("a2")); }), Named("b")], CancellationToken.None);

        Assert.Equal(["a", "a1", "a2", "b"], order);
    }

    [Fact]
    public void Run_ATaskThrows_StopsTheOthersAndThrowsItsError()
    {
        using var scheduler = new SegmentScheduler<object?>(2, () => null);
        var started = 0;
        var stoppedByTheFailure = false;
        var tasks = new List<WorkTask<object?>>
        {
            WorkTask<object?>.Whole((_, stop) =>
            {
                Interlocked.Increment(ref started);
                stoppedByTheFailure = stop.WaitHandle.WaitOne(Patience);
                stop.ThrowIfCancellationRequested();
            }),
            WorkTask<object?>.Whole((_, _) =>
            {
                Interlocked.Increment(ref started);
                throw new InvalidDataException("broken");
            }),
        };
        tasks.AddRange(Enumerable.Range(0, 10).Select(_ => WorkTask<object?>.Whole((_, _) => Interlocked.Increment(ref started))));

        var error = Assert.Throws<InvalidDataException>(() => scheduler.Run(tasks, CancellationToken.None));

        Assert.Equal("broken", error.Message);
        Assert.True(stoppedByTheFailure);
        Assert.Equal(2, started);
    }

    [Fact]
    public void Run_Cancelled_WakesTheWaitingWorkersAndThrowsOperationCanceled()
    {
        using var scheduler = new SegmentScheduler<object?>(3, () => null);
        using var cancel = new CancellationTokenSource();
        // The other two workers wait for work this task might add, until the cancellation wakes them.
        var task = WorkTask<object?>.Whole((_, stop) =>
        {
            cancel.Cancel();
            stop.ThrowIfCancellationRequested();
        });

        Assert.Throws<OperationCanceledException>(() => scheduler.Run([task], cancel.Token));
    }

    [Fact]
    public void Run_WorkerStates_MadeOncePerWorkerAcrossRuns_AndDisposedWithTheScheduler()
    {
        var made = new ConcurrentBag<State>();
        var scheduler = new SegmentScheduler<State>(2, () =>
        {
            var state = new State();
            made.Add(state);
            return state;
        });
        var used = new ConcurrentBag<State>();
        var tasks = Enumerable.Range(0, 20).Select(_ => WorkTask<State>.Whole((worker, _) => used.Add(worker.State))).ToList();

        scheduler.Run(tasks, CancellationToken.None);
        scheduler.Run(tasks, CancellationToken.None);

        Assert.Equal(40, used.Count);
        Assert.InRange(made.Count, 1, 2);
        Assert.All(made, s => Assert.False(s.Disposed));
        scheduler.Dispose();
        Assert.All(made, s => Assert.True(s.Disposed));
    }

    [Fact]
    public void Frames_OneSegmentTwoWorkers_BothTakeFramesAndEachFrameGoesOutOnce()
    {
        var source = VideoProbe.Probe(GeneratedMedia.Counter24);
        var segment = SegmentPlanner.Plan(source, Enumerable.Range(0, 48).ToList(), pieces: 1).Single();
        var work = new RecordingWork();
        using var scheduler = new SegmentScheduler<object?>(2, () => null);

        scheduler.Run([WorkTask<object?>.Frames(segment, work)], CancellationToken.None);

        Assert.Equal(Enumerable.Range(0, 48), work.Frames.Order());
        Assert.Equal(2, work.Threads.Distinct().Count());
        Assert.Equal(1, work.Ends);
    }

    [Fact]
    public void Frames_SegmentThatCannotOpen_EndsWithTheErrorAndTheRunGoesOn()
    {
        var source = VideoProbe.Probe(GeneratedMedia.Counter24) with { Path = "/nonexistent/video.mp4" };
        var segment = SegmentPlanner.Plan(source, [0, 1, 2], pieces: 1).Single();
        var work = new RecordingWork();
        var ran = false;
        using var scheduler = new SegmentScheduler<object?>(1, () => null);

        scheduler.Run([WorkTask<object?>.Frames(segment, work), WorkTask<object?>.Whole((_, _) => ran = true)], CancellationToken.None);

        Assert.IsType<MediaException>(work.Error);
        Assert.Empty(work.Frames);
        Assert.True(ran);
    }

    private sealed class State : IDisposable
    {
        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }

    /// <summary>Holds the first frame until a second worker has joined the segment, so both must take frames.</summary>
    private sealed class RecordingWork : ISegmentWork<object?, int>
    {
        private readonly ManualResetEventSlim _joined = new();

        public ConcurrentBag<int> Frames { get; } = [];

        public ConcurrentBag<int> Threads { get; } = [];

        public int Ends { get; private set; }

        public Exception? Error { get; private set; }

        public int Take(SegmentDecoder decoder, SourceFrame frame) => frame.Index;

        public void Process(Worker<object?> worker, SourceFrame frame, int taken)
        {
            Frames.Add(taken);
            Threads.Add(Environment.CurrentManagedThreadId);
            if (taken == 0)
            {
                Assert.True(_joined.Wait(Patience), "no second worker joined the segment");
            }
            else
            {
                _joined.Set();
            }
        }

        public void Ended(IReadOnlyList<SourceFrame> missing, Exception? error)
        {
            Ends++;
            Error = error;
        }
    }
}
