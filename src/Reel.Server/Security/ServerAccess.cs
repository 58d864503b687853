using System.Net;
using Microsoft.Net.Http.Headers;
using Reel.Server.Analysis;

namespace Reel.Server.Security;

/// <summary>
/// Who may do what: the key that changing requests need (a bearer header, or the dashboard's sign-in cookie), the Host
/// names the server answers to (so a DNS-rebinding page cannot reach a loopback server) and the content types a
/// changing request may carry (none a browser sends cross-site without a preflight).
/// </summary>
public sealed class ServerAccess
{
    /// <summary>The dashboard's sign-in cookie.</summary>
    public const string CookieName = "reel_key";

    private readonly byte[]? _keyDigest;
    private readonly HashSet<string> _hosts = new(StringComparer.OrdinalIgnoreCase);
    private readonly bool _anyHost;
    private readonly ServerOptions _options;

    public ServerAccess(ServerOptions options, string? key)
    {
        _options = options;
        _keyDigest = key is null ? null : ServerKey.Digest(key);
        foreach (var url in options.Urls)
        {
            if (Uri.TryCreate(url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal), UriKind.Absolute, out var uri))
            {
                _hosts.Add(uri.Host.Trim('[', ']'));
            }
        }
        _hosts.Add(Environment.MachineName);
        _hosts.Add(Dns.GetHostName());
        foreach (var host in options.AllowedHosts)
        {
            _anyHost |= host == "*";
            _hosts.Add(host.Trim().TrimEnd('.'));
        }
    }

    /// <summary>The file the key came from (generated there at first start); null when given with <c>--token</c> or none.</summary>
    public string? KeyFile { get; init; }

    /// <summary>Whether this start generated the key.</summary>
    public bool KeyCreated { get; init; }

    /// <summary>Whether the server has a key at all (not <c>--no-auth</c>).</summary>
    public bool KeyRequired => _keyDigest is not null;

    /// <summary>
    /// Localhost names, any IP address (a rebinding page's origin is always a DNS name), the names bound and
    /// <c>--allowed-host</c>; a request without Host (HTTP/1.0) comes from no browser.
    /// </summary>
    public bool HostAllowed(HostString host)
    {
        if (!host.HasValue || _anyHost)
        {
            return true;
        }
        var name = host.Host.Trim('[', ']').TrimEnd('.');
        return IPAddress.TryParse(name, out _)
            || name.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || name.EndsWith(".localhost", StringComparison.OrdinalIgnoreCase)
            || _hosts.Contains(name);
    }

    /// <summary>Whether the request carries the key, in its Authorization header or the sign-in cookie.</summary>
    public bool HasKey(HttpContext context)
    {
        if (_keyDigest is null)
        {
            return true;
        }
        var header = context.Request.Headers.Authorization.ToString();
        var presented = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            ? header["Bearer ".Length..].Trim()
            : context.Request.Cookies[CookieName];
        return ServerKey.Matches(presented, _keyDigest);
    }

    /// <summary>Whether a key is checked against this request, and <see cref="HasKey"/> decides.</summary>
    public bool NeedsKey(HttpRequest request)
    {
        if (_keyDigest is null || HttpMethods.IsOptions(request.Method))
        {
            return false;
        }
        var path = request.Path;
        if (path.StartsWithSegments("/api/v1/session"))
        {
            // Signing in checks the key itself.
            return false;
        }
        if (!IsChanging(request.Method))
        {
            var page = path == "/" || path.StartsWithSegments("/dashboard");
            return !page && !_options.OpenReads;
        }
        return !IsAnalysisStart(request) || _options.TokenForAnalysis;
    }

    /// <summary>Starting an analysis: open by default (the seed's client sends no key); it runs only Reel's own models.</summary>
    private static bool IsAnalysisStart(HttpRequest request) =>
        HttpMethods.IsPost(request.Method)
        && (request.Path.Equals("/analysis/start", StringComparison.Ordinal) || request.Path.Equals("/analysis/rtmp-endpoint", StringComparison.Ordinal)
            || request.Path.Equals("/api/v1/analyses", StringComparison.Ordinal));

    public static bool IsChanging(string method) =>
        !(HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsTrace(method));

    /// <summary>
    /// JSON, YAML or a binary upload, or no body at all: a cross-site page can send <c>text/plain</c>, form and
    /// multipart bodies (and bodies without a type) without a preflight, never these.
    /// </summary>
    public static bool AcceptedContentType(HttpRequest request)
    {
        if (string.IsNullOrEmpty(request.ContentType))
        {
            return request.ContentLength is null or 0 && string.IsNullOrEmpty(request.Headers.TransferEncoding);
        }
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var parsed) || parsed.MediaType.Value is not { } type)
        {
            return false;
        }
        type = type.ToLowerInvariant();
        return type is "application/json" or "application/yaml" or "application/x-yaml" or "text/yaml" or "text/x-yaml"
                or "application/octet-stream" or "application/mp4" or "application/ogg" or "application/x-matroska"
            || (type.StartsWith("application/", StringComparison.Ordinal) && type.EndsWith("+json", StringComparison.Ordinal))
            || type.StartsWith("video/", StringComparison.Ordinal);
    }
}

/// <summary>The middleware that applies <see cref="ServerAccess"/> to every request.</summary>
public static class ServerAccessMiddleware
{
    /// <summary>Host check, then content type, then key; each refusal is a one-line JSON error.</summary>
    public static IApplicationBuilder UseServerAccess(this IApplicationBuilder app, ServerAccess access) => app.Use(async (context, next) =>
    {
        var request = context.Request;
        IResult? refusal = null;
        if (!access.HostAllowed(request.Host))
        {
            refusal = AnalysisEndpoints.Error(StatusCodes.Status403Forbidden,
                $"this server does not answer to the host name '{request.Host.Host}'; start it with --allowed-host {request.Host.Host} to allow it");
        }
        else if (ServerAccess.IsChanging(request.Method) && !ServerAccess.AcceptedContentType(request))
        {
            refusal = AnalysisEndpoints.Error(StatusCodes.Status415UnsupportedMediaType,
                $"a request that changes something must be JSON, YAML or a binary upload (application/json, application/yaml, application/octet-stream, video/*), not '{request.ContentType}'");
        }
        else if (access.NeedsKey(request) && !access.HasKey(context))
        {
            context.Response.Headers.WWWAuthenticate = "Bearer";
            refusal = AnalysisEndpoints.Error(StatusCodes.Status401Unauthorized,
                "this request needs the server's key: 'Authorization: Bearer <key>' (the key is in the server's data directory, file server-key)");
        }
        if (refusal is not null)
        {
            await refusal.ExecuteAsync(context);
            return;
        }
        await next(context);
    });
}
