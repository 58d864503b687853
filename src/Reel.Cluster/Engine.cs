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
/// A cluster node (<see cref="Node"/>) composes the same pieces with membership in PostgreSQL.
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
            using var host = Build(options, database, silo => silo
                .UseLocalhostClustering(FreePort(), FreePort(), serviceId: "reel", clusterId: "reel-embedded"));
            await host.RunAsync(cancellationToken);
        }
        return true;
    }

    /// <summary>
    /// The host every engine runs: the silo as <paramref name="clustering"/> sets it up, then the scheduler and the
    /// worker pool, which start once the silo is up and stop before it.
    /// </summary>
    internal static IHost Build(EngineOptions options, EngineDatabase database, Action<ISiloBuilder> clustering, Action<IServiceCollection>? services = null)
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
        builder.UseOrleans(silo =>
        {
            clustering(silo);
            // The strongly consistent directory: Orleans' default one deactivates every grain whose directory entry
            // lived on a silo that died, so a kill -9 of a mere worker node could take a job's grain down with it
            // (and every running datum ran again); this one rebuilds the lost entries from the live silos.
#pragma warning disable ORLEANSEXP003
            silo.AddDistributedGrainDirectory();
#pragma warning restore ORLEANSEXP003
        });
        services?.Invoke(builder.Services);
        // Registered after the silo, so they start once it is up.
        builder.Services.AddHostedService<JobScheduler>();
        builder.Services.AddHostedService<WorkerPool>();
        return builder.Build();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
