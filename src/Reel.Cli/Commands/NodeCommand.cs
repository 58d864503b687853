using System.CommandLine;
using System.Net;
using System.Net.Sockets;
using Npgsql;
using Reel.Cluster;
using Reel.Cluster.Membership;
using Reel.Data;
using Reel.Pipelines.Jobs;
using static Reel.Cli.Commands.DataCommandSupport;

namespace Reel.Cli.Commands;

/// <summary><c>reel node join|list</c>: the machines of a cluster.</summary>
internal static class NodeCommand
{
    public static Command Create() => new(
        "node",
        "The nodes of a cluster: each one a silo and a worker pool, started with 'reel node join'.\n\n"
        + "Examples:\n"
        + "  reel node join cluster.json --advertise 10.0.0.7 --slots 8\n"
        + "  reel node list --cluster cluster.json")
    {
        JoinVerb(), ListVerb(),
    };

    private static Command JoinVerb()
    {
        var cluster = new Argument<string>("CLUSTER") { Description = "Cluster file written by 'reel cluster init'" };
        var advertise = new Option<string?>("--advertise") { Description = "IP address the other nodes reach this one at (default: this machine's first non-loopback IPv4)" };
        var slots = new Option<int>("--slots") { Description = "Datums run at once on this node (default: number of cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var data = new Option<string?>("--data") { Description = "This node's own directory: scratch, logs, object cache (default: ~/.reel/node-CLUSTERID)" };
        var siloPort = new Option<int?>("--silo-port") { Description = "Silo port, when not the cluster file's (several nodes on one address)" };
        var gatewayPort = new Option<int?>("--gateway-port") { Description = "Gateway port, when not the cluster file's" };
        var metricsPort = new Option<int?>("--metrics-port") { Description = "Serve Prometheus metrics on this port at /metrics (Reel's datums, failures, lease lapses, queue depth, and Orleans' meters)" };
        var command = new Command(
            "join",
            "Start a node of the cluster on this machine, in the foreground: it joins the membership, takes datums with its free "
            + "slots, and stops on SIGTERM or Ctrl-C, giving its datums back at once.")
        {
            cluster, advertise, slots, data, siloPort, gatewayPort, metricsPort,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            ClusterFile file;
            NodeOptions node;
            try
            {
                file = ClusterFile.Load(result.GetRequiredValue(cluster));
                var address = result.GetValue(advertise) is { } given ? ParseAddress(given) : IPAddress.Parse(PipelineStore.ThisMachine().Address);
                if (result.GetValue(slots) < 1)
                {
                    throw new ClusterException("--slots must be at least 1");
                }
                node = new NodeOptions
                {
                    Advertise = address,
                    Slots = result.GetValue(slots),
                    DataDirectory = Path.GetFullPath(result.GetValue(data) ?? Path.Combine(DataStore.ResolveDirectory(null), "node-" + file.ClusterId)),
                    SiloPort = result.GetValue(siloPort),
                    GatewayPort = result.GetValue(gatewayPort),
                    MetricsPort = result.GetValue(metricsPort),
                };
            }
            catch (ClusterException e)
            {
                await Console.Error.WriteLineAsync($"reel node join: {e.Message}");
                return ExitCodes.Usage;
            }
            try
            {
                await using var database = await ClusterStores.OpenEngineDatabaseAsync(file, node.DataDirectory, cancellationToken);
                await Node.RunAsync(file, node, database, cancellationToken);
                return ExitCodes.Ok;
            }
            catch (Exception e) when (e is ClusterException or NpgsqlException)
            {
                await Console.Error.WriteLineAsync($"reel node join: {ClusterSetup.Describe(e)}");
                return ExitCodes.InputFailed;
            }
            catch (Exception e) when (e is SocketException or Orleans.Runtime.OrleansException)
            {
                await Console.Error.WriteLineAsync($"reel node join: the node could not start: {e.Message.Split('\n')[0]}");
                return ExitCodes.InputFailed;
            }
        });
        return command;
    }

    private static IPAddress ParseAddress(string text) =>
        IPAddress.TryParse(text, out var address) && !address.Equals(IPAddress.Any) && !address.Equals(IPAddress.IPv6Any)
            ? address
            : throw new ClusterException($"--advertise '{text}' is not an IP address (a host name is not accepted: several nodes may share one)");

    private static Command ListVerb()
    {
        var json = JsonOption();
        var command = new Command("list", "List the cluster's nodes: address, status, slots, datums running, done and failed, last seen.") { json };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (ClusterSupport.Path(result) is not { } path)
            {
                await Console.Error.WriteLineAsync($"reel node list: no cluster: give --cluster FILE or set ${ClusterFile.Variable}");
                return ExitCodes.Usage;
            }
            try
            {
                var file = ClusterFile.Load(path);
                var nodes = await ClusterStores.ListNodesAsync(file, ClusterSupport.LocalDirectory(file), cancellationToken);
                if (result.GetValue(json))
                {
                    await WriteJsonAsync<IReadOnlyList<NodeView>>(nodes, ClusterJson.Default.IReadOnlyListNodeView);
                    return ExitCodes.Ok;
                }
                await WriteTableAsync(
                    ["ADDRESS", "STATUS", "SLOTS", "RUNNING", "DONE", "FAILED", "LAST SEEN"],
                    nodes.Select(n => (IReadOnlyList<string>)[
                        n.Address, n.Status, n.Slots is { } s ? Number(s) : "-", n.Running is { } r ? Number(r) : "-",
                        n.Done is { } d ? Number(d) : "-", n.Failed is { } f ? Number(f) : "-", Time(n.LastSeen)]));
                return ExitCodes.Ok;
            }
            catch (Exception e) when (e is ClusterException or NpgsqlException)
            {
                await Console.Error.WriteLineAsync($"reel node list: {ClusterSetup.Describe(e)}");
                return e is ClusterException ? ExitCodes.Usage : ExitCodes.InputFailed;
            }
        });
        return command;
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<NodeView>))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(
    WriteIndented = true, PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never)]
internal sealed partial class ClusterJson : System.Text.Json.Serialization.JsonSerializerContext;
