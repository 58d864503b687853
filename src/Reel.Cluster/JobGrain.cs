using Microsoft.Extensions.Logging;
using Reel.Media.Decoding;
using Reel.Pipelines.Jobs;
using Reel.Pipelines.Specs;

namespace Reel.Cluster;

internal sealed class JobGrain(EngineDatabase database, EngineOptions options, ILogger<JobGrain> logger) : Grain, IJobGrain
{
    /// <summary>Reports buffered before they are written in one transaction (the timer writes the rest).</summary>
    private const int FlushBatch = 512;

    private readonly Queue<DatumTask> _queue = new();

    /// <summary>Datums whose lease lapsed or that a stopping node gave back: leased before <see cref="_queue"/>, so a lost node delays them least.</summary>
    private readonly Queue<DatumTask> _again = new();
    private readonly Dictionary<string, Lease> _leases = new(StringComparer.Ordinal);
    private readonly List<TaskOutcome> _reports = [];
    private readonly Dictionary<string, int> _lapses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SplitDatum> _splits = new(StringComparer.Ordinal);
    private int _slots = 1;
    private long _lastSlotCheck;
    private long _epoch;
    private volatile bool _stale;
    private JobInfo? _job;
    private JobSpec? _jobSpec;
    private PipelineSpec? _spec;
    private string? _stopReason;
    private bool _finished;
    private long _lastStopCheck;
    private Task _writes = Task.CompletedTask;

    private string JobId => this.GetPrimaryKeyString();

    /// <summary>Lapses of a datum's lease (its node died or stopped answering) after which it fails instead of running again.</summary>
    public const int MaxLapses = 3;

    public async Task StartAsync()
    {
        if (_job is not null)
        {
            return;
        }
        var job = await database.UseAsync(s => s.GetJobAsync(JobId, CancellationToken.None));
        if (job.IsFinished)
        {
            // A scheduler round that read the job before it finished.
            DeactivateOnIdle();
            return;
        }
        // This activation's epoch: from now on an older activation (a node cut off, a duplicate) cannot write for the job.
        _epoch = await database.UseAsync(s => s.ClaimJobAsync(JobId, CancellationToken.None));
        var pipeline = await database.UseAsync(s => s.GetPipelineAsync(job.Pipeline, CancellationToken.None));
        _jobSpec = new JobSpec(pipeline.SpecText, pipeline.SpecSource, pipeline.Directory);
        _spec = pipeline.Spec;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (job.State == JobState.Starting)
        {
            await database.UseAsync(s => s.PlanJobAsync(job, CancellationToken.None));
        }
        var splits = (await database.UseAsync(s => s.ListSplitsAsync(JobId, CancellationToken.None))).ToDictionary(s => s.DatumId, StringComparer.Ordinal);
        foreach (var datum in await database.UseAsync(s => s.ListRunnableDatumsAsync(JobId, CancellationToken.None)))
        {
            var task = new DatumTask(JobId, datum.Id, datum.Files.Select(FileRef.Of).ToList());
            if (splits.TryGetValue(datum.Id, out var split))
            {
                Resume(task, split);
            }
            else
            {
                _queue.Enqueue(task);
            }
        }
        _job = await database.UseAsync(s => s.GetJobAsync(JobId, CancellationToken.None));
        await CountSlotsAsync(CancellationToken.None);
        logger.LogInformation("job {Job} of {Pipeline}: {Runnable} datums to run of {Total} (planned in {Ms:0} ms)",
            JobId, job.Pipeline, _queue.Count, _job.Counts.Total, clock.Elapsed.TotalMilliseconds);
        Metrics.TrackQueue(JobId, () => _queue.Count + _again.Count);
        this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(options.TickInterval, options.TickInterval) { KeepAlive = true });
        await FinishIfDoneAsync();
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // With the activation line, says where the job is coordinated now: a membership change can move the grain.
        logger.LogInformation("job {Job}: grain left this node: {Reason}", JobId, reason);
        Metrics.UntrackQueue(JobId);
        return Task.CompletedTask;
    }

    public Task<JobSpec> GetSpecAsync() => Task.FromResult(_jobSpec ?? throw new InvalidOperationException($"job {JobId} is not started"));

    public Task<IReadOnlyList<DatumTask>> LeaseAsync(string worker, int max)
    {
        var leased = new List<DatumTask>();
        // No job until the scheduler starts it: workers ask every unfinished job they read in the database. (An ask just
        // after the job ended leaves an idle activation, which Orleans collects.)
        if (_job is null || _finished || _stale || _stopReason is not null)
        {
            return Task.FromResult<IReadOnlyList<DatumTask>>(leased);
        }
        var limit = _spec!.Parallelism > 0 ? _spec.Parallelism - _leases.Count : max;
        var expires = DateTimeOffset.UtcNow + options.LeaseTime;
        while (leased.Count < Math.Min(max, limit) && (_again.TryDequeue(out var task) || _queue.TryDequeue(out task)))
        {
            // A whole datum learns how many slots could share it now (a retried one may split differently: pieces are rerun whole).
            task = task.Part is null ? task with { Slots = _slots } : task;
            _leases[task.TaskId] = new Lease(worker, expires, task);
            leased.Add(task);
        }
        return Task.FromResult<IReadOnlyList<DatumTask>>(leased);
    }

    public Task<bool> RenewAsync(string worker, IReadOnlyList<string> datumIds)
    {
        if (_stopReason is not null || _finished || _stale)
        {
            return Task.FromResult(false);
        }
        var expires = DateTimeOffset.UtcNow + options.LeaseTime;
        foreach (var id in datumIds)
        {
            if (_leases.TryGetValue(id, out var lease) && lease.Worker == worker)
            {
                _leases[id] = lease with { Expires = expires };
            }
        }
        return Task.FromResult(true);
    }

    public async Task ReportAsync(string worker, IReadOnlyList<TaskOutcome> outcomes)
    {
        foreach (var outcome in outcomes)
        {
            // A report on a lease that lapsed and went to another worker is late: the other worker's counts.
            if (_leases.TryGetValue(outcome.Task, out var lease) && lease.Worker == worker)
            {
                _leases.Remove(outcome.Task);
                Ended(lease.Task, worker, outcome);
            }
        }
        if (_reports.Count >= FlushBatch)
        {
            await FlushAsync();
        }
        await FinishIfDoneAsync();
    }

    public Task ReleaseAsync(string worker, IReadOnlyList<string> datumIds)
    {
        foreach (var id in datumIds)
        {
            if (_leases.TryGetValue(id, out var lease) && lease.Worker == worker)
            {
                // Given back by a stopping node: runnable again at once, and not one of the datum's tries.
                _leases.Remove(id);
                _again.Enqueue(lease.Task);
            }
        }
        logger.LogInformation("job {Job}: {Count} datums given back by {Worker}", JobId, datumIds.Count, worker);
        return Task.CompletedTask;
    }

    /// <summary>
    /// A task ended. A whole datum is recorded as it ended, or is split into piece tasks; a piece's outputs wait for the
    /// others; when all are done a merge task runs, and its outputs with the pieces' become the datum's, recorded once.
    /// </summary>
    private void Ended(DatumTask task, string worker, TaskOutcome outcome)
    {
        if (task.Part is null)
        {
            if (outcome is { Succeeded: true, Split: { Count: > 1 } pieces })
            {
                _splits[task.DatumId] = new SplitDatum(task, pieces.Count, outcome.Started);
                var frames = pieces.Select(p => new FramePiece(p.First, p.End)).ToList();
                Write($"the pieces of datum {task.DatumId}", s => s.SplitDatumAsync(JobId, task.DatumId, frames, outcome.Started, _epoch, CancellationToken.None));
                foreach (var piece in pieces)
                {
                    _queue.Enqueue(task with { Part = piece });
                }
                logger.LogInformation("job {Job}: datum {Datum} splits into {Count} tasks: {Pieces}", JobId, task.DatumId, pieces.Count,
                    string.Join(", ", pieces.Select(p => $"{p.First}-{p.End - 1}")));
                return;
            }
            _reports.Add(outcome);
            return;
        }
        if (!_splits.TryGetValue(task.DatumId, out var split))
        {
            // The datum already failed on another of its pieces.
            return;
        }
        split.Tries = Math.Max(split.Tries, outcome.Tries);
        if (!outcome.Succeeded)
        {
            FailSplit(task, $"{task.Part}: {outcome.Error}", outcome.Tries);
            return;
        }
        logger.LogInformation("job {Job}: datum {Datum} {Part} done on {Worker}", JobId, task.DatumId, task.Part, worker);
        if (!task.Part.IsMerge)
        {
            split.Outputs[task.Part.Index] = outcome.Outputs;
            split.Partials[task.Part.Index] = outcome.Partial ?? [];
            var pieceOutputs = outcome.Outputs.Select(o => o.ToFileEntry()).ToList();
            var partial = (outcome.Partial ?? []).Select(o => o.ToFileEntry()).ToList();
            Write($"{task.Part} of datum {task.DatumId}",
                s => s.RecordPieceAsync(JobId, task.DatumId, task.Part.Index, pieceOutputs, partial, _epoch, CancellationToken.None));
            MergeWhenDone(split);
            return;
        }
        _splits.Remove(task.DatumId);
        var outputs = split.Outputs.SelectMany(o => o!).Concat(outcome.Outputs).OrderBy(o => o.Path, StringComparer.Ordinal).ToList();
        _reports.Add(new TaskOutcome(task.DatumId, true, split.Tries, outputs, split.Started, (DateTimeOffset.UtcNow - split.Started).TotalSeconds, null));
    }

    /// <summary>Queues the merge of a split datum once all its pieces are done.</summary>
    private void MergeWhenDone(SplitDatum split)
    {
        if (split.Outputs.All(o => o is not null))
        {
            var partials = split.Partials.Select(p => p!).ToList();
            _queue.Enqueue(split.Whole with
            {
                Part = new TaskPart(split.Outputs.Length, split.Outputs.Length, 0, 0, true, partials.Any(p => p.Count > 0) ? partials : null),
            });
        }
    }

    /// <summary>A datum that an earlier activation split: its pieces done then count, only the others run (then the merge).</summary>
    private void Resume(DatumTask task, SplitInfo recorded)
    {
        var split = _splits[task.DatumId] = new SplitDatum(task, recorded.Pieces.Count, recorded.Started);
        for (var i = 0; i < recorded.Pieces.Count; i++)
        {
            var piece = recorded.Pieces[i];
            if (piece.Done is { } done)
            {
                split.Outputs[i] = done.Outputs.Select(FileRef.Of).ToList();
                split.Partials[i] = done.Partial.Select(FileRef.Of).ToList();
            }
            else
            {
                _queue.Enqueue(task with { Part = new TaskPart(i, recorded.Pieces.Count, piece.Frames.First, piece.Frames.End, false) });
            }
        }
        logger.LogInformation("job {Job}: datum {Datum} resumes as {Count} pieces, {Done} of them done before", JobId, task.DatumId,
            recorded.Pieces.Count, recorded.Pieces.Count(p => p.Done is not null));
        MergeWhenDone(split);
    }

    /// <summary>
    /// Writes a piece's progress after the writes before it, off the grain's turn. Best effort: if it is lost, the only
    /// cost is that the piece runs again should the job move to another node.
    /// </summary>
    private void Write(string what, Func<PipelineStore, Task> write)
    {
        var previous = _writes;
        _writes = Task.Run(async () =>
        {
            await previous;
            try
            {
                await database.UseAsync(write);
                logger.LogInformation("job {Job}: recorded {What}", JobId, what);
            }
            catch (StaleJobException)
            {
                _stale = true;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "job {Job}: could not record {What}; it runs again if the job moves", JobId, what);
            }
        });
    }

    /// <summary>A piece of a split datum failed: the datum fails once, and its other pieces stop counting.</summary>
    private void FailSplit(DatumTask task, string error, int tries)
    {
        var split = _splits[task.DatumId];
        _splits.Remove(task.DatumId);
        var others = _queue.Where(t => t.DatumId != task.DatumId).ToList();
        _queue.Clear();
        foreach (var other in others)
        {
            _queue.Enqueue(other);
        }
        foreach (var id in _leases.Where(l => l.Value.Task.DatumId == task.DatumId).Select(l => l.Key).ToList())
        {
            _leases.Remove(id);
        }
        _reports.Add(new TaskOutcome(task.DatumId, false, Math.Max(split.Tries, tries), [], split.Started, (DateTimeOffset.UtcNow - split.Started).TotalSeconds, error));
    }

    /// <summary>The slots of the nodes that reported lately: how many tasks a large video may be split into.</summary>
    private async Task CountSlotsAsync(CancellationToken cancellationToken)
    {
        _lastSlotCheck = Environment.TickCount64;
        var workers = await database.UseAsync(s => s.ListWorkersAsync(TimeSpan.FromSeconds(15), cancellationToken), cancellationToken);
        var slots = workers.Where(w => w.Kind == "datums").Sum(w => w.Slots);
        _slots = Math.Max(1, _spec!.Parallelism > 0 ? Math.Min(slots, _spec.Parallelism) : slots);
    }

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        if (_stale)
        {
            logger.LogWarning("job {Job}: a newer activation took the job (epoch {Epoch} superseded); this one stops", JobId, _epoch);
            _finished = true;
            _queue.Clear();
            _again.Clear();
            _leases.Clear();
            DeactivateOnIdle();
            return;
        }
        if (_finished)
        {
            return;
        }
        await FlushAsync();
        var now = DateTimeOffset.UtcNow;
        foreach (var (id, lease) in _leases.Where(l => l.Value.Expires < now).ToList())
        {
            if (!_leases.Remove(id))
            {
                // Dropped meanwhile with the rest of its failed datum.
                continue;
            }
            // A lapse is the node's fault, not the datum's: it is no try; but a datum that keeps taking nodes down fails.
            var lapses = _lapses[id] = _lapses.GetValueOrDefault(id) + 1;
            if (lapses >= MaxLapses)
            {
                logger.LogWarning("job {Job}: datum {Datum} lost its node {Lapses} times (last {Worker}); it fails", JobId, id, lapses, lease.Worker);
                var error = $"the datum took down its node {lapses} times (its lease lapsed each time)";
                if (lease.Task.Part is not null)
                {
                    if (_splits.ContainsKey(lease.Task.DatumId))
                    {
                        FailSplit(lease.Task, $"{lease.Task.Part}: {error}", 0);
                    }
                    continue;
                }
                _reports.Add(new TaskOutcome(id, false, 0, [], now, 0, error));
                continue;
            }
            logger.LogWarning("job {Job}: the lease of datum {Datum} lapsed on {Worker}; it runs again", JobId, id, lease.Worker);
            Metrics.LeaseLapses.Add(1);
            _again.Enqueue(lease.Task);
        }
        if (Environment.TickCount64 - _lastSlotCheck > 5000)
        {
            await CountSlotsAsync(cancellationToken);
        }
        if (_stopReason is null && Environment.TickCount64 - _lastStopCheck > 1000)
        {
            _lastStopCheck = Environment.TickCount64;
            var error = await database.UseAsync(s => s.GetJobErrorAsync(JobId, CancellationToken.None), cancellationToken);
            if (error == PipelineStore.StopRequested)
            {
                Stop(PipelineStore.StopRequested);
            }
            else if (_spec!.JobTimeout is { } limit && _job!.Started is { } started && now - started > limit)
            {
                Stop($"the job timed out after {limit}");
            }
        }
        if (_stopReason is not null && _leases.Count > 0 && _leases.Values.All(l => l.Expires < now + options.LeaseTime - options.StopGrace))
        {
            // Workers were told to drop these on their last renewal; do not wait for them any longer.
            _leases.Clear();
        }
        await FinishIfDoneAsync();
    }

    private void Stop(string reason)
    {
        logger.LogInformation("job {Job}: stopping: {Reason}", JobId, reason);
        _stopReason = reason;
        _queue.Clear();
        _again.Clear();
    }

    /// <summary>
    /// Writes buffered reports off the grain's turn, in order, so leases keep flowing while the database works;
    /// <see cref="FinishIfDoneAsync"/> waits for the writes before it commits.
    /// </summary>
    private Task FlushAsync()
    {
        if (_reports.Count > 0)
        {
            var batch = _reports.Select(r => r.ToDatumOutcome()).ToList();
            _reports.Clear();
            var previous = _writes;
            _writes = Task.Run(async () =>
            {
                await previous;
                try
                {
                    await database.UseAsync(s => s.RecordAsync(JobId, batch, _epoch, CancellationToken.None));
                }
                catch (StaleJobException)
                {
                    _stale = true;
                }
            });
        }
        return Task.CompletedTask;
    }

    private async Task FinishIfDoneAsync()
    {
        if (_finished || _job is null || _queue.Count > 0 || _again.Count > 0 || _leases.Count > 0)
        {
            return;
        }
        await FlushAsync();
        _finished = true;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            await _writes;
            var final = await database.UseAsync(async s =>
            {
                if (_stopReason is not null)
                {
                    return await s.FinishJobAsync(JobId, _stopReason == PipelineStore.StopRequested ? JobState.Killed : JobState.Failure, _stopReason,
                        _epoch, CancellationToken.None);
                }
                var counts = (await s.GetJobAsync(JobId, CancellationToken.None)).Counts;
                return counts.Failed > 0
                    ? await s.FinishJobAsync(JobId, JobState.Failure, $"{counts.Failed} of {counts.Total} datums failed", _epoch, CancellationToken.None)
                    : await s.FinishJobAsync(JobId, JobState.Success, null, _epoch, CancellationToken.None);
            });
            logger.LogInformation("job {Job} of {Pipeline}: {State} (committed in {Ms:0} ms)", JobId, final.Pipeline, final.State, clock.Elapsed.TotalMilliseconds);
        }
        catch (StaleJobException e)
        {
            // Another activation owns the job now: leave it to that one.
            logger.LogWarning("job {Job}: {Message}", JobId, e.Message);
        }
        catch (Exception e)
        {
            // The scheduler starts the job again from what the database recorded; unrecorded datums run again.
            logger.LogError(e, "job {Job}: could not record or commit its results; it resumes from its recorded state", JobId);
        }
        DeactivateOnIdle();
    }

    private sealed record Lease(string Worker, DateTimeOffset Expires, DatumTask Task);

    /// <summary>
    /// A datum running as pieces: the pieces' outputs so far, in frame order. Also recorded in the database, so a job that
    /// moves to another node reruns only the pieces not done (<see cref="Resume"/>).
    /// </summary>
    private sealed class SplitDatum(DatumTask whole, int pieces, DateTimeOffset started)
    {
        public DatumTask Whole { get; } = whole;

        public IReadOnlyList<FileRef>?[] Outputs { get; } = new IReadOnlyList<FileRef>?[pieces];

        /// <summary>The pieces' results that only the merge reads.</summary>
        public IReadOnlyList<FileRef>?[] Partials { get; } = new IReadOnlyList<FileRef>?[pieces];

        public DateTimeOffset Started { get; } = started;

        public int Tries { get; set; } = 1;
    }
}
