using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Reel.Pipelines.Execution;
using Reel.Pipelines.Jobs;
using Reel.Pipelines.Specs;

namespace Reel.Cluster;

/// <summary>
/// This node's workers: with a free slot it asks the active jobs for datums (work is pulled, not pushed), runs them
/// on the thread pool, never on the grain scheduler, renews their leases while they run and reports in batches.
/// A datum is tried up to the pipeline's datum tries here; its log goes to the data directory's logs.
/// </summary>
internal sealed class WorkerPool(IGrainFactory grains, EngineDatabase database, EngineOptions options, ILogger<WorkerPool> logger)
    : BackgroundService
{
    private static readonly TimeSpan RenewEvery = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ReportEvery = TimeSpan.FromSeconds(5);

    /// <summary>How soon after a task starts the pool reports itself; at most one report a second however fast tasks start.</summary>
    private static readonly TimeSpan ReportAfterStart = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan IdleWait = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan NoJobsWait = TimeSpan.FromMilliseconds(200);

    private readonly string _worker = options.WorkerName;
    private readonly ConcurrentDictionary<string, Running> _running = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string Job, TaskOutcome Outcome)> _finished = new();
    private readonly ConcurrentDictionary<string, PipelineSpec> _specs = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0);
    private long _lastRenew = Stopwatch.GetTimestamp();
    private long _lastReport;
    private bool _startedSinceReport;
    private Task _selfReport = Task.CompletedTask;
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private long _done;
    private long _failed;
    private double _busySeconds;
    private readonly ConcurrentStack<DatumRunner> _freeRunners = new(Enumerable.Range(0, options.Slots).Reverse()
        .Select(slot => new DatumRunner(database.Data.Objects, Path.Combine(options.DataDirectory, "scratch", slot.ToString(CultureInfo.InvariantCulture)), options.Watcher)));
    private readonly string _scratch = Path.Combine(options.DataDirectory, "scratch");

    private readonly ConcurrentQueue<DatumTask> _givenBack = new();
    private IReadOnlyList<string> _jobs = [];
    private long _jobsRead;
    private bool _jobsUnreadable;
    private CancellationToken _stopping;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        // One engine per data directory: whatever scratch is there, a dead engine left.
        if (Directory.Exists(_scratch))
        {
            Directory.Delete(_scratch, recursive: true);
        }
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PullAsync(stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested && e is not OperationCanceledException)
            {
                logger.LogError(e, "the worker pool failed to reach the jobs; trying again");
                await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                // The silo is shutting down with the host.
            }
        }
        await _selfReport;
        await GiveBackAsync();
    }

    /// <summary>
    /// On a normal stop (SIGTERM, Ctrl-C) the running datums are given back to their jobs at once, so they run again
    /// elsewhere without waiting for their leases to lapse (their processes were cancelled with the stop).
    /// </summary>
    private async Task GiveBackAsync()
    {
        // Their processes end within moments of the cancellation; wait a bounded while for them to say so.
        var waited = Stopwatch.StartNew();
        while (!_running.IsEmpty && waited.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(20, CancellationToken.None);
        }
        await ReleaseAsync([.. _running.Values.Select(r => r.Task)]);
    }

    /// <summary>Gives datums back to their jobs (those in <see cref="_givenBack"/> and <paramref name="more"/>): they run again at once.</summary>
    private async Task ReleaseAsync(IReadOnlyList<DatumTask>? more = null)
    {
        var tasks = new List<DatumTask>();
        while (_givenBack.TryDequeue(out var task))
        {
            tasks.Add(task);
        }
        tasks.AddRange(more ?? []);
        foreach (var group in tasks.GroupBy(t => t.JobId))
        {
            try
            {
                await grains.GetGrain<IJobGrain>(group.Key).ReleaseAsync(_worker, group.Select(t => t.TaskId).Distinct().ToList());
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning("could not give {Count} datums of job {Job} back ({Message}); their leases lapse instead", group.Count(), group.Key, e.Message);
            }
        }
    }

    /// <summary>One round: report what finished, renew leases when due, lease datums for free slots, or wait.</summary>
    private async Task PullAsync(CancellationToken stoppingToken)
    {
        await ReportAsync();
        if (Stopwatch.GetElapsedTime(_lastRenew) > RenewEvery)
        {
            await RenewAsync();
            _lastRenew = Stopwatch.GetTimestamp();
        }
        // Every few seconds, and soon after new work started, so `reel node list` shows what runs now. Off this loop: a
        // slow database must not hold back the reports and renewals that keep leases alive.
        var sinceReport = Stopwatch.GetElapsedTime(_lastReport);
        if (_selfReport.IsCompleted && (sinceReport > ReportEvery || (_startedSinceReport && sinceReport > ReportAfterStart)))
        {
            _startedSinceReport = false;
            _lastReport = Stopwatch.GetTimestamp();
            _selfReport = ReportSelfInBackgroundAsync(stoppingToken);
        }
        var leased = 0;
        var free = options.Slots - _running.Count;
        var jobs = free > 0 ? await UnfinishedJobsAsync() : [];
        if (free > 0)
        {
            foreach (var job in jobs)
            {
                var tasks = await grains.GetGrain<IJobGrain>(job).LeaseAsync(_worker, free - leased);
                foreach (var task in tasks)
                {
                    await StartAsync(task, stoppingToken);
                }
                leased += tasks.Count;
                if (leased == free)
                {
                    break;
                }
            }
        }
        if (leased == 0 || _running.Count == options.Slots)
        {
            // Woken early when a datum ends, so its slot is refilled at once; with no job at all, ask less often.
            var wait = free > 0 && jobs.Count == 0 && _running.IsEmpty ? NoJobsWait : IdleWait;
            await _wake.WaitAsync(wait, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// The jobs to ask for datums: the unfinished ones in the database, read at most once a poll interval. The database
    /// is the one record every node shares, so no node's death can hide a job from the others. While it cannot be read
    /// (a restart, a failover), the pool goes on asking the jobs it read last.
    /// </summary>
    private async Task<IReadOnlyList<string>> UnfinishedJobsAsync()
    {
        if (_jobsRead != 0 && Stopwatch.GetElapsedTime(_jobsRead) < options.PollInterval)
        {
            return _jobs;
        }
        _jobsRead = Stopwatch.GetTimestamp();
        try
        {
            _jobs = await database.UseAsync(s => s.ListUnfinishedJobIdsAsync(CancellationToken.None));
            _jobsUnreadable = false;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            if (!_jobsUnreadable)
            {
                logger.LogWarning("cannot read the unfinished jobs ({Message}); asking the {Count} read before until the database answers", e.Message, _jobs.Count);
                _jobsUnreadable = true;
            }
        }
        return _jobs;
    }

    private async Task StartAsync(DatumTask task, CancellationToken stoppingToken)
    {
        if (!_specs.TryGetValue(task.JobId, out var spec))
        {
            var stored = await grains.GetGrain<IJobGrain>(task.JobId).GetSpecAsync();
            spec = SpecReader.Parse(stored.SpecText, stored.SpecSource, stored.Directory);
            _specs[task.JobId] = spec;
        }
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        if (!_freeRunners.TryPop(out var runner))
        {
            throw new InvalidOperationException("a datum was leased with no free slot");
        }
        var running = new Running(task, cancel, runner);
        _running[Key(task)] = running;
        _startedSinceReport = true;
        _ = Task.Run(() => RunAsync(spec, running), CancellationToken.None);
    }

    private async Task RunAsync(PipelineSpec spec, Running running)
    {
        var task = running.Task;
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var logPath = Path.Combine(options.DataDirectory, "logs", task.JobId, task.TaskId + ".log");
        TaskOutcome outcome;
        long frames = 0;
        var tries = 0;
        while (true)
        {
            tries++;
            try
            {
                var run = await running.Runner.RunAsync(spec, task.JobId, task.ToDatum(), task.Part?.ToDatumPart(), task.Slots, logPath, running.Cancel.Token);
                frames = run.Frames;
                var split = run.Split.Select((p, i) => new TaskPart(i, run.Split.Count, p.First, p.End, false)).ToList();
                outcome = new TaskOutcome(task.DatumId, true, tries, run.Outputs.Select(FileRef.Of).ToList(), started, clock.Elapsed.TotalSeconds, null,
                    task.TaskId, split.Count > 0 ? split : null, run.Partial.Count > 0 ? run.Partial.Select(FileRef.Of).ToList() : null);
                break;
            }
            catch (OperationCanceledException) when (running.Cancel.IsCancellationRequested)
            {
                outcome = new TaskOutcome(task.DatumId, false, tries, [], started, clock.Elapsed.TotalSeconds, "stopped", task.TaskId);
                break;
            }
            catch (Exception e)
            {
                var reason = e is StepFailedException or IOException or UnauthorizedAccessException ? e.Message : e.ToString();
                Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
                await File.AppendAllTextAsync(logPath, $"reel: try {tries} of {spec.DatumTries} failed: {reason}\n", CancellationToken.None);
                if (tries >= spec.DatumTries)
                {
                    outcome = new TaskOutcome(task.DatumId, false, tries, [], started, clock.Elapsed.TotalSeconds, reason.Split('\n')[0], task.TaskId);
                    break;
                }
            }
        }
        var giveBack = !outcome.Succeeded && _stopping.IsCancellationRequested;
        if (!giveBack && options.StoreLogs)
        {
            // The log reaches the object store before the datum is reported, so every machine's 'reel logs' reads it.
            try
            {
                outcome = outcome with { Log = await StoreLogAsync(logPath) };
            }
            catch (Exception e)
            {
                // Not reported without its log: it goes back to its job and runs again (not one of its tries).
                logger.LogWarning("could not store the log of datum {Datum} of job {Job} ({Message}); it runs again", task.DatumId, task.JobId, e.Message);
                giveBack = true;
            }
        }
        if (giveBack)
        {
            // The node is stopping (GiveBackAsync) or the log could not be stored (the next report): the datum did not end.
            _givenBack.Enqueue(task);
            _freeRunners.Push(running.Runner);
            _running.TryRemove(Key(task), out _);
            running.Cancel.Dispose();
            return;
        }
        // Counters count datums: one is done once, by its whole task or its merge; a plan that split it and its pieces
        // are not datums. A piece that failed every try fails its datum.
        var endsDatum = !outcome.Succeeded || (outcome.Split is null && task.Part is not { IsMerge: false });
        if (endsDatum)
        {
            Interlocked.Increment(ref outcome.Succeeded ? ref _done : ref _failed);
            (outcome.Succeeded ? Metrics.DatumsDone : Metrics.DatumsFailed).Add(1);
        }
        // Frames count wherever they were processed: a piece's too.
        Metrics.Frames.Add(frames);
        AddBusy(clock.Elapsed.TotalSeconds);
        // The runner goes back before the slot counts as free, so whoever sees the free slot finds a runner.
        _freeRunners.Push(running.Runner);
        _running.TryRemove(Key(task), out _);
        running.Cancel.Dispose();
        _finished.Enqueue((task.JobId, outcome));
        _wake.Release();
    }

    /// <summary>Stores the datum's log as an object (content-addressed, like outputs); null when the datum printed nothing.</summary>
    private async Task<string?> StoreLogAsync(string logPath)
    {
        if (!File.Exists(logPath))
        {
            return null;
        }
        await using var content = File.OpenRead(logPath);
        return (await database.Data.Objects.PutAsync(content, CancellationToken.None)).Hash;
    }

    private async Task ReportAsync()
    {
        if (!_stopping.IsCancellationRequested && !_givenBack.IsEmpty)
        {
            await ReleaseAsync();
        }
        if (_finished.IsEmpty)
        {
            return;
        }
        var batch = new List<(string Job, TaskOutcome Outcome)>();
        while (_finished.TryDequeue(out var item))
        {
            batch.Add(item);
        }
        foreach (var group in batch.GroupBy(b => b.Job))
        {
            try
            {
                await grains.GetGrain<IJobGrain>(group.Key).ReportAsync(_worker, group.Select(g => g.Outcome).ToList());
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // The job's grain is gone (the job ended or its node failed); the lease lapses and the datum runs again.
                logger.LogWarning(e, "could not report {Count} datums of job {Job}", group.Count(), group.Key);
            }
        }
    }

    private async Task ReportSelfInBackgroundAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Task.Run(() => ReportSelfAsync(cancellationToken), CancellationToken.None);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            logger.LogWarning("could not report this worker's state ({Message}); trying again in a few seconds", e.Message);
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>Tells the data directory how this pool stands, for <c>/api/v1/workers</c> and the dashboard.</summary>
    private Task ReportSelfAsync(CancellationToken cancellationToken)
    {
        var (host, address) = PipelineStore.ThisMachine();
        var worker = new WorkerInfo(
            _worker, "datums", host, address, options.Slots, _running.Count, Interlocked.Read(ref _done), Interlocked.Read(ref _failed),
            Interlocked.Read(ref _done) + Interlocked.Read(ref _failed), Volatile.Read(ref _busySeconds), _started, DateTimeOffset.UtcNow)
        {
            WorkingOn = [.. _running.Values.Select(r => Describe(r.Task)).Order(StringComparer.Ordinal)],
        };
        return database.UseAsync(s => s.ReportWorkerAsync(worker, cancellationToken), cancellationToken);
    }

    private async Task RenewAsync()
    {
        foreach (var group in _running.Values.GroupBy(r => r.Task.JobId))
        {
            var keep = await grains.GetGrain<IJobGrain>(group.Key).RenewAsync(_worker, group.Select(r => r.Task.TaskId).ToList());
            if (!keep)
            {
                foreach (var running in group)
                {
                    try
                    {
                        running.Cancel.Cancel();
                    }
                    catch (ObjectDisposedException)
                    {
                        // It ended meanwhile.
                    }
                }
            }
        }
    }

    private void AddBusy(double seconds)
    {
        double seen, updated;
        do
        {
            seen = Volatile.Read(ref _busySeconds);
            updated = seen + seconds;
        }
        while (Interlocked.CompareExchange(ref _busySeconds, updated, seen) != seen);
    }

    private static string Key(DatumTask task) => task.JobId + "/" + task.TaskId;

    private sealed record Running(DatumTask Task, CancellationTokenSource Cancel, DatumRunner Runner);

    /// <summary>A running task as <c>reel node list</c> shows it: the pipeline, the datum's first file, and the piece.</summary>
    private string Describe(DatumTask task)
    {
        var pipeline = _specs.TryGetValue(task.JobId, out var spec) ? spec.Name : "job " + task.JobId[..Math.Min(12, task.JobId.Length)];
        var files = task.Files.Count switch
        {
            0 => "",
            1 => " " + task.Files[0].Path,
            var n => $" {task.Files[0].Path} and {n - 1} more",
        };
        return pipeline + files + (task.Part is { } part ? " " + part : "");
    }
}
