using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Reel.Server.Security;
using Reel.Testing;

namespace Reel.Server.Tests;

/// <summary>
/// A real <c>reel serve</c> server on a free loopback port with the pipeline engine of its data directory (which runs its
/// analyses' jobs), and a plain file server for its video URLs.
/// </summary>
internal sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly WebApplication _files;

    private readonly CancellationTokenSource _engineStop;
    private readonly Task<bool> _engine;

    private TestServer(WebApplication app, WebApplication files, string dataDirectory, CancellationTokenSource engineStop, Task<bool> engine)
    {
        _app = app;
        _engineStop = engineStop;
        _engine = engine;
        _files = files;
        DataDirectory = dataDirectory;
        Url = Address(app);
        Key = ServerKey.TryRead(dataDirectory) ?? app.Services.GetRequiredService<ServerOptions>().Token;
        Client = new HttpClient { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromMinutes(2) };
        if (Key is not null)
        {
            Client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", Key);
        }
        Anonymous = new HttpClient { BaseAddress = new Uri(Url), Timeout = TimeSpan.FromMinutes(2) };
        FilesUrl = Address(files);
    }

    /// <summary>A client that sends the server's key, as the CLI run by the same user does.</summary>
    public HttpClient Client { get; }

    /// <summary>A client without the key, as any other process or a web page would be.</summary>
    public HttpClient Anonymous { get; }

    public string Url { get; }

    /// <summary>The server's key: generated in the data directory unless one was given.</summary>
    public string? Key { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Where the fixtures are served over HTTP: <c>{FilesUrl}/videos/small.ogv</c>.</summary>
    public string FilesUrl { get; }

    public string DataDirectory { get; }

    /// <summary>Leave the data directory when stopping, for a server started on it next (a restart).</summary>
    public bool KeepData { get; set; }

    /// <summary>Where the file server listens: 127.0.0.2, a loopback address tests may let stand for a public host.</summary>
    public const string FilesAddress = "http://127.0.0.2:0";

    public static Task<TestServer> StartAsync(bool allowPrivateUrls, string? token = null, int maxLiveStreams = 16) =>
        StartAsync(o => o with { AllowPrivateUrls = allowPrivateUrls, Token = token, MaxLiveStreams = maxLiveStreams });

    /// <summary>A server with the options <paramref name="configure"/> makes of the defaults (loopback, a fresh data directory).</summary>
    /// <param name="dataDirectory">The data directory of a server that ran before (see <see cref="KeepData"/>); null for a fresh one.</param>
    public static async Task<TestServer> StartAsync(Func<ServerOptions, ServerOptions> configure, Func<string, Task>? prepare = null, string? dataDirectory = null)
    {
        var data = dataDirectory ?? Path.Combine(TestMedia.TempDirectory(), "data");
        if (prepare is not null)
        {
            // What the data directory holds before the server starts (e.g. analyses from long ago).
            await prepare(data);
        }
        var app = await ReelServer.BuildAsync(configure(new ServerOptions { DataDirectory = data, Urls = ["http://127.0.0.1:0"] }), CancellationToken.None);
        await app.StartAsync();
        var files = WebApplication.CreateSlimBuilder();
        files.WebHost.UseUrls(FilesAddress);
        var fileServer = files.Build();
        fileServer.MapGet("/videos/{name}", (string name) => Results.File(TestMedia.Fixture(name), "application/octet-stream"));
        // A download that starts and then stalls: headers and a little of the body, then nothing until the client gives up.
        fileServer.MapGet("/stall/{name}", async (HttpContext context) =>
        {
            context.Response.ContentLength = 10 << 20;
            await context.Response.Body.WriteAsync(new byte[64 << 10], context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        });
        fileServer.MapGet("/redirect", (string to) => Results.Redirect(to));
        // Videos a test made (TestMedia.Generate), by file name.
        fileServer.MapGet("/generated/{name}", (string name) =>
            Generated.TryGetValue(name, out var path) ? Results.File(path, "application/octet-stream") : Results.NotFound());
        await fileServer.StartAsync();
        // The pipeline engine of the data directory, composed with the server as 'reel serve' does: it runs the analyses' jobs.
        var engineStop = new CancellationTokenSource();
        var watcher = app.Services.GetRequiredService<Reel.Server.Analysis.AnalysisWatcher>();
        var engine = Task.Run(() => Reel.Cluster.Engine.RunAsync(new Reel.Cluster.EngineOptions { DataDirectory = data, Slots = ReelServer.EngineSlots, Watcher = watcher }, engineStop.Token));
        return new TestServer(app, fileServer, data, engineStop, engine);
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> Generated = new(StringComparer.Ordinal);

    /// <summary>Serves a file a test made at <c>{FilesUrl}/generated/{its name}</c>.</summary>
    public string Serve(string path)
    {
        Generated[Path.GetFileName(path)] = path;
        return $"{FilesUrl}/generated/{Uri.EscapeDataString(Path.GetFileName(path))}";
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

    /// <summary>
    /// The engine's worker once its report satisfies <paramref name="reported"/>: a worker reports its counts every few
    /// seconds, not at each datum's end. The last report when none does within 30 seconds.
    /// </summary>
    public async Task<JsonElement> WorkerAsync(Func<JsonElement, bool> reported)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var worker = (await Client.GetFromJsonAsync<JsonElement>("/api/v1/workers")).EnumerateArray().SingleOrDefault();
            if ((worker.ValueKind == JsonValueKind.Object && reported(worker)) || DateTime.UtcNow > deadline)
            {
                return worker;
            }
            await Task.Delay(200);
        }
    }

    /// <summary>The reason in an error response: the seed API's plain text, or <c>{"error"}</c> of Reel's own API.</summary>
    public static async Task<string> ErrorOf(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        return response.Content.Headers.ContentType?.MediaType == "application/json"
            ? JsonDocument.Parse(body).RootElement.GetProperty("error").GetString()!
            : body;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Anonymous.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        await _engineStop.CancelAsync();
        try
        {
            await _engine;
        }
        catch (Exception e) when (e is OperationCanceledException or Orleans.Runtime.OrleansLifecycleCanceledException)
        {
            // Stopped, perhaps while its silo was still starting.
        }
        _engineStop.Dispose();
        await _files.StopAsync();
        await _files.DisposeAsync();
        if (!KeepData)
        {
            Directory.Delete(Path.GetDirectoryName(DataDirectory)!, recursive: true);
        }
    }

    private static string Address(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
}
