using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Reel.Server.Security;
using Reel.Testing;

namespace Reel.Server.Tests;

/// <summary>
/// Who may change what: every attempt without the server's key (none, wrong, another length, a cross-site content type,
/// a rebinding Host) is refused with its status, and the data directory and database are exactly as before.
/// </summary>
public sealed class SecurityTests
{
    private const string OwnSpec = """
        {"pipeline": {"name": "owned"}, "input": {"pfs": {"repo": "videos", "glob": "/*"}},
         "transform": {"cmd": ["sh", "-c", "id > owned.txt"]}}
        """;

    [Fact]
    public async Task KeylessRequests_CannotChangeDataOrRunCommands_AndNothingChanges()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);
        await SeedAsync(server);
        var before = await SnapshotAsync(server);
        var key = server.Key!;
        var wrongKeys = new[]
        {
            null, "", "wrong", key[..^1], key + "0", new string('0', key.Length), Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)), key.ToUpperInvariant(),
        };

        foreach (var attempt in wrongKeys)
        {
            using var client = new HttpClient { BaseAddress = new Uri(server.Url) };
            if (attempt is not null)
            {
                client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", attempt);
            }
            foreach (var request in ChangingRequests())
            {
                using var response = await client.SendAsync(request);
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{request.Method} {request.RequestUri} with key '{attempt}': {response.StatusCode}");
                Assert.Contains("needs the server's key", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString(), StringComparison.Ordinal);
            }
        }

        Assert.Equal(before, await SnapshotAsync(server));
        Assert.Empty(Directory.EnumerateFiles(server.DataDirectory, "owned.txt", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task SeedClient_WithoutAKey_StillStartsAndReadsAnalyses_ButCannotDeleteThem()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: true);
        var body = $$"""{"videoURL": "{{server.FilesUrl}}/videos/small.ogv", "modelsToRun": ["color_detection"], "frameStep": 30}""";

        using var start = await server.Anonymous.PostAsync("/analysis/start", new StringContent(body, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.Created, start.StatusCode);
        var statusUrl = (await start.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status_url").GetString()!;
        Assert.Equal("Completed", (await server.WaitAsync(statusUrl)).GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await server.Anonymous.GetAsync(statusUrl + "/results")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Anonymous.GetAsync(statusUrl + "/frame/30")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Anonymous.DeleteAsync(statusUrl)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Anonymous.GetAsync(statusUrl)).StatusCode);
    }

    [Fact]
    public async Task CrossSiteContentTypes_Are415_EvenWithTheKey_AndNothingChanges()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: true);
        await SeedAsync(server);
        var before = await SnapshotAsync(server);
        var start = $$"""{"videoURL": "{{server.FilesUrl}}/videos/small.ogv", "modelsToRun": ["color_detection"]}""";
        var bodies = new Func<HttpContent>[]
        {
            () => new StringContent(OwnSpec, Encoding.UTF8, "text/plain"),
            () => new FormUrlEncodedContent([new("spec", OwnSpec)]),
            () => new MultipartFormDataContent { { new StringContent(OwnSpec), "spec" } },
            () => new ByteArrayContent(Encoding.UTF8.GetBytes(OwnSpec)),
        };

        foreach (var body in bodies)
        {
            foreach (var (method, path) in new[]
            {
                (HttpMethod.Post, "/api/v1/pipelines"), (HttpMethod.Post, "/api/v1/repos"), (HttpMethod.Put, "/api/v1/repos/videos/branches/master/files/a.txt"),
                (HttpMethod.Post, "/analysis/start"), (HttpMethod.Post, "/analysis/rtmp-endpoint"), (HttpMethod.Post, "/api/v1/analyses?models=color_detection"),
            })
            {
                var content = body();
                using var request = new HttpRequestMessage(method, path) { Content = path == "/analysis/start" && content is StringContent ? new StringContent(start, Encoding.UTF8, "text/plain") : content };
                using var response = await server.Client.SendAsync(request);
                Assert.True(response.StatusCode == HttpStatusCode.UnsupportedMediaType, $"{method} {path} {content.Headers.ContentType}: {response.StatusCode}");
            }
        }

        Assert.Equal(before, await SnapshotAsync(server));
        Assert.Equal(0, (await server.Client.GetFromJsonAsync<JsonElement>("/api/v1/analyses")).GetArrayLength());
        Assert.False(Directory.Exists(Path.Combine(server.DataDirectory, "analyses")));
    }

    [Theory]
    [InlineData("evil.example")]
    [InlineData("rebind.attacker.test:8000")]
    [InlineData("localhost.evil.example")]
    public async Task DnsRebindingHosts_Are403_AndNothingChanges(string host)
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);
        await SeedAsync(server);
        var before = await SnapshotAsync(server);

        foreach (var request in ChangingRequests().Append(new HttpRequestMessage(HttpMethod.Get, "/api/v1/repos/videos/branches/master/files/a.txt")))
        {
            request.Headers.Host = host;
            using var response = await server.Client.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.Forbidden, $"{request.Method} {request.RequestUri} Host {host}: {response.StatusCode}");
        }
        Assert.Equal(before, await SnapshotAsync(server));

        // The names of this machine answer: localhost, IP addresses, and what --allowed-host adds.
        foreach (var allowed in new[] { "localhost", "app.localhost", "127.0.0.1", "[::1]" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/repos") { Headers = { Host = allowed } };
            Assert.Equal(HttpStatusCode.OK, (await server.Client.SendAsync(request)).StatusCode);
        }
    }

    [Fact]
    public async Task AllowedHost_IsAnswered()
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowedHosts = ["reel.internal"] });
        using var allowed = new HttpRequestMessage(HttpMethod.Get, "/api/v1/repos") { Headers = { Host = "reel.internal" } };
        Assert.Equal(HttpStatusCode.OK, (await server.Client.SendAsync(allowed)).StatusCode);
        using var other = new HttpRequestMessage(HttpMethod.Get, "/api/v1/repos") { Headers = { Host = "other.internal" } };
        Assert.Equal(HttpStatusCode.Forbidden, (await server.Client.SendAsync(other)).StatusCode);
    }

    [Fact]
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    public async Task GeneratedKey_IsStoredOwnerOnly_AndKeptAcrossStarts()
    {
        string directory;
        string key;
        await using (var server = await TestServer.StartAsync(allowPrivateUrls: false))
        {
            directory = server.DataDirectory;
            key = server.Key!;
            var path = ServerKey.PathIn(directory);
            Assert.Matches("^[0-9a-f]{64}$", key);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            var access = (ServerAccess)server.Services.GetService(typeof(ServerAccess))!;
            Assert.True(access.KeyCreated);
            Assert.Equal(path, access.KeyFile);

            // A second start on the same data directory uses the same key, and tightens a loosened file.
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);
            var (again, created) = ServerKey.LoadOrCreate(directory);
            Assert.Equal(key, again);
            Assert.False(created);
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }

    [Fact]
    public async Task NoAuth_IsRefusedUnlessEveryAddressIsLoopback()
    {
        var data = Path.Combine(TestMedia.TempDirectory(), "data");
        try
        {
            foreach (var urls in new[] { new[] { "http://0.0.0.0:0" }, ["http://127.0.0.1:0", "http://[::]:0"], ["http://*:0"] })
            {
                var e = await Assert.ThrowsAsync<ArgumentException>(() => ReelServer.BuildAsync(
                    new ServerOptions { DataDirectory = data, Urls = urls, NoAuth = true }, CancellationToken.None));
                Assert.StartsWith("--no-auth is only for a server bound to loopback addresses", e.Message, StringComparison.Ordinal);
            }
            Assert.False(File.Exists(ServerKey.PathIn(data)));
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(data)!, recursive: true);
        }

        await using var server = await TestServer.StartAsync(o => o with { NoAuth = true });
        Assert.Null(server.Key);
        Assert.Equal(HttpStatusCode.Created, (await server.Anonymous.PostAsJsonAsync("/api/v1/repos", new { name = "open" })).StatusCode);
    }

    [Fact]
    public async Task DashboardSignIn_SetsAnHttpOnlyStrictCookie_ThatCarriesTheKey()
    {
        await using var server = await TestServer.StartAsync(allowPrivateUrls: false);
        var session = await server.Anonymous.GetFromJsonAsync<JsonElement>("/api/v1/session");
        Assert.True(session.GetProperty("keyRequired").GetBoolean());
        Assert.False(session.GetProperty("signedIn").GetBoolean());

        using (var wrong = await server.Anonymous.PostAsJsonAsync("/api/v1/session", new { key = "guess" }))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            Assert.False(wrong.Headers.Contains("Set-Cookie"));
        }
        using var right = await server.Anonymous.PostAsJsonAsync("/api/v1/session", new { key = server.Key });
        Assert.Equal(HttpStatusCode.NoContent, right.StatusCode);
        var cookie = Assert.Single(right.Headers.GetValues("Set-Cookie"));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);

        using var signedIn = new HttpClient { BaseAddress = new Uri(server.Url) };
        signedIn.DefaultRequestHeaders.Add("Cookie", cookie.Split(';')[0]);
        Assert.True((await signedIn.GetFromJsonAsync<JsonElement>("/api/v1/session")).GetProperty("signedIn").GetBoolean());
        Assert.Equal(HttpStatusCode.Created, (await signedIn.PostAsJsonAsync("/api/v1/repos", new { name = "mine" })).StatusCode);
        using var forged = new HttpClient { BaseAddress = new Uri(server.Url) };
        forged.DefaultRequestHeaders.Add("Cookie", $"{ServerAccess.CookieName}=guess");
        Assert.Equal(HttpStatusCode.Unauthorized, (await forged.PostAsJsonAsync("/api/v1/repos", new { name = "theirs" })).StatusCode);
    }

    [Fact]
    public async Task TokenForReads_ClosesReads_ButNotTheDashboardPage()
    {
        await using var server = await TestServer.StartAsync(o => o with { OpenReads = false });
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Anonymous.GetAsync("/api/v1/repos")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Anonymous.GetAsync("/analysis/videos")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Anonymous.GetAsync("/")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/api/v1/repos")).StatusCode);
    }

    /// <summary>A repo with one file, made with the key.</summary>
    internal static async Task SeedAsync(TestServer server)
    {
        Assert.Equal(HttpStatusCode.Created, (await server.Client.PostAsJsonAsync("/api/v1/repos", new { name = "videos" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await server.Client.PutAsync("/api/v1/repos/videos/branches/master/files/a.txt", RestApiTests.Binary("original"))).StatusCode);
    }

    /// <summary>Every request that would change data or run a command, each with a content type the server accepts.</summary>
    private static IEnumerable<HttpRequestMessage> ChangingRequests()
    {
        yield return new HttpRequestMessage(HttpMethod.Post, "/api/v1/pipelines") { Content = new StringContent(OwnSpec, Encoding.UTF8, "application/json") };
        yield return new HttpRequestMessage(HttpMethod.Post, "/api/v1/pipelines?update=true") { Content = new StringContent(OwnSpec, Encoding.UTF8, "application/yaml") };
        yield return new HttpRequestMessage(HttpMethod.Post, "/api/v1/repos") { Content = JsonContent.Create(new { name = "intruder" }) };
        yield return new HttpRequestMessage(HttpMethod.Put, "/api/v1/repos/videos/branches/master/files/a.txt") { Content = RestApiTests.Binary("changed") };
        yield return new HttpRequestMessage(HttpMethod.Put, "/api/v1/repos/videos/branches/master/files/b.txt") { Content = RestApiTests.Binary("added") };
        yield return new HttpRequestMessage(HttpMethod.Delete, "/api/v1/repos/videos/branches/master/files/a.txt");
        yield return new HttpRequestMessage(HttpMethod.Delete, "/api/v1/repos/videos?force=true");
        yield return new HttpRequestMessage(HttpMethod.Delete, "/api/v1/pipelines/owned");
        yield return new HttpRequestMessage(HttpMethod.Post, "/api/v1/jobs/abcdef12/stop");
        yield return new HttpRequestMessage(HttpMethod.Delete, $"/analysis/{Guid.NewGuid()}");
    }

    /// <summary>What the server holds: repos, commits, pipelines and jobs through the API, and every stored file with its hash.</summary>
    internal static async Task<string> SnapshotAsync(TestServer server)
    {
        var text = new StringBuilder();
        text.AppendLine((await server.Client.GetStringAsync("/api/v1/repos")));
        text.AppendLine(await server.Client.GetStringAsync("/api/v1/repos/videos/branches/master/commits"));
        text.AppendLine(await server.Client.GetStringAsync("/api/v1/repos/videos/branches/master/files"));
        text.AppendLine(await server.Client.GetStringAsync("/api/v1/pipelines"));
        text.AppendLine(await server.Client.GetStringAsync("/api/v1/jobs"));
        text.AppendLine(await server.Client.GetStringAsync("/api/v1/analyses"));
        foreach (var file in Directory.EnumerateFiles(server.DataDirectory, "*", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith("-wal", StringComparison.Ordinal) && !f.EndsWith("-shm", StringComparison.Ordinal) && !f.EndsWith(".db", StringComparison.Ordinal))
            // The running engine's lock: held open, not data.
            .Where(f => Path.GetFileName(f) != "engine.lock")
            .Order(StringComparer.Ordinal))
        {
            text.AppendLine($"{Path.GetRelativePath(server.DataDirectory, file)} {Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)))}");
        }
        return text.ToString();
    }
}
