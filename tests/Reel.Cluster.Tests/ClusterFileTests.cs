using Npgsql;
using Reel.Cluster;

namespace Reel.Cluster.Tests;

public sealed class ClusterFileTests
{
    [Fact]
    public void ConnectionString_FullUrl_MapsEveryPart()
    {
        var built = new NpgsqlConnectionStringBuilder(ClusterFile.ConnectionString("postgresql://re%40l:p%3Ass@10.1.2.3:6543/meta?Timeout=7"));
        Assert.Equal("10.1.2.3", built.Host);
        Assert.Equal(6543, built.Port);
        Assert.Equal("meta", built.Database);
        Assert.Equal("re@l", built.Username);
        Assert.Equal("p:ss", built.Password);
        Assert.Equal(7, built.Timeout);
    }

    [Theory]
    [InlineData("http://host/db")]
    [InlineData("postgresql://host")]
    [InlineData("postgresql://host/db?NoSuchSetting=1")]
    [InlineData("not a url")]
    public void ConnectionString_BadUrl_RefusedNamingIt(string url)
    {
        var e = Assert.Throws<ClusterException>(() => ClusterFile.ConnectionString(url));
        Assert.Contains(url.Split('?')[0], e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SaveLoad_RoundTrip_KeepsSettingsAndIsPrivate()
    {
        var directory = Directory.CreateTempSubdirectory("reel-cluster-file-").FullName;
        try
        {
            var path = Path.Combine(directory, "cluster.json");
            var file = new ClusterFile
            {
                Database = "postgresql://u:secret@10.0.0.5/reel", Objects = "s3://b?endpoint=http://10.0.0.5:9000", ClusterId = "reel-test",
                SiloPort = 12000, GatewayPort = 12001, ProbeTimeoutSeconds = 1.5, LeaseSeconds = 8,
            };
            file.Save(path);
            Assert.Equal(file, ClusterFile.Load(path));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void Load_SamePorts_RefusedNamingTheFile()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, """{"database":"postgresql://h/d","objects":"/x","clusterId":"c","siloPort":5,"gatewayPort":5}""");
            var e = Assert.Throws<ClusterException>(() => ClusterFile.Load(path));
            Assert.StartsWith($"cluster file {path}: ", e.Message, StringComparison.Ordinal);
            Assert.Contains("differ", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
