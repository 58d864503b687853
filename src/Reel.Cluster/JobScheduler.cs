using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Reel.Cluster;

/// <summary>
/// The cluster's one scheduler (key 0): creates the jobs that commits made due and starts each unfinished job's grain,
/// including those a crashed node left. One activation in the cluster runs the rounds; every node asks it for one
/// regularly, so when the node holding it dies the next ask activates it on a live node.
/// </summary>
[Alias("reel.scheduler")]
public interface ISchedulerGrain : IGrainWithIntegerKey
{
    /// <summary>Runs a scheduling round unless one ran within the poll interval; whether jobs are unfinished.</summary>
    [Alias("round")]
    Task<bool> RoundAsync();
}

internal sealed class SchedulerGrain(EngineDatabase database, EngineOptions options, ILogger<SchedulerGrain> logger) : Grain, ISchedulerGrain
{
    private long _lastRound;
    private bool _busy;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        logger.LogInformation("scheduler active on this node");
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // With the activation line, says where the scheduler runs now: a membership change can move it between nodes.
        logger.LogInformation("scheduler left this node: {Reason}", reason);
        return Task.CompletedTask;
    }

    public async Task<bool> RoundAsync()
    {
        if (_lastRound != 0 && Stopwatch.GetElapsedTime(_lastRound) < options.PollInterval)
        {
            return _busy;
        }
        _lastRound = Stopwatch.GetTimestamp();
        var unfinished = await database.UseAsync(async s =>
        {
            foreach (var job in await s.CreateDueJobsAsync(CancellationToken.None))
            {
                logger.LogInformation("new job {Job} of pipeline {Pipeline}", job.Id, job.Pipeline);
            }
            return await s.ListUnfinishedJobsAsync(CancellationToken.None);
        });
        _busy = unfinished.Count > 0;
        // One job per pipeline at a time, oldest first, so outputs commit in input order. Starting is idempotent:
        // asking every round also revives a job whose grain gave up or whose node died.
        foreach (var job in unfinished.GroupBy(j => j.Pipeline).Select(g => g.First()))
        {
            await GrainFactory.GetGrain<IJobGrain>(job.Id).StartAsync();
        }
        return _busy;
    }
}

/// <summary>
/// On every node: asks the cluster's scheduler for a round each poll interval. With <see cref="EngineOptions.IdleExit"/>
/// it stops the engine once nothing is left.
/// </summary>
internal sealed class JobScheduler(IGrainFactory grains, EngineOptions options, IHostApplicationLifetime lifetime, ILogger<JobScheduler> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var idleSince = DateTimeOffset.UtcNow;
        while (!stoppingToken.IsCancellationRequested)
        {
            var busy = false;
            try
            {
                busy = await grains.GetGrain<ISchedulerGrain>(0).RoundAsync();
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "scheduling failed; trying again");
            }
            if (busy)
            {
                idleSince = DateTimeOffset.UtcNow;
            }
            else if (options.IdleExit is { } idle && DateTimeOffset.UtcNow - idleSince > idle)
            {
                logger.LogInformation("idle for {Idle}; stopping", idle);
                lifetime.StopApplication();
                return;
            }
            await Task.Delay(options.PollInterval, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }
}
