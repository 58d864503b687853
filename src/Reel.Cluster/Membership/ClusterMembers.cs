using Npgsql;

namespace Reel.Cluster.Membership;

/// <summary>A node as the cluster's membership table records it (its newest generation on that address and port).</summary>
public sealed record ClusterMember(string Address, int Port, int Generation, string Status, string HostName, DateTimeOffset Started, DateTimeOffset LastSeen)
{
    /// <summary>The name the node's workers report under (see <see cref="Node.WorkerName"/>).</summary>
    public string Worker => $"{Address}:{Port}";
}

/// <summary>Reads Orleans' membership rows of one cluster, for <c>reel node list</c> and the dashboard.</summary>
public static class ClusterMembers
{
    /// <summary>Orleans' <c>SiloStatus</c> values as stored in the Status column.</summary>
    private static string StatusName(int status) => status switch
    {
        1 => "created",
        2 => "joining",
        3 => "active",
        4 => "shutting down",
        5 => "stopping",
        6 => "dead",
        _ => "unknown",
    };

    public static async Task<IReadOnlyList<ClusterMember>> ListAsync(NpgsqlDataSource database, string clusterId, CancellationToken cancellationToken)
    {
        await using var command = database.CreateCommand("""
            SELECT DISTINCT ON (Address, Port) Address, Port, Generation, Status, HostName, StartTime, IAmAliveTime
            FROM OrleansMembershipTable WHERE DeploymentId = @cluster
            ORDER BY Address, Port, Generation DESC
            """);
        command.Parameters.AddWithValue("cluster", clusterId);
        var members = new List<ClusterMember>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            members.Add(new ClusterMember(
                reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2), StatusName(reader.GetInt32(3)), reader.GetString(4),
                reader.GetFieldValue<DateTimeOffset>(5), reader.GetFieldValue<DateTimeOffset>(6)));
        }
        return members;
    }
}
