using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Reel.Data;
using Reel.Data.Metadata;

namespace Reel.Cluster;

/// <summary>
/// What every node and command of one cluster shares, written by <c>reel cluster init</c> and read by
/// <c>reel node join</c> and every verb given <c>--cluster FILE</c> (or <c>$REEL_CLUSTER</c>): where the metadata and
/// membership live (a PostgreSQL URL), where objects live (<c>s3://bucket?endpoint=…</c> or a shared directory), the
/// cluster's id, and the ports every node uses.
/// </summary>
public sealed record ClusterFile
{
    /// <summary>The environment variable that names a cluster file when <c>--cluster</c> is not given.</summary>
    public const string Variable = "REEL_CLUSTER";

    /// <summary>PostgreSQL URL: <c>postgresql://user[:password]@host[:port]/database</c>.</summary>
    public required string Database { get; init; }

    /// <summary><c>s3://bucket?endpoint=URL</c>, or the absolute path of a directory every node mounts at the same place.</summary>
    public required string Objects { get; init; }

    /// <summary>Orleans' cluster id: the membership rows of this cluster.</summary>
    public required string ClusterId { get; init; }

    /// <summary>Port silos talk to each other on.</summary>
    public int SiloPort { get; init; } = 11111;

    /// <summary>Port clients (commands) reach a silo on.</summary>
    public int GatewayPort { get; init; } = 30000;

    /// <summary>How long a node waits for a probe answer before it counts as missed (Orleans' default 5 s).</summary>
    public double ProbeTimeoutSeconds { get; init; } = 5;

    /// <summary>How long a worker holds a datum without renewing before another may take it.</summary>
    public double LeaseSeconds { get; init; } = 30;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static ClusterFile Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ClusterException($"cluster file {path}: {e.Message}", e);
        }
        ClusterFile? file;
        try
        {
            file = JsonSerializer.Deserialize<ClusterFile>(text, Json);
        }
        catch (JsonException e)
        {
            throw new ClusterException($"cluster file {path}: not a cluster file ({e.Message})", e);
        }
        if (file is null)
        {
            throw new ClusterException($"cluster file {path}: empty");
        }
        try
        {
            file.Validate();
        }
        catch (ClusterException e)
        {
            throw new ClusterException($"cluster file {path}: {e.Message}", e);
        }
        return file;
    }

    public void Save(string path)
    {
        Validate();
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(directory);
        var temporary = Path.Combine(directory, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp");
        File.WriteAllText(temporary, JsonSerializer.Serialize(this, Json) + "\n");
        // The file names the database password, when there is one: readable by this user only.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temporary, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Checks every setting.</summary>
    /// <exception cref="ClusterException">One is out of range.</exception>
    public void Validate()
    {
        _ = ConnectionString(Database);
        if (string.IsNullOrWhiteSpace(Objects))
        {
            throw new ClusterException("no object store");
        }
        if (string.IsNullOrWhiteSpace(ClusterId) || ClusterId.Length > 150)
        {
            throw new ClusterException("clusterId must be 1 to 150 characters");
        }
        foreach (var (name, port) in new[] { ("siloPort", SiloPort), ("gatewayPort", GatewayPort) })
        {
            if (port is < 1 or > 65535)
            {
                throw new ClusterException($"{name} {port} is not a port");
            }
        }
        if (SiloPort == GatewayPort)
        {
            throw new ClusterException("siloPort and gatewayPort must differ");
        }
        if (ProbeTimeoutSeconds is < 0.5 or > 60 || LeaseSeconds is < 1 or > 3600)
        {
            throw new ClusterException("probeTimeoutSeconds must be 0.5 to 60 and leaseSeconds 1 to 3600");
        }
    }

    /// <summary>The Npgsql connection string of a <c>postgresql://</c> (or <c>postgres://</c>) URL, read as the metadata store reads it.</summary>
    /// <exception cref="ClusterException">Not such a URL.</exception>
    public static string ConnectionString(string url)
    {
        try
        {
            return PostgresMetadataDatabase.ParseUrl(url).ConnectionString;
        }
        catch (DataException e)
        {
            throw new ClusterException(e.Message, e);
        }
    }

    /// <summary>A new cluster id: readable and unique enough that two clusters sharing a database never mix.</summary>
    public static string NewClusterId() =>
        "reel-" + Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(4)).ToLower(CultureInfo.InvariantCulture);
}
