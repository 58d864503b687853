using System.Text.Json.Nodes;
using Reel.Server.Analysis;

namespace Reel.Server.Security;

/// <summary>The dashboard's sign-in: the key, once checked, kept in an <c>HttpOnly</c>, <c>SameSite=Strict</c> cookie.</summary>
internal static class SessionEndpoints
{
    public static void MapSession(this IEndpointRouteBuilder app)
    {
        var session = app.MapGroup("/api/v1/session").ExcludeFromDescription();
        session.MapGet("", (HttpContext context, ServerAccess access, ServerOptions options) => Results.Json(new JsonObject
        {
            ["keyRequired"] = access.KeyRequired,
            ["signedIn"] = access.KeyRequired && access.HasKey(context),
            ["readsNeedKey"] = access.KeyRequired && !options.OpenReads,
            ["analysesNeedKey"] = access.KeyRequired && options.TokenForAnalysis,
        }));
        session.MapPost("", async (HttpContext context, ServerAccess access, CancellationToken ct) =>
        {
            string? key = null;
            try
            {
                if (context.Request.HasJsonContentType() && await JsonNode.ParseAsync(context.Request.Body, cancellationToken: ct) is JsonObject body
                    && body["key"] is JsonValue value && value.TryGetValue<string>(out var text))
                {
                    key = text.Trim();
                }
            }
            catch (System.Text.Json.JsonException)
            {
            }
            if (key is null)
            {
                return AnalysisEndpoints.Error(StatusCodes.Status400BadRequest, "the body must be a JSON object with the server's \"key\"");
            }
            context.Request.Headers.Authorization = "Bearer " + key;
            if (!access.HasKey(context))
            {
                return AnalysisEndpoints.Error(StatusCodes.Status401Unauthorized, "that is not this server's key");
            }
            context.Response.Cookies.Append(ServerAccess.CookieName, key, new CookieOptions
            {
                HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = context.Request.IsHttps, Path = "/", IsEssential = true,
            });
            return Results.NoContent();
        });
        session.MapDelete("", (HttpContext context) =>
        {
            context.Response.Cookies.Delete(ServerAccess.CookieName, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict, Path = "/" });
            return Results.NoContent();
        });
    }
}
