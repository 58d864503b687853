using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Reel.Server.Tests;

/// <summary>The /api/v1 REST API: repos, streamed files, commits, pipelines; bad requests change nothing.</summary>
public sealed class RestApiTests
{
    [Fact]
    public async Task Files_UploadAndDownloadAsStreams_ListCommitAndDelete()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);
        var client = server.Client;
        Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("/api/v1/repos", new { name = "videos" })).StatusCode);
        var content = RandomNumberGenerator.GetBytes(5 << 20);

        using (var put = await client.PutAsync("/api/v1/repos/videos/branches/master/files/clips/a.bin", new StreamContent(new MemoryStream(content)) { Headers = { ContentType = new("application/octet-stream") } }))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }
        Assert.Equal(content, await client.GetByteArrayAsync("/api/v1/repos/videos/branches/master/files/clips/a.bin"));
        var listing = await client.GetFromJsonAsync<JsonElement>("/api/v1/repos/videos/branches/master/files/clips");
        Assert.Equal("/clips/a.bin", Assert.Single(listing.EnumerateArray().ToList()).GetProperty("path").GetString());
        var root = await client.GetFromJsonAsync<JsonElement>("/api/v1/repos/videos/branches/master/files");
        Assert.Equal(1, root.GetArrayLength());

        Assert.Equal(HttpStatusCode.OK, (await client.DeleteAsync("/api/v1/repos/videos/branches/master/files/clips/a.bin")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/v1/repos/videos/branches/master/files/clips/a.bin")).StatusCode);
        var commits = await client.GetFromJsonAsync<JsonElement>("/api/v1/repos/videos/branches/master/commits");
        Assert.Equal(2, commits.GetArrayLength());
    }

    [Fact]
    public async Task Pipelines_CreateFromASpec_ListInspectDelete()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);
        var client = server.Client;
        await client.PostAsJsonAsync("/api/v1/repos", new { name = "videos" });
        var spec = await File.ReadAllTextAsync(Reel.Testing.TestMedia.Fixture("pachyderm-frames.json"));

        using (var created = await client.PostAsync("/api/v1/pipelines", new StringContent(spec, Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }
        var pipelines = await client.GetFromJsonAsync<JsonElement>("/api/v1/pipelines");
        Assert.Equal("frames", Assert.Single(pipelines.EnumerateArray().ToList()).GetProperty("name").GetString());
        Assert.Equal(["videos@master:/*"], (await client.GetFromJsonAsync<JsonElement>("/api/v1/pipelines/frames")).GetProperty("inputs").EnumerateArray().Select(i => i.GetString()));
        Assert.Equal(0, (await client.GetFromJsonAsync<JsonElement>("/api/v1/jobs")).GetArrayLength());
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync("/api/v1/pipelines/frames")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/v1/pipelines/frames")).StatusCode);
    }

    [Fact]
    public async Task BadRequests_GetTheirStatus_AndNothingChanges()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);
        var client = server.Client;
        await client.PostAsJsonAsync("/api/v1/repos", new { name = "videos" });
        await client.PutAsync("/api/v1/repos/videos/branches/master/files/a.txt", Binary("a"));

        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/api/v1/repos", new StringContent("{", Encoding.UTF8, "application/json"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("/api/v1/repos", new { name = 5 })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("/api/v1/repos", new { name = "../x" })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsJsonAsync("/api/v1/repos", new { name = "videos" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/v1/repos/nothing")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/v1/repos/videos/branches/master/files/missing")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/api/v1/pipelines", new StringContent("pipeline: {name: p}", Encoding.UTF8, "text/yaml"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/v1/jobs/zz")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/v1/jobs/abcdef12")).StatusCode);
        // Paths that climb out of the repo are refused, however they are spelled.
        foreach (var path in new[] { "..%2F..%2Fetc%2Fpasswd", "a/..%2F..%2F..%2Fx", "%2E%2E/%2E%2E/x" })
        {
            using var put = await client.PutAsync($"/api/v1/repos/videos/branches/master/files/{path}", Binary("evil"));
            Assert.True((int)put.StatusCode is 400 or 404, $"{path}: {put.StatusCode}");
        }

        var commits = await client.GetFromJsonAsync<JsonElement>("/api/v1/repos/videos/branches/master/commits");
        Assert.Equal(1, commits.GetArrayLength());
        Assert.Equal("a", await client.GetStringAsync("/api/v1/repos/videos/branches/master/files/a.txt"));
        Assert.Equal(1, (await client.GetFromJsonAsync<JsonElement>("/api/v1/repos")).GetArrayLength());
    }

    internal static ByteArrayContent Binary(string text)
    {
        var content = new ByteArrayContent(Encoding.UTF8.GetBytes(text));
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/octet-stream");
        return content;
    }
}

/// <summary>GET of a stored file checks it against its hash, as <c>reel get</c> does.</summary>
public sealed class StoredFileCheckTests
{
    [Fact]
    public async Task DamagedObject_IsNeverServedAsTheFile()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);
        Assert.Equal(HttpStatusCode.Created, (await server.Client.PostAsJsonAsync("/api/v1/repos", new { name = "videos" })).StatusCode);
        var content = RandomNumberGenerator.GetBytes(300_000);
        using (var put = await server.Client.PutAsync("/api/v1/repos/videos/branches/master/files/a.bin", new ByteArrayContent(content) { Headers = { ContentType = new("application/octet-stream") } }))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }
        var hash = Convert.ToHexStringLower(SHA256.HashData(content));
        var stored = Path.Combine(server.DataDirectory, "objects", hash[..2], hash[2..]);
        Assert.Equal(content, await server.Client.GetByteArrayAsync("/api/v1/repos/videos/branches/master/files/a.bin"));

        // Same size, one byte changed (as a command writing to a hard-linked input would do): the download fails.
        var damaged = (byte[])content.Clone();
        damaged[^1] ^= 0xff;
        File.SetAttributes(stored, FileAttributes.Normal);
        await File.WriteAllBytesAsync(stored, damaged);
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => server.Client.GetByteArrayAsync("/api/v1/repos/videos/branches/master/files/a.bin"));

        // Another size: refused before anything is sent.
        await File.WriteAllBytesAsync(stored, content[..1000]);
        using var response = await server.Client.GetAsync("/api/v1/repos/videos/branches/master/files/a.bin");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains("is damaged", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
    }
}
