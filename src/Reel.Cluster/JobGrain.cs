using Microsoft.Extensions.Logging;
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
            // The board may have been rebuilt on another node since: asking again puts the job back on it.
            if (!_finished)
            {
                await GrainFactory.GetGrain<IJobBoardGrain>(0).AddAsync(JobId);
            }
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
        foreach (var datum in await database.UseAsync(s => s.ListRunnableDatumsAsync(JobId, CancellationToken.None)))
        {
            _queue.Enqueue(new DatumTask(JobId, datum.Id, datum.Files.Select(FileRef.Of).ToList()));
        }
        _job = await database.UseAsync(s => s.GetJobAsync(JobId, CancellationToken.None));
        logger.LogInformation("job {Job} of {Pipeline}: {Runnable} datums to run of {Total} (planned in {Ms:0} ms)",
            JobId, job.Pipeline, _queue.Count, _job.Counts.Total, clock.Elapsed.TotalMilliseconds);
        Metrics.TrackQueue(JobId, () => _queue.Count + _again.Count);
        this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(options.TickInterval, options.TickInterval) { KeepAlive = true });
        await GrainFactory.GetGrain<IJobBoardGrain>(0).AddAsync(JobId);
        await FinishIfDoneAsync();
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        Metrics.UntrackQueue(JobId);
        return Task.CompletedTask;
    }

    public Task<JobSpec> GetSpecAsync() => Task.FromResult(_jobSpec ?? throw new InvalidOperationException($"job {JobId} is not started"));

    public Task<IReadOnlyList<DatumTask>> LeaseAsync(string worker, int max)
    {
        var leased = new List<DatumTask>();
        if (_job is null || _finished || _stale || _stopReason is not null)
        {
            return Task.FromResult<IReadOnlyList<DatumTask>>(leased);
        }
        var limit = _spec!.Parallelism > 0 ? _spec.Parallelism - _leases.Count : max;
        var expires = DateTimeOffset.UtcNow + options.LeaseTime;
        while (leased.Count < Math.Min(max, limit) && (_again.TryDequeue(out var task) || _queue.TryDequeue(out task)))
        {
            _leases[task.DatumId] = new Lease(worker, expires, task);
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
            if (_leases.TryGetValue(outcome.DatumId, out var lease) && lease.Worker == worker)
            {
                _leases.Remove(outcome.DatumId);
                _reports.Add(outcome);
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
            _leases.Remove(id);
            // A lapse is the node's fault, not the datum's: it is no try; but a datum that keeps taking nodes down fails.
            var lapses = _lapses[id] = _lapses.GetValueOrDefault(id) + 1;
            if (lapses >= MaxLapses)
            {
                logger.LogWarning("job {Job}: datum {Datum} lost its node {Lapses} times (last {Worker}); it fails", JobId, id, lapses, lease.Worker);
                _reports.Add(new TaskOutcome(id, false, 0, [], now, 0, $"the datum took down its node {lapses} times (its lease lapsed each time)"));
                continue;
            }
            logger.LogWarning("job {Job}: the lease of datum {Datum} lapsed on {Worker}; it runs again", JobId, id, lease.Worker);
            Metrics.LeaseLapses.Add(1);
            _again.Enqueue(lease.Task);
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
            await GrainFactory.GetGrain<IJobBoardGrain>(0).RemoveAsync(JobId);
        }
        catch (StaleJobException e)
        {
            // Another activation owns the job now (and the board entry, which has the same name): leave both to it.
            logger.LogWarning("job {Job}: {Message}", JobId, e.Message);
        }
        catch (Exception e)
        {
            // The scheduler starts the job again from what the database recorded; unrecorded datums run again.
            logger.LogError(e, "job {Job}: could not record or commit its results; it resumes from its recorded state", JobId);
            await GrainFactory.GetGrain<IJobBoardGrain>(0).RemoveAsync(JobId);
        }
        DeactivateOnIdle();
    }

    private sealed record Lease(string Worker, DateTimeOffset Expires, DatumTask Task);
}
