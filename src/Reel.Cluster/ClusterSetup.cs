using Npgsql;
using Reel.Cluster.Membership;

namespace Reel.Cluster;

/// <summary>Setting up a cluster's database: what <c>reel cluster init</c> does besides writing the file.</summary>
public static class ClusterSetup
{
    /// <summary>Creates or updates the membership schema (and the metadata schema) in the cluster's database.</summary>
    public static async Task InitAsync(ClusterFile cluster, CancellationToken cancellationToken)
    {
        await using var database = NpgsqlDataSource.Create(ClusterFile.ConnectionString(cluster.Database));
        await MembershipSchema.CreateAsync(database, cancellationToken);
        await MembershipSchema.CheckAsync(database, cancellationToken);
        // The metadata tables (repos, commits, pipelines, jobs, datums, workers), created by opening the stores once.
        var local = Directory.CreateTempSubdirectory("reel-cluster-init-").FullName;
        try
        {
            await using var engine = await ClusterStores.OpenEngineDatabaseAsync(cluster, local, cancellationToken);
        }
        finally
        {
            Directory.Delete(local, recursive: true);
        }
    }

    /// <summary>One line for an error reaching or using the cluster's database.</summary>
    public static string Describe(Exception e) => e switch
    {
        ClusterException => e.Message,
        PostgresException p => $"the cluster database refused: {p.MessageText}",
        NpgsqlException n => $"cannot reach the cluster database: {n.Message}",
        _ => e.Message,
    };
}
