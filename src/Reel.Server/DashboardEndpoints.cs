namespace Reel.Server;

/// <summary>The web dashboard: static files built into the server (no build step, no separate server), at <c>/</c>.</summary>
internal static class DashboardEndpoints
{
    private static readonly Dictionary<string, string> Types = new(StringComparer.Ordinal)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
    };

    public static void MapDashboard(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", () => File("index.html")).ExcludeFromDescription();
        app.MapGet("/dashboard/{name}", (string name) => File(name)).ExcludeFromDescription();
    }

    private static IResult File(string name)
    {
        var stream = typeof(DashboardEndpoints).Assembly.GetManifestResourceStream("dashboard/" + name);
        return stream is null || !Types.TryGetValue(Path.GetExtension(name), out var type)
            ? Results.NotFound()
            : Results.Stream(stream, type);
    }
}
