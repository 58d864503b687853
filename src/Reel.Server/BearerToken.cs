using System.Security.Cryptography;
using System.Text;
using Reel.Server.Analysis;

namespace Reel.Server;

/// <summary>
/// The optional bearer token: with one configured, requests that change something (and, unless reads are open,
/// every request) must carry it; the comparison takes the same time whatever the guess.
/// </summary>
internal static class BearerToken
{
    public static IApplicationBuilder UseBearerToken(this IApplicationBuilder app, ServerOptions options)
    {
        if (options.Token is not { Length: > 0 } token)
        {
            return app;
        }
        var expected = Encoding.UTF8.GetBytes("Bearer " + token);
        return app.Use(async (context, next) =>
        {
            var method = context.Request.Method;
            var reading = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
            if (HttpMethods.IsOptions(method) || (reading && options.OpenReads)
                || CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(context.Request.Headers.Authorization.ToString()), expected))
            {
                await next(context);
                return;
            }
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await AnalysisEndpoints.Error(StatusCodes.Status401Unauthorized, "this server needs 'Authorization: Bearer <token>' for this request")
                .ExecuteAsync(context);
        });
    }
}
