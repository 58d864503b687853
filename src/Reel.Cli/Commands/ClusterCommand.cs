using System.CommandLine;
using Npgsql;
using Reel.Cluster;
using Reel.Cluster.Membership;

namespace Reel.Cli.Commands;

/// <summary><c>reel cluster init</c>: sets up a cluster's database and writes the cluster file its nodes and commands share.</summary>
internal static class ClusterCommand
{
    public static Command Create()
    {
        var db = new Option<string>("--db") { Description = "PostgreSQL URL: postgresql://user[:password]@host[:port]/database", Required = true };
        var objects = new Option<string>("--objects") { Description = "Object store: s3://bucket?endpoint=http://host:port, or a directory every node mounts at the same path", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Cluster file to write", DefaultValueFactory = _ => "cluster.json" };
        var clusterId = new Option<string?>("--cluster-id") { Description = "Orleans cluster id (default: a new random one)" };
        var siloPort = new Option<int>("--silo-port") { Description = "Port nodes talk to each other on", DefaultValueFactory = _ => 11111 };
        var gatewayPort = new Option<int>("--gateway-port") { Description = "Port clients reach a node on", DefaultValueFactory = _ => 30000 };
        var probe = new Option<double>("--probe-timeout") { Description = "Seconds a node waits for a probe answer (Orleans' default 5; 3 missed probes declare a node dead)", DefaultValueFactory = _ => 5 };
        var lease = new Option<double>("--lease") { Description = "Seconds a worker holds a datum without renewing before another may take it", DefaultValueFactory = _ => 30 };
        var init = new Command(
            "init",
            "Create the cluster's schema (metadata and Orleans membership) in PostgreSQL and write the cluster file. "
            + "Running it again on the same database brings the schema up to date and keeps the data.\n\n"
            + "Example:\n  reel cluster init --db postgresql://reel:secret@10.0.0.5/reel --objects 's3://reel?endpoint=http://10.0.0.5:9000' -o cluster.json")
        {
            db, objects, output, clusterId, siloPort, gatewayPort, probe, lease,
        };
        init.SetAction(async (result, cancellationToken) =>
        {
            ClusterFile file;
            try
            {
                file = new ClusterFile
                {
                    Database = result.GetRequiredValue(db),
                    Objects = NormalizeObjects(result.GetRequiredValue(objects)),
                    ClusterId = result.GetValue(clusterId) ?? ClusterFile.NewClusterId(),
                    SiloPort = result.GetValue(siloPort),
                    GatewayPort = result.GetValue(gatewayPort),
                    ProbeTimeoutSeconds = result.GetValue(probe),
                    LeaseSeconds = result.GetValue(lease),
                };
                file.Validate();
            }
            catch (ClusterException e)
            {
                await Console.Error.WriteLineAsync($"reel cluster init: {e.Message}");
                return ExitCodes.Usage;
            }
            try
            {
                await ClusterSetup.InitAsync(file, cancellationToken);
            }
            catch (Exception e) when (e is ClusterException or NpgsqlException)
            {
                await Console.Error.WriteLineAsync($"reel cluster init: {ClusterSetup.Describe(e)}");
                return ExitCodes.InputFailed;
            }
            var path = result.GetValue(output)!;
            file.Save(path);
            await Console.Out.WriteLineAsync($"cluster {file.ClusterId}: schema ready; cluster file {Path.GetFullPath(path)}");
            await Console.Out.WriteLineAsync($"start a node on each machine with: reel node join {path} --advertise <its IP>");
            return ExitCodes.Ok;
        });
        return new Command("cluster", "Set up a cluster of machines (PostgreSQL for metadata and membership, S3 or a shared directory for objects).")
        {
            init,
        };
    }

    /// <summary>A directory becomes absolute (nodes and commands run in other directories); URLs stay as given.</summary>
    private static string NormalizeObjects(string objects) =>
        objects.Contains("://", StringComparison.Ordinal) ? objects : Path.GetFullPath(objects);
}
