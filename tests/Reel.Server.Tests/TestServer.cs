using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Reel.Testing;

namespace Reel.Server.Tests;

/// <summary>A real <c>reel serve</c> server on a free loopback port, and a plain file server for its video URLs.</summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly WebApplication _files;

    private TestServer(WebApplication app, WebApplication files, string dataDirectory)
    {
        _app = app;
        _files = files;
        DataDirectory = dataDirectory;
        Client = new HttpClient { BaseAddress = new Uri(Address(app)), Timeout = TimeSpan.FromMinutes(2) };
        FilesUrl = Address(files);
    }

    public HttpClient Client { get; }

    /// <summary>Where the fixtures are served over HTTP: <c>{FilesUrl}/videos/small.ogv</c>.</summary>
    public string FilesUrl { get; }

    public string DataDirectory { get; }

    public static async Task<TestServer> StartAsync(bool allowPrivateUrls, string? token = null, int maxLiveStreams = 16)
    {
        var data = Path.Combine(TestMedia.TempDirectory(), "data");
        var app = await ReelServer.BuildAsync(
            new ServerOptions
            {
                DataDirectory = data, Urls = ["http://127.0.0.1:0"], AllowPrivateUrls = allowPrivateUrls, Token = token, MaxLiveStreams = maxLiveStreams,
            },
            CancellationToken.None);
        await app.StartAsync();
        var files = WebApplication.CreateSlimBuilder();
        files.WebHost.UseUrls("http://127.0.0.1:0");
        var fileServer = files.Build();
        fileServer.MapGet("/videos/{name}", (string name) => Results.File(TestMedia.Fixture(name), "application/octet-stream"));
        await fileServer.StartAsync();
        return new TestServer(app, fileServer, data);
    }

    public Task<HttpResponseMessage> StartAnalysisAsync(string json) =>
        Client.PostAsync("/analysis/start", new StringContent(json, Encoding.UTF8, "application/json"));

    /// <summary>Polls the status until the analysis leaves Pending and Processing (bounded).</summary>
    public async Task<JsonElement> WaitAsync(string statusUrl)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(3);
        while (true)
        {
            var status = await Client.GetFromJsonAsync<JsonElement>(statusUrl);
            if (status.GetProperty("status").GetString() is "Completed" or "Failed" || DateTime.UtcNow > deadline)
            {
                return status;
            }
            await Task.Delay(200);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _files.StopAsync();
        await _files.DisposeAsync();
        Directory.Delete(Path.GetDirectoryName(DataDirectory)!, recursive: true);
    }

    private static string Address(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
}
