using Reel.Server.Analysis;
using Reel.Server.Api;
using Reel.Server.Security;
using Scalar.AspNetCore;

namespace Reel.Server;

/// <summary>
/// The HTTP server of <c>reel serve</c>: ASP.NET Core on Kestrel, with the seed-compatible analysis API, its OpenAPI
/// document at <c>/openapi/v1.json</c> and an interactive page at <c>/docs</c>.
/// </summary>
public static class ReelServer
{
    /// <summary>
    /// Datums the embedded engine of a server runs at once: every core but one, which stays free for requests (a server
    /// busy analyzing still answers status calls at once).
    /// </summary>
    public static int EngineSlots => Math.Max(1, Environment.ProcessorCount - 1);

    /// <summary>A server on the data directory of <paramref name="options"/> (the embedded default).</summary>
    /// <exception cref="ArgumentException">The options contradict each other (<c>--no-auth</c> on a non-loopback address).</exception>
    public static Task<WebApplication> BuildAsync(ServerOptions options, CancellationToken cancellationToken) =>
        BuildAsync(options, new DirectoryServerData(options.DataDirectory), cancellationToken);

    /// <summary>A server on <paramref name="data"/>; the caller keeps owning it and disposes it after the server stopped.</summary>
    /// <exception cref="ArgumentException">The options contradict each other (<c>--no-auth</c> on a non-loopback address).</exception>
    public static async Task<WebApplication> BuildAsync(ServerOptions options, ServerData data, CancellationToken cancellationToken)
    {
        options.Validate();
        var access = CreateAccess(options);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls([.. options.Urls]);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.MaxRequestBytes);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(access);
        builder.Services.AddSingleton(data);
        builder.Services.AddSingleton(await data.OpenAnalysesAsync(cancellationToken));
        builder.Services.AddSingleton<VideoFetcher>();
        builder.Services.AddSingleton<AnalysisJobs>();
        builder.Services.AddHostedService(s => s.GetRequiredService<AnalysisJobs>());
        // The engine this server composes with (reel serve, tests) streams the analyses' rows through it.
        builder.Services.AddSingleton<AnalysisWatcher>();
        builder.Services.AddSingleton<LiveStreams>();
        builder.Services.AddSingleton<FrameImages>();
        builder.Services.AddHostedService<RetentionService>();
        builder.Services.AddOpenApi();
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
        builder.Services.AddCors(cors => cors.AddPolicy(AnalysisEndpoints.CorsPolicy, policy =>
        {
            if (options.CorsOrigins.Contains("*"))
            {
                policy.AllowAnyOrigin();
            }
            else
            {
                policy.WithOrigins([.. options.CorsOrigins]);
            }
            policy.AllowAnyHeader().AllowAnyMethod();
        }));

        var app = builder.Build();
        app.UseCors();
        app.UseServerAccess(access);
        app.MapSession();
        app.MapAnalysis();
        app.MapApi();
        app.MapDashboard();
        // The API described at a stable URL, and an interactive page for it.
        app.MapOpenApi("/openapi/v1.json");
        app.MapScalarApiReference("/docs", o => o.WithOpenApiRoutePattern("/openapi/v1.json"));
        return app;
    }

    /// <summary>The key (given, or stored in the data directory and generated at first start) and who may do what.</summary>
    private static ServerAccess CreateAccess(ServerOptions options)
    {
        if (options.NoAuth)
        {
            if (options.Urls.FirstOrDefault(url => !IsLoopback(url)) is { } open)
            {
                throw new ArgumentException(
                    $"--no-auth is only for a server bound to loopback addresses (127.0.0.1, ::1, localhost), not {open}: anyone who can reach it could run commands");
            }
            return new ServerAccess(options, key: null);
        }
        if (options.Token is { Length: > 0 } given)
        {
            return new ServerAccess(options, given);
        }
        var (key, created) = ServerKey.LoadOrCreate(options.DataDirectory);
        return new ServerAccess(options, key) { KeyFile = ServerKey.PathIn(options.DataDirectory), KeyCreated = created };
    }

    private static bool IsLoopback(string url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri)
        && (uri.Host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || (System.Net.IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address)));
}
