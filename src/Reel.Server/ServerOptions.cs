namespace Reel.Server;

/// <summary>How <c>reel serve</c> runs: where it listens, where data lives, and what remote input it accepts.</summary>
public sealed record ServerOptions
{
    /// <summary>
    /// The data directory; on a cluster server this node's own directory (scratch, the object cache, analyses' videos and
    /// frame images, the key), the data itself being the cluster's (<see cref="ServerData"/>).
    /// </summary>
    public required string DataDirectory { get; init; }

    /// <summary>Kestrel URLs, e.g. <c>http://127.0.0.1:8000</c>; port 0 picks a free one.</summary>
    public IReadOnlyList<string> Urls { get; init; } = ["http://127.0.0.1:8000"];

    /// <summary>
    /// Let <c>videoURL</c> reach loopback, private, link-local and other internal addresses. Off by default: a
    /// server that fetches what it is told would otherwise let anyone reach the machine's own network.
    /// </summary>
    public bool AllowPrivateUrls { get; init; }

    /// <summary>Accept <c>file://</c> video URLs (local files of the server).</summary>
    public bool AllowFileUrls { get; init; }

    /// <summary>Largest video a URL may deliver.</summary>
    public long MaxVideoBytes { get; init; } = 2L << 30;

    /// <summary>Longest video accepted, by its container's duration.</summary>
    public TimeSpan MaxVideoDuration { get; init; } = TimeSpan.FromHours(3);

    /// <summary>Live streams received at once; more are refused with 429 until one ends.</summary>
    public int MaxLiveStreams { get; init; } = 16;

    /// <summary>Largest JSON request body.</summary>
    public long MaxRequestBytes { get; init; } = 1 << 20;

    /// <summary>YOLO ONNX file for <c>objects_detection</c>; null runs the bundled CenterNet.</summary>
    public string? ObjectModel { get; init; }

    /// <summary>Emotion classifier ONNX file for <c>emotions_detection</c>; null runs the bundled 7-class classifier.</summary>
    public string? EmotionModel { get; init; }

    /// <summary>
    /// The key every request that changes something needs (<c>Authorization: Bearer &lt;key&gt;</c>, or the dashboard's
    /// sign-in cookie). Null: the key stored in the data directory, generated at first start.
    /// </summary>
    public string? Token { get; init; }

    /// <summary>Serve without a key. Only for servers bound to loopback addresses; refused at start-up otherwise.</summary>
    public bool NoAuth { get; init; }

    /// <summary>Whether reading stays open to requests without the key.</summary>
    public bool OpenReads { get; init; } = true;

    /// <summary>Require the key to start analyses too (<c>/analysis/start</c>, <c>/analysis/rtmp-endpoint</c>, uploads); open by default, as the seed's client expects.</summary>
    public bool TokenForAnalysis { get; init; }

    /// <summary>Host header values accepted besides localhost names, IP addresses and the names bound; "*" accepts any.</summary>
    public IReadOnlyList<string> AllowedHosts { get; init; } = [];

    /// <summary>Largest upload (<c>PUT .../files</c>, <c>POST /api/v1/analyses</c>); 413 past it.</summary>
    public long MaxUploadBytes { get; init; } = 2L << 30;

    /// <summary>Time to connect to a video URL's server.</summary>
    public TimeSpan DownloadConnectTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Longest wait for the next bytes of a download (or its response headers).</summary>
    public TimeSpan DownloadIdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Longest a whole download may take.</summary>
    public TimeSpan DownloadTotalTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>Analyses fetched and run at once; more wait their turn.</summary>
    public int MaxConcurrentAnalyses { get; init; } = 4;

    /// <summary>Frame images drawn at once by <c>GET /analysis/{id}/frame/{n}</c>; more wait their turn.</summary>
    public int MaxConcurrentFrameRenders { get; init; } = 2;

    /// <summary>Largest recording a live stream may push.</summary>
    public long MaxLiveBytes { get; init; } = 4L << 30;

    /// <summary>Longest a live stream may run.</summary>
    public TimeSpan MaxLiveDuration { get; init; } = TimeSpan.FromHours(3);

    /// <summary>Analyses older than this many days are removed (rows, frames, downloads); null keeps them.</summary>
    public int? RetainDays { get; init; }

    /// <summary>Origins allowed to call the analysis API from a browser; "*" for any.</summary>
    public IReadOnlyList<string> CorsOrigins { get; init; } = ["*"];

    /// <summary>Refuses limits that cannot work, before anything starts.</summary>
    /// <exception cref="ArgumentException">The first option that is out of range, by its command-line name.</exception>
    public void Validate()
    {
        foreach (var (name, ok) in new (string, bool)[]
        {
            ("--max-upload-mb", MaxUploadBytes > 0), ("--max-video-mb", MaxVideoBytes > 0), ("--retain-days", RetainDays is null or >= 1),
            ("the live stream cap", MaxLiveStreams >= 1 && MaxLiveBytes > 0 && MaxLiveDuration > TimeSpan.Zero),
            ("the download timeouts", DownloadConnectTimeout > TimeSpan.Zero && DownloadIdleTimeout > TimeSpan.Zero && DownloadTotalTimeout > TimeSpan.Zero),
            ("the concurrency bounds", MaxConcurrentAnalyses >= 1 && MaxConcurrentFrameRenders >= 1),
        })
        {
            if (!ok)
            {
                throw new ArgumentException($"{name} must be above zero");
            }
        }
    }
}
