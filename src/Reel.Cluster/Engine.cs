using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Reel.Data;
using Reel.Pipelines.Jobs;

namespace Reel.Cluster;

/// <summary>
/// The embedded engine: one Orleans silo with localhost clustering inside this process, with the job scheduler and
/// this node's worker pool. Runs until stopped, or until idle when <see cref="EngineOptions.IdleExit"/> is set.
/// </summary>
public static class Engine
{
    /// <summary>Runs the engine for the data directory; returns false at once when another engine already runs it.</summary>
    public static async Task<bool> RunAsync(EngineOptions options, CancellationToken cancellationToken)
    {
        using var engineLock = EngineLock.TryAcquire(options.DataDirectory);
        if (engineLock is null)
        {
            return false;
        }
        var data = await DataStore.OpenAsync(options.DataDirectory, TimeProvider.System, cancellationToken);
        var database = new EngineDatabase(data, await PipelineStore.OpenAsync(data, cancellationToken));
        await using (database)
        {
            var builder = Host.CreateApplicationBuilder();
            builder.Logging.ClearProviders();
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-dd HH:mm:ss ";
            });
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.Logging.AddFilter("Reel", LogLevel.Information);
            builder.Services.AddSingleton(options);
            builder.Services.AddSingleton(database);
            builder.UseOrleans(silo => silo
                .UseLocalhostClustering(FreePort(), FreePort(), serviceId: "reel", clusterId: "reel-embedded"));
            // Registered after the silo, so they start once it is up.
            builder.Services.AddHostedService<JobScheduler>();
            builder.Services.AddHostedService<WorkerPool>();
            using var host = builder.Build();
            await host.RunAsync(cancellationToken);
        }
        return true;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
