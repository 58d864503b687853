namespace Reel.Server;

/// <summary>How <c>reel serve</c> runs: where it listens, where data lives, and what remote input it accepts.</summary>
public sealed record ServerOptions
{
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

    /// <summary>YOLO ONNX file for <c>objects_detection</c>; without it the model is refused.</summary>
    public string? ObjectModel { get; init; }

    /// <summary>Emotion classifier ONNX file for <c>emotions_detection</c>; without it the model is refused.</summary>
    public string? EmotionModel { get; init; }

    /// <summary>When set, every request that changes something needs <c>Authorization: Bearer &lt;token&gt;</c>.</summary>
    public string? Token { get; init; }

    /// <summary>With a token: whether reading stays open to requests without it.</summary>
    public bool OpenReads { get; init; } = true;

    /// <summary>Origins allowed to call the analysis API from a browser; "*" for any.</summary>
    public IReadOnlyList<string> CorsOrigins { get; init; } = ["*"];
}
