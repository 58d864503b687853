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
        var node = new NodeArguments();
        var data = new Option<string?>("--data") { Description = "This node's own directory: scratch, logs, object cache (default: ~/.reel/node-CLUSTERID)" };
        var command = new Command(
            "join",
            "Start a node of the cluster on this machine, in the foreground: it joins the membership, takes datums with its free "
            + "slots, and stops on SIGTERM or Ctrl-C, giving its datums back at once.")
        {
            cluster, data,
        };
        node.AddTo(command);
        command.SetAction(async (result, cancellationToken) =>
        {
            ClusterFile file;
            NodeOptions options;
            try
            {
                file = ClusterFile.Load(result.GetRequiredValue(cluster));
                options = node.Parse(result, NodeArguments.Directory(result.GetValue(data), file));
            }
            catch (ClusterException e)
            {
                await Console.Error.WriteLineAsync($"reel node join: {e.Message}");
                return ExitCodes.Usage;
            }
            return await NodeArguments.RunAsync("node join", file, options, cancellationToken);
        });
        return command;
    }

    private static Command ListVerb()
    {
        var json = JsonOption();
        var command = new Command(
            "list", "List the cluster's nodes: address, status, slots, datums running, done and failed, last seen, and what each works on.") { json };
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
                    ["ADDRESS", "STATUS", "SLOTS", "RUNNING", "DONE", "FAILED", "LAST SEEN", "WORKING ON"],
                    nodes.Select(n => (IReadOnlyList<string>)[
                        n.Address, n.Status, n.Slots is { } s ? Number(s) : "-", n.Running is { } r ? Number(r) : "-",
                        n.Done is { } d ? Number(d) : "-", n.Failed is { } f ? Number(f) : "-", Time(n.LastSeen),
                        n.WorkingOn.Count == 0 ? "-" : string.Join("; ", n.WorkingOn)]));
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

/// <summary>
/// The options that make a process a cluster node, and running one: <c>reel node join</c> and <c>reel serve --cluster</c>
/// take them alike.
/// </summary>
internal sealed class NodeArguments
{
    private readonly Option<string?> _advertise = new("--advertise")
    {
        Description = "IP address the other nodes reach this one at (default: this machine's first non-loopback IPv4)",
    };

    private readonly Option<int> _slots = new("--slots")
    {
        Description = "Datums run at once on this node (default: number of cores)", DefaultValueFactory = _ => Environment.ProcessorCount,
    };

    private readonly Option<int?> _siloPort = new("--silo-port") { Description = "Silo port, when not the cluster file's (several nodes on one address)" };
    private readonly Option<int?> _gatewayPort = new("--gateway-port") { Description = "Gateway port, when not the cluster file's" };

    private readonly Option<int?> _metricsPort = new("--metrics-port")
    {
        Description = "Serve Prometheus metrics on this port at /metrics (Reel's datums, failures, lease lapses, queue depth, and Orleans' meters)",
    };

    private IEnumerable<Option> All => [_advertise, _slots, _siloPort, _gatewayPort, _metricsPort];

    public void AddTo(Command command)
    {
        foreach (var option in All)
        {
            command.Options.Add(option);
        }
    }

    /// <summary>The first node option given on the command line, for refusing it where no cluster is; null when none is.</summary>
    public string? FirstGiven(ParseResult result) => All.FirstOrDefault(o => result.GetResult(o) is { Implicit: false })?.Name;

    /// <summary>A node's own directory: <paramref name="given"/>, else <c>node-CLUSTERID</c> in the data directory.</summary>
    public static string Directory(string? given, ClusterFile file) =>
        System.IO.Path.GetFullPath(given ?? System.IO.Path.Combine(DataStore.ResolveDirectory(null), "node-" + file.ClusterId));

    /// <exception cref="ClusterException">An option is out of range (a usage error).</exception>
    public NodeOptions Parse(ParseResult result, string dataDirectory)
    {
        var address = result.GetValue(_advertise) is { } given ? ParseAddress(given) : IPAddress.Parse(PipelineStore.ThisMachine().Address);
        if (result.GetValue(_slots) < 1)
        {
            throw new ClusterException("--slots must be at least 1");
        }
        return new NodeOptions
        {
            Advertise = address,
            Slots = result.GetValue(_slots),
            DataDirectory = dataDirectory,
            SiloPort = result.GetValue(_siloPort),
            GatewayPort = result.GetValue(_gatewayPort),
            MetricsPort = result.GetValue(_metricsPort),
        };
    }

    private static IPAddress ParseAddress(string text) =>
        IPAddress.TryParse(text, out var address) && !address.Equals(IPAddress.Any) && !address.Equals(IPAddress.IPv6Any)
            ? address
            : throw new ClusterException($"--advertise '{text}' is not an IP address (a host name is not accepted: several nodes may share one)");

    /// <summary>Runs the node until <paramref name="cancellationToken"/> fires or it leaves the cluster; a failure is one line on stderr.</summary>
    /// <returns>The exit code: 0 when it stopped normally, 1 when it could not reach the cluster or start.</returns>
    public static async Task<int> RunAsync(string verb, ClusterFile file, NodeOptions node, CancellationToken cancellationToken)
    {
        try
        {
            await using var database = await ClusterStores.OpenEngineDatabaseAsync(file, node.DataDirectory, cancellationToken);
            await Node.RunAsync(file, node, database, cancellationToken);
            return ExitCodes.Ok;
        }
        catch (Exception e) when (e is ClusterException or NpgsqlException)
        {
            await Console.Error.WriteLineAsync($"reel {verb}: {ClusterSetup.Describe(e)}");
            return ExitCodes.InputFailed;
        }
        catch (Exception e) when (e is SocketException or Orleans.Runtime.OrleansException)
        {
            await Console.Error.WriteLineAsync($"reel {verb}: the node could not start: {e.Message.Split('\n')[0]}");
            return ExitCodes.InputFailed;
        }
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(IReadOnlyList<NodeView>))]
[System.Text.Json.Serialization.JsonSourceGenerationOptions(
    WriteIndented = true, PropertyNamingPolicy = System.Text.Json.Serialization.JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.Never)]
internal sealed partial class ClusterJson : System.Text.Json.Serialization.JsonSerializerContext;
