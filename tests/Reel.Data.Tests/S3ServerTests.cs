using System.Net;
using Reel.Testing;

namespace Reel.Data.Tests;

public sealed class S3ServerTests
{
    [Fact]
    public async Task Start_BucketThenDispose_ServesItThenLeavesNoProcessNorDirectory()
    {
        var server = S3Server.Start();
        int pid;
        string directory;
        try
        {
            pid = server.ProcessId;
            directory = server.Directory;
            var bucket = server.CreateBucket();
            using var http = new HttpClient();
            var listing = await http.GetStringAsync(new Uri(server.Endpoint + "/"));
            Assert.Contains($"<Name>{bucket}</Name>", listing, StringComparison.Ordinal);
            Assert.True(Directory.Exists(Path.Combine(directory, bucket)));
        }
        finally
        {
            server.Dispose();
        }
        Assert.False(TestProcesses.IsAlive(pid), $"s3rver (pid {pid}) still runs after Dispose");
        Assert.False(Directory.Exists(directory), $"{directory} still exists after Dispose");
    }

    [Fact]
    public async Task Shared_BoundToEveryAddress_AnswersOnLoopback()
    {
        var server = S3Server.Shared;
        Assert.Equal("0.0.0.0", server.Address);
        using var http = new HttpClient();
        using var response = await http.GetAsync(new Uri(server.EndpointAt("127.0.0.1") + "/"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }
}
