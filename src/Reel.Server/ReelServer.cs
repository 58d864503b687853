using Reel.Server.Analysis;

namespace Reel.Server;

/// <summary>The HTTP server of <c>reel serve</c>: ASP.NET Core on Kestrel, with the seed-compatible analysis API.</summary>
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
        app.MapAnalysis();
        return app;
    }
}
