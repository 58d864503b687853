using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;
using OpenTelemetry.Metrics;
using Orleans.Configuration;
using Reel.Cluster.Membership;

namespace Reel.Cluster;

/// <summary>How one node of a cluster runs: <c>reel node join CLUSTER [--advertise IP] [--slots N] [--data DIR]</c>.</summary>
public sealed record NodeOptions
{
    /// <summary>The IP address other nodes reach this one at (never a host name: several nodes may share one).</summary>
    public required IPAddress Advertise { get; init; }

    /// <summary>This node's own directory: scratch space for datums, logs and the object cache.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Datums this node runs at once.</summary>
    public int Slots { get; init; } = Environment.ProcessorCount;

    /// <summary>Overrides the cluster file's silo port (several nodes on one address).</summary>
    public int? SiloPort { get; init; }

    /// <summary>Overrides the cluster file's gateway port.</summary>
    public int? GatewayPort { get; init; }

    /// <summary>Port serving <c>/metrics</c> for Prometheus (Reel's meters and Orleans'); null serves none.</summary>
    public int? MetricsPort { get; init; }

    /// <summary>Who sees the frames of analyze steps as this node analyzes them (<c>reel serve</c>'s analyses); null for nobody.</summary>
    public Pipelines.Execution.IDatumWatcher? Watcher { get; init; }
}

/// <summary>
/// A cluster node: a silo whose membership lives in the cluster's PostgreSQL (Orleans' ADO.NET clustering), with the
/// same scheduler and worker pool as the embedded engine. Its workers are named by the node's address.
/// </summary>
public static class Node
{
    /// <summary>The name workers of a node go by: its advertised address and silo port, unique in the cluster.</summary>
    public static string WorkerName(IPAddress address, int siloPort) => $"{address}:{siloPort}";

    /// <summary>Runs the node until <paramref name="cancellationToken"/> fires (SIGTERM, Ctrl-C) or the cluster declares it dead.</summary>
    /// <exception cref="ClusterException">The cluster's database is unreachable or not set up.</exception>
    public static async Task RunAsync(ClusterFile cluster, NodeOptions node, EngineDatabase database, CancellationToken cancellationToken)
    {
        var connectionString = ClusterFile.ConnectionString(cluster.Database);
        await using (var data = NpgsqlDataSource.Create(connectionString))
        {
            try
            {
                await MembershipSchema.CheckAsync(data, cancellationToken);
            }
            catch (NpgsqlException e)
            {
                throw new ClusterException($"cannot reach the cluster database: {e.Message}", e);
            }
        }
        var siloPort = node.SiloPort ?? cluster.SiloPort;
        var gatewayPort = node.GatewayPort ?? cluster.GatewayPort;
        var options = new EngineOptions
        {
            DataDirectory = node.DataDirectory,
            Slots = node.Slots,
            LeaseTime = TimeSpan.FromSeconds(cluster.LeaseSeconds),
            WorkerName = WorkerName(node.Advertise, siloPort),
            StoreLogs = true,
            Watcher = node.Watcher,
        };
        var probe = TimeSpan.FromSeconds(cluster.ProbeTimeoutSeconds);
        using var host = Engine.Build(options, database, silo => silo
            .Configure<ClusterOptions>(o =>
            {
                o.ClusterId = cluster.ClusterId;
                o.ServiceId = "reel";
            })
            .UseAdoNetClustering(o =>
            {
                o.Invariant = "Npgsql";
                o.ConnectionString = connectionString;
            })
            .ConfigureEndpoints(node.Advertise, siloPort, gatewayPort, listenOnAnyHostAddress: true)
            .Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = probe;
                // A node reads the table this often: how soon one cut off from the others learns it was declared dead and leaves.
                o.TableRefreshTimeout = probe * 5;
                o.IAmAliveTablePublishTimeout = probe * 5;
                o.DeathVoteExpirationTimeout = probe * 24;
            })
            .Configure<SiloMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(Math.Max(10, cluster.ProbeTimeoutSeconds * 10))),
            services =>
            {
                if (node.MetricsPort is { } port)
                {
                    services.AddOpenTelemetry().WithMetrics(metrics => metrics
                        .AddMeter(Metrics.MeterName, "Microsoft.Orleans")
                        .AddPrometheusHttpListener(o =>
                        {
                            // Where Prometheus finds the node: its advertised IP.
                            o.Host = node.Advertise.ToString();
                            o.Port = port;
                        }));
                }
            });
        await host.RunAsync(cancellationToken);
    }
}
