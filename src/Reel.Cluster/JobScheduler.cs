using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Reel.Cluster;

/// <summary>
/// Turns commits into jobs and jobs into running grains: it polls the data directory for input branches that moved
/// (whoever committed, in whatever process) and for unfinished jobs, including those a crashed engine left, and
/// starts each job's grain. With <see cref="EngineOptions.IdleExit"/> it stops the engine once nothing is left.
/// </summary>
internal sealed class JobScheduler(
    IGrainFactory grains, EngineDatabase database, EngineOptions options, IHostApplicationLifetime lifetime, ILogger<JobScheduler> logger)
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
                var unfinished = await database.UseAsync(async s =>
                {
                    foreach (var job in await s.CreateDueJobsAsync(stoppingToken))
                    {
                        logger.LogInformation("new job {Job} of pipeline {Pipeline}", job.Id, job.Pipeline);
                    }
                    return await s.ListUnfinishedJobsAsync(stoppingToken);
                }, stoppingToken);
                busy = unfinished.Count > 0;
                // One job per pipeline at a time, oldest first, so outputs commit in input order. Starting is idempotent:
                // asking every round also revives a job whose grain gave up.
                foreach (var job in unfinished.GroupBy(j => j.Pipeline).Select(g => g.First()))
                {
                    await grains.GetGrain<IJobGrain>(job.Id).StartAsync();
                }
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
