using Reel.Server.Analysis;
using Reel.Server.Api;
using Scalar.AspNetCore;

namespace Reel.Server;

/// <summary>
/// The HTTP server of <c>reel serve</c>: ASP.NET Core on Kestrel, with the seed-compatible analysis API, its OpenAPI
/// document at <c>/openapi/v1.json</c> and an interactive page at <c>/docs</c>.
/// </summary>
public static class ReelServer
{
    public static async Task<WebApplication> BuildAsync(ServerOptions options, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.WebHost.UseUrls([.. options.Urls]);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = options.MaxRequestBytes);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(await AnalysisStore.OpenAsync(options.DataDirectory, cancellationToken));
        builder.Services.AddSingleton<VideoFetcher>();
        builder.Services.AddSingleton<AnalysisRunner>();
        builder.Services.AddHostedService(s => s.GetRequiredService<AnalysisRunner>());
        builder.Services.AddSingleton<LiveStreams>();
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
        app.UseBearerToken(options);
        app.MapAnalysis();
        app.MapApi();
        app.MapDashboard();
        // The API described at a stable URL, and an interactive page for it.
        app.MapOpenApi("/openapi/v1.json");
        app.MapScalarApiReference("/docs", o => o.WithOpenApiRoutePattern("/openapi/v1.json"));
        return app;
    }
}
