using System.Net;
using System.Net.Sockets;

namespace Reel.Server.Analysis;

/// <summary>A request the server will not carry out; the message is the one-line reason returned with a 4xx.</summary>
public sealed class RequestRefusedException(string message, int status = StatusCodes.Status400BadRequest) : Exception(message)
{
    public int Status { get; } = status;
}

/// <summary>
/// Fetches videos named by URL without becoming a way into the server's own network: http(s) only (file:// when
/// configured), every address the host resolves to must be public unless private ones are allowed, and the
/// connection goes to the address that was checked (no second lookup an attacker's DNS could answer differently).
/// Redirects are followed by hand, each one checked the same way; the size limit holds however the body arrives.
/// </summary>
public sealed class VideoFetcher(ServerOptions options)
{
    private const int MaxRedirects = 5;

    /// <summary>The URL, or a refusal: "Valid URL must be provided" for anything that is not a usable URL.</summary>
    public Uri Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text) || !Uri.TryCreate(text.Trim(), UriKind.Absolute, out var url)
            || !(url.Scheme is "http" or "https" || (url.Scheme == "file" && options.AllowFileUrls))
            || (url.Scheme != "file" && string.IsNullOrEmpty(url.Host)))
        {
            throw new RequestRefusedException("Valid URL must be provided");
        }
        return url;
    }

    /// <summary>Refuses a URL whose host resolves to an address that is not public (unless allowed).</summary>
    public async Task CheckAsync(Uri url, CancellationToken cancellationToken)
    {
        if (url.Scheme == "file")
        {
            if (!File.Exists(url.LocalPath))
            {
                throw new RequestRefusedException($"videoURL {url}: no such file on the server");
            }
            return;
        }
        await ResolveAsync(url.IdnHost, cancellationToken);
    }

    /// <summary>Downloads (or, for file://, copies) the video to <paramref name="target"/>.</summary>
    public async Task FetchAsync(Uri url, string target, CancellationToken cancellationToken)
    {
        if (url.Scheme == "file")
        {
            await using var source = File.OpenRead(url.LocalPath);
            await CopyLimitedAsync(source, target, cancellationToken);
            return;
        }
        using var http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            ConnectCallback = ConnectCheckedAsync,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        for (var hop = 0; ; hop++)
        {
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if ((int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is { } location)
            {
                if (hop == MaxRedirects)
                {
                    throw new RequestRefusedException($"videoURL {url}: more than {MaxRedirects} redirects");
                }
                url = Parse(new Uri(url, location).ToString());
                if (url.Scheme == "file")
                {
                    throw new RequestRefusedException("videoURL redirects to a file:// URL");
                }
                continue;
            }
            if (!response.IsSuccessStatusCode)
            {
                throw new RequestRefusedException($"videoURL {url}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }
            if (response.Content.Headers.ContentLength > options.MaxVideoBytes)
            {
                throw new RequestRefusedException($"videoURL {url}: {response.Content.Headers.ContentLength} bytes is over the {options.MaxVideoBytes}-byte limit");
            }
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            await CopyLimitedAsync(body, target, cancellationToken);
            return;
        }
    }

    private async Task CopyLimitedAsync(Stream source, string target, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(target, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        var buffer = new byte[1 << 16];
        long total = 0;
        int read;
        while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
        {
            total += read;
            if (total > options.MaxVideoBytes)
            {
                throw new RequestRefusedException($"the video is over the {options.MaxVideoBytes}-byte limit");
            }
            await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
        }
    }

    private async ValueTask<Stream> ConnectCheckedAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var addresses = await ResolveAsync(context.DnsEndPoint.Host, cancellationToken);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(addresses, context.DnsEndPoint.Port, cancellationToken);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task<IPAddress[]> ResolveAsync(string host, CancellationToken cancellationToken)
    {
        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        }
        catch (SocketException)
        {
            throw new RequestRefusedException($"videoURL host '{host}' does not resolve");
        }
        if (addresses.Length == 0)
        {
            throw new RequestRefusedException($"videoURL host '{host}' does not resolve");
        }
        if (!options.AllowPrivateUrls && addresses.FirstOrDefault(a => !IsPublic(a)) is { } blocked)
        {
            throw new RequestRefusedException(
                $"videoURL host '{host}' is {blocked}, a loopback, private, link-local or otherwise internal address; such URLs are refused");
        }
        return addresses;
    }

    /// <summary>Whether an address is on the public internet: not loopback, private, link-local (cloud metadata), CGNAT, multicast or unspecified.</summary>
    internal static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            return false;
        }
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return !(b[0] == 0 || b[0] == 10 || b[0] == 127 || (b[0] == 100 && b[1] >= 64 && b[1] < 128) || (b[0] == 169 && b[1] == 254)
                || (b[0] == 172 && b[1] >= 16 && b[1] < 32) || (b[0] == 192 && b[1] == 168) || (b[0] == 192 && b[1] == 0 && b[2] == 0)
                || (b[0] == 198 && (b[1] == 18 || b[1] == 19)) || b[0] >= 224);
        }
        var v6 = address.GetAddressBytes();
        return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || (v6[0] & 0xfe) == 0xfc);
    }
}
