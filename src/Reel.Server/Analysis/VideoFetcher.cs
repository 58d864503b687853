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

    /// <summary>Addresses tests let stand for the public internet (a loopback server playing a public one); none otherwise.</summary>
    internal Func<IPAddress, bool> StandsForPublic { get; set; } = _ => false;

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

    /// <summary>
    /// Downloads (or, for file://, copies) the video to <paramref name="target"/>, within the connect, idle and total
    /// timeouts; a failed, refused or over-long download leaves no file. Failures name the URL given, never an
    /// address it led to.
    /// </summary>
    public async Task FetchAsync(Uri url, string target, CancellationToken cancellationToken)
    {
        using var total = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        total.CancelAfter(options.DownloadTotalTimeout);
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(total.Token);
        try
        {
            await FetchWithinAsync(url, target, idle, cancellationToken);
        }
        catch (Exception e)
        {
            File.Delete(target);
            if (e is OperationCanceledException && !cancellationToken.IsCancellationRequested)
            {
                throw new RequestRefusedException(total.IsCancellationRequested
                    ? $"videoURL {Shown(url)}: the download took longer than {options.DownloadTotalTimeout:g}"
                    : $"videoURL {Shown(url)}: the download stalled (nothing received for {options.DownloadIdleTimeout.TotalSeconds:0} s)");
            }
            if (e is HttpRequestException or IOException or SocketException && !cancellationToken.IsCancellationRequested)
            {
                // The inner reason may name an address the URL led to (a redirect's or a DNS answer's): give the checked refusal or the kind only.
                var refused = FindRefusal(e);
                throw refused ?? new RequestRefusedException($"videoURL {Shown(url)}: the download failed ({Kind(e)})");
            }
            throw;
        }
    }

    private async Task FetchWithinAsync(Uri url, string target, CancellationTokenSource idle, CancellationToken cancellationToken)
    {
        var given = url;
        if (url.Scheme == "file")
        {
            await using var source = File.OpenRead(url.LocalPath);
            await CopyLimitedAsync(source, target, idle, cancellationToken);
            return;
        }
        using var http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            // Environment proxies would connect to the checked address's stand-in, unchecked: never use them here.
            UseProxy = false,
            ConnectTimeout = options.DownloadConnectTimeout,
            ConnectCallback = ConnectCheckedAsync,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        for (var hop = 0; ; hop++)
        {
            idle.CancelAfter(options.DownloadIdleTimeout);
            using var response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, idle.Token);
            if ((int)response.StatusCode is >= 300 and < 400 && response.Headers.Location is { } location)
            {
                if (hop == MaxRedirects)
                {
                    throw new RequestRefusedException($"videoURL {Shown(given)}: more than {MaxRedirects} redirects");
                }
                url = Parse(new Uri(url, location).ToString());
                if (url.Scheme == "file")
                {
                    throw new RequestRefusedException($"videoURL {Shown(given)} redirects to a file:// URL");
                }
                continue;
            }
            if (!response.IsSuccessStatusCode)
            {
                throw new RequestRefusedException($"videoURL {Shown(given)}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }
            if (response.Content.Headers.ContentLength > options.MaxVideoBytes)
            {
                throw new RequestRefusedException($"videoURL {Shown(given)}: {response.Content.Headers.ContentLength} bytes is over the {options.MaxVideoBytes}-byte limit");
            }
            await using var body = await response.Content.ReadAsStreamAsync(idle.Token);
            await CopyLimitedAsync(body, target, idle, cancellationToken);
            return;
        }
    }

    /// <summary>The URL as given, without user information.</summary>
    private static string Shown(Uri url) => url.Scheme == "file" ? url.ToString() : url.GetComponents(UriComponents.HttpRequestUrl, UriFormat.UriEscaped);

    private static RequestRefusedException? FindRefusal(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is RequestRefusedException refused)
            {
                return refused;
            }
        }
        return null;
    }

    private static string Kind(Exception e) => e switch
    {
        HttpRequestException { HttpRequestError: var error } when error != HttpRequestError.Unknown => error switch
        {
            HttpRequestError.NameResolutionError => "the host does not resolve",
            HttpRequestError.ConnectionError => "cannot connect",
            HttpRequestError.SecureConnectionError => "TLS failed",
            HttpRequestError.ResponseEnded => "the connection closed early",
            _ => error.ToString(),
        },
        _ => "the connection failed",
    };

    private async Task CopyLimitedAsync(Stream source, string target, CancellationTokenSource idle, CancellationToken cancellationToken)
    {
        await using var file = new FileStream(target, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        var buffer = new byte[1 << 16];
        long total = 0;
        while (true)
        {
            idle.CancelAfter(options.DownloadIdleTimeout);
            var read = await source.ReadAsync(buffer, idle.Token);
            if (read == 0)
            {
                break;
            }
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
        if (!options.AllowPrivateUrls && addresses.Any(a => !IsPublic(a) && !StandsForPublic(a)))
        {
            // The address is not named: a refusal must not tell an outsider what an internal name resolves to.
            throw new RequestRefusedException(
                $"videoURL host '{host}' is a loopback, private, link-local or otherwise internal address; such URLs are refused");
        }
        return addresses;
    }

    /// <summary>
    /// Whether an address is on the public internet: not loopback, private, link-local (cloud metadata), CGNAT,
    /// multicast or unspecified, also when written as an IPv6 form that carries an IPv4 address (IPv4-mapped,
    /// IPv4-compatible, NAT64, 6to4, Teredo), which is judged by the address it carries.
    /// </summary>
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
        if (address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || (v6[0] & 0xfe) == 0xfc)
        {
            return false;
        }
        if (v6.AsSpan(0, 12).IndexOfAnyExcept((byte)0) < 0)
        {
            // ::a.b.c.d, IPv4-compatible (deprecated): what it reaches depends on the host's tunnels.
            return IsPublic(new IPAddress(v6.AsSpan(12, 4)));
        }
        if (v6.AsSpan(0, 8).IndexOfAnyExcept((byte)0) < 0 && v6[8] == 0xff && v6[9] == 0xff && v6[10] == 0 && v6[11] == 0)
        {
            // ::ffff:0:a.b.c.d, IPv4-translated (SIIT).
            return IsPublic(new IPAddress(v6.AsSpan(12, 4)));
        }
        if (v6[0] == 0x00 && v6[1] == 0x64 && v6[2] == 0xff && v6[3] == 0x9b)
        {
            // 64:ff9b::/96, the NAT64 well-known prefix, carries its IPv4 address last; 64:ff9b:1::/48 is for local use only.
            return v6[4] == 0 && v6[5] == 0 && v6.AsSpan(6, 6).IndexOfAnyExcept((byte)0) < 0 && IsPublic(new IPAddress(v6.AsSpan(12, 4)));
        }
        if (v6[0] == 0x20 && v6[1] == 0x02)
        {
            // 2002::/16, 6to4: the relay's IPv4 address follows the prefix.
            return IsPublic(new IPAddress(v6.AsSpan(2, 4)));
        }
        if (v6[0] == 0x20 && v6[1] == 0x01 && v6[2] == 0 && v6[3] == 0)
        {
            // 2001::/32, Teredo: the server's IPv4 address, then the client's with every bit flipped.
            var client = v6.AsSpan(12, 4).ToArray();
            for (var i = 0; i < client.Length; i++)
            {
                client[i] ^= 0xff;
            }
            return IsPublic(new IPAddress(v6.AsSpan(4, 4))) && IsPublic(new IPAddress(client));
        }
        // 100::/64 (discard) and 2001:db8::/32 (documentation) reach nothing real.
        return !(v6[0] == 0x01 && v6[1] == 0 && v6.AsSpan(2, 6).IndexOfAnyExcept((byte)0) < 0)
            && !(v6[0] == 0x20 && v6[1] == 0x01 && v6[2] == 0x0d && v6[3] == 0xb8);
    }
}
