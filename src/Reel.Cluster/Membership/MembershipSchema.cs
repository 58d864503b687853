using Npgsql;

namespace Reel.Cluster.Membership;

/// <summary>
/// Orleans membership in the cluster's PostgreSQL, for <c>Microsoft.Orleans.Clustering.AdoNet</c> 10.4 with the
/// "Npgsql" invariant. The package ships no SQL: these are Reel's own tables, and the queries the provider reads by key
/// from <c>OrleansQuery</c> (its parameters and result columns are named by the provider: <c>@DeploymentId</c>,
/// <c>@Address</c>, <c>@Port</c>, <c>@Generation</c>, … in; <c>Version</c>, <c>Address</c>, <c>Port</c>, … out).
/// Rows carry the table version as their etag, so every change to a member is a compare-and-swap on the version row.
/// </summary>
public static class MembershipSchema
{
    /// <summary>Tables and functions; idempotent, so <c>reel cluster init</c> may run again on an existing cluster.</summary>
    private const string Tables = """
        CREATE TABLE IF NOT EXISTS OrleansQuery (
            QueryKey varchar(64) PRIMARY KEY,
            QueryText text NOT NULL);
        CREATE TABLE IF NOT EXISTS OrleansMembershipVersionTable (
            DeploymentId varchar(150) PRIMARY KEY,
            Timestamp timestamptz NOT NULL DEFAULT now(),
            Version integer NOT NULL DEFAULT 0);
        CREATE TABLE IF NOT EXISTS OrleansMembershipTable (
            DeploymentId varchar(150) NOT NULL REFERENCES OrleansMembershipVersionTable (DeploymentId),
            Address varchar(45) NOT NULL,
            Port integer NOT NULL,
            Generation integer NOT NULL,
            SiloName varchar(150) NOT NULL,
            HostName varchar(150) NOT NULL,
            Status integer NOT NULL,
            ProxyPort integer,
            SuspectTimes text,
            StartTime timestamptz NOT NULL,
            IAmAliveTime timestamptz NOT NULL,
            PRIMARY KEY (DeploymentId, Address, Port, Generation));

        -- Adds a member if the table is still at the version the caller read; false (nothing changed) otherwise.
        CREATE OR REPLACE FUNCTION reel_membership_insert(
            p_deployment text, p_expected integer, p_address text, p_port integer, p_generation integer, p_silo_name text, p_host_name text,
            p_status integer, p_proxy_port integer, p_start_time timestamptz, p_alive timestamptz) RETURNS boolean AS $$
        BEGIN
            UPDATE OrleansMembershipVersionTable SET Version = Version + 1, Timestamp = now()
                WHERE DeploymentId = p_deployment AND Version = p_expected;
            IF NOT FOUND THEN
                RETURN false;
            END IF;
            INSERT INTO OrleansMembershipTable (DeploymentId, Address, Port, Generation, SiloName, HostName, Status, ProxyPort, StartTime, IAmAliveTime)
                VALUES (p_deployment, p_address, p_port, p_generation, p_silo_name, p_host_name, p_status, p_proxy_port, p_start_time, p_alive);
            RETURN true;
        EXCEPTION WHEN unique_violation THEN
            -- The block's changes, the version bump included, are rolled back.
            RETURN false;
        END $$ LANGUAGE plpgsql;

        -- Changes a member if the table is still at the version the caller read; false (nothing changed) otherwise.
        CREATE OR REPLACE FUNCTION reel_membership_update(
            p_deployment text, p_expected integer, p_address text, p_port integer, p_generation integer,
            p_status integer, p_suspect_times text, p_alive timestamptz) RETURNS boolean AS $$
        BEGIN
            UPDATE OrleansMembershipVersionTable SET Version = Version + 1, Timestamp = now()
                WHERE DeploymentId = p_deployment AND Version = p_expected;
            IF NOT FOUND THEN
                RETURN false;
            END IF;
            UPDATE OrleansMembershipTable SET Status = p_status, SuspectTimes = p_suspect_times, IAmAliveTime = p_alive
                WHERE DeploymentId = p_deployment AND Address = p_address AND Port = p_port AND Generation = p_generation;
            IF NOT FOUND THEN
                RAISE EXCEPTION USING ERRCODE = 'no_data_found';
            END IF;
            RETURN true;
        EXCEPTION WHEN no_data_found THEN
            RETURN false;
        END $$ LANGUAGE plpgsql;
        """;

    /// <summary>The columns every membership read returns: the version row, joined with the members (none: one row of nulls).</summary>
    private const string MemberColumns = """
        SELECT v.Version, m.Address, m.Port, m.Generation, m.SiloName, m.HostName, m.Status, m.ProxyPort, m.SuspectTimes, m.StartTime, m.IAmAliveTime
        FROM OrleansMembershipVersionTable v
        LEFT OUTER JOIN OrleansMembershipTable m ON m.DeploymentId = v.DeploymentId
        """;

    /// <summary>Every query key the provider of this version reads, with Reel's query for it.</summary>
    public static IReadOnlyDictionary<string, string> Queries { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        // Gateways (silos clients may connect to): active members with a gateway port.
        ["GatewaysQueryKey"] = """
            SELECT Address, ProxyPort, Generation FROM OrleansMembershipTable
            WHERE DeploymentId = @DeploymentId AND Status = @Status AND ProxyPort > 0
            """,
        ["MembershipReadRowKey"] = MemberColumns + """

            AND m.Address = @Address AND m.Port = @Port AND m.Generation = @Generation
            WHERE v.DeploymentId = @DeploymentId
            """,
        ["MembershipReadAllKey"] = MemberColumns + """

            WHERE v.DeploymentId = @DeploymentId
            """,
        // One boolean: whether this call created the cluster's version row.
        ["InsertMembershipVersionKey"] = """
            WITH created AS (
                INSERT INTO OrleansMembershipVersionTable (DeploymentId) VALUES (@DeploymentId) ON CONFLICT (DeploymentId) DO NOTHING RETURNING 1)
            SELECT count(*) > 0 FROM created
            """,
        // Heartbeats do not move the table version.
        ["UpdateIAmAlivetimeKey"] = """
            UPDATE OrleansMembershipTable SET IAmAliveTime = @IAmAliveTime
            WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation
            """,
        ["InsertMembershipKey"] = """
            SELECT reel_membership_insert(@DeploymentId, @Version, @Address, @Port, @Generation, @SiloName, @HostName, @Status, @ProxyPort,
                @StartTime, @IAmAliveTime)
            """,
        ["UpdateMembershipKey"] = """
            SELECT reel_membership_update(@DeploymentId, @Version, @Address, @Port, @Generation, @Status, @SuspectTimes, @IAmAliveTime)
            """,
        ["DeleteMembershipTableEntriesKey"] = """
            DELETE FROM OrleansMembershipTable WHERE DeploymentId = @DeploymentId;
            DELETE FROM OrleansMembershipVersionTable WHERE DeploymentId = @DeploymentId
            """,
        // Dead members (status 6) not heard of since the cut-off.
        ["CleanupDefunctSiloEntriesKey"] = """
            DELETE FROM OrleansMembershipTable WHERE DeploymentId = @DeploymentId AND IAmAliveTime < @IAmAliveTime AND Status = 6
            """,
        // One dead member, named by the provider after it checked its times.
        ["CleanupDefunctSiloEntryKey"] = """
            DELETE FROM OrleansMembershipTable
            WHERE DeploymentId = @DeploymentId AND Address = @Address AND Port = @Port AND Generation = @Generation AND Status = 6
            """,
    };

    /// <summary>Creates (or brings up to date) the membership tables and stores every query.</summary>
    public static async Task CreateAsync(NpgsqlDataSource database, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var create = new NpgsqlCommand(Tables, connection, transaction))
        {
            await create.ExecuteNonQueryAsync(cancellationToken);
        }
        foreach (var (key, text) in Queries)
        {
            await using var store = new NpgsqlCommand(
                "INSERT INTO OrleansQuery (QueryKey, QueryText) VALUES (@key, @text) ON CONFLICT (QueryKey) DO UPDATE SET QueryText = EXCLUDED.QueryText",
                connection, transaction);
            store.Parameters.AddWithValue("key", key);
            store.Parameters.AddWithValue("text", text);
            await store.ExecuteNonQueryAsync(cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Checks, before a silo starts, that the database holds every query the provider reads; otherwise the provider
    /// fails later with a message that does not say what to do.
    /// </summary>
    /// <exception cref="ClusterException">The membership tables are missing or lack queries.</exception>
    public static async Task CheckAsync(NpgsqlDataSource database, CancellationToken cancellationToken)
    {
        var present = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            await using var command = database.CreateCommand("SELECT QueryKey FROM OrleansQuery");
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                present.Add(reader.GetString(0));
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            throw new ClusterException("the cluster database has no Orleans membership tables; run 'reel cluster init' first");
        }
        var missing = Queries.Keys.Where(k => !present.Contains(k)).ToList();
        if (missing.Count > 0)
        {
            throw new ClusterException(
                $"the cluster database lacks the Orleans membership queries {string.Join(", ", missing)}; run 'reel cluster init' again to add them");
        }
    }
}
