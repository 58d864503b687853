using Amazon.Runtime;
using Amazon.S3;

namespace Reel.Data;

/// <summary>
/// Where a store's objects live, read from <c>s3://BUCKET[/PREFIX]?endpoint=URL&amp;region=NAME&amp;access_key=ID&amp;secret_key=KEY</c>.
/// Every parameter is optional: no endpoint means AWS itself; the region defaults to <c>us-east-1</c>; credentials
/// missing from the URL come from <c>AWS_ACCESS_KEY_ID</c> / <c>AWS_SECRET_ACCESS_KEY</c>, else the SDK's usual chain.
/// </summary>
public sealed record S3Location(string Bucket, string Prefix, Uri? Endpoint, string Region, string? AccessKey, string? SecretKey)
{
    public const string Scheme = "s3://";

    /// <summary>Parses an <c>s3://</c> URL; a malformed one throws <see cref="DataErrorKind.Invalid"/> naming it.</summary>
    public static S3Location Parse(string url, IReadOnlyDictionary<string, string?>? environment = null)
    {
        if (!url.StartsWith(Scheme, StringComparison.Ordinal))
        {
            throw Invalid(url, $"it does not start with {Scheme}");
        }
        var rest = url[Scheme.Length..];
        var question = rest.IndexOf('?', StringComparison.Ordinal);
        var path = question < 0 ? rest : rest[..question];
        var slash = path.IndexOf('/', StringComparison.Ordinal);
        var bucket = slash < 0 ? path : path[..slash];
        var prefix = slash < 0 ? "" : path[(slash + 1)..];
        if (bucket.Length is < 3 or > 63 || !bucket.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '.'))
        {
            throw Invalid(url, $"'{bucket}' is not a bucket name (3-63 of a-z, 0-9, '-', '.')");
        }
        if (prefix.Length > 0 && !prefix.EndsWith('/'))
        {
            prefix += "/";
        }
        var parameters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in question < 0 ? [] : rest[(question + 1)..].Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? pair : pair[..equals];
            if (name is not ("endpoint" or "region" or "access_key" or "secret_key"))
            {
                throw Invalid(url, $"unknown parameter '{name}' (known: endpoint, region, access_key, secret_key)");
            }
            parameters[name] = equals < 0 ? "" : Uri.UnescapeDataString(pair[(equals + 1)..]);
        }
        Uri? endpoint = null;
        if (parameters.TryGetValue("endpoint", out var endpointText)
            && (!Uri.TryCreate(endpointText, UriKind.Absolute, out endpoint) || endpoint.Scheme is not ("http" or "https")))
        {
            throw Invalid(url, $"endpoint '{endpointText}' is not an http:// or https:// URL");
        }
        var accessKey = parameters.GetValueOrDefault("access_key") ?? Variable(environment, "AWS_ACCESS_KEY_ID");
        var secretKey = parameters.GetValueOrDefault("secret_key") ?? Variable(environment, "AWS_SECRET_ACCESS_KEY");
        if ((accessKey is null) != (secretKey is null))
        {
            throw Invalid(url, "an access key needs its secret key and the other way round (access_key and secret_key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)");
        }
        var region = parameters.GetValueOrDefault("region") is { Length: > 0 } named ? named : "us-east-1";
        return new S3Location(bucket, prefix, endpoint, region, accessKey, secretKey);
    }

    private static string? Variable(IReadOnlyDictionary<string, string?>? environment, string name) =>
        (environment is null ? Environment.GetEnvironmentVariable(name) : environment.GetValueOrDefault(name)) is { Length: > 0 } value ? value : null;

    private static DataException Invalid(string url, string reason) =>
        new(DataErrorKind.Invalid, $"object store '{Redacted(url)}': {reason}");

    /// <summary>The URL without its secret, for messages.</summary>
    private static string Redacted(string url)
    {
        var at = url.IndexOf("secret_key=", StringComparison.Ordinal);
        if (at < 0)
        {
            return url;
        }
        var end = url.IndexOf('&', at);
        return url[..(at + "secret_key=".Length)] + "***" + (end < 0 ? "" : url[end..]);
    }
}

/// <summary>Opens the object store a directory or an <c>s3://</c> URL names.</summary>
public static class ObjectStores
{
    /// <summary>
    /// <paramref name="urlOrDirectory"/> is <c>s3://…</c> (see <see cref="S3Location"/>) or a directory (a shared file
    /// system works too); <paramref name="cacheDirectory"/> is this node's cache for S3 (unused for a directory).
    /// </summary>
    public static IObjectStore Open(string urlOrDirectory, string cacheDirectory)
    {
        if (urlOrDirectory.StartsWith(S3Location.Scheme, StringComparison.Ordinal))
        {
            var location = S3Location.Parse(urlOrDirectory);
            return new S3ObjectStore(CreateClient(location), location.Bucket, location.Prefix, cacheDirectory, ownsClient: true);
        }
        if (urlOrDirectory.Contains("://", StringComparison.Ordinal))
        {
            throw new DataException(DataErrorKind.Invalid, $"object store '{urlOrDirectory}': only s3:// URLs and directories are supported");
        }
        return new ObjectStore(Path.GetFullPath(urlOrDirectory));
    }

    /// <summary>
    /// A client that S3-compatible servers (MinIO, s3rver) understand: path-style addresses, and checksums only where
    /// the operation requires them (uploads are also sent unchunked, see <see cref="S3ObjectStore"/>).
    /// </summary>
    public static AmazonS3Client CreateClient(S3Location location)
    {
        var config = new AmazonS3Config
        {
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        if (location.Endpoint is { } endpoint)
        {
            config.ServiceURL = endpoint.ToString();
            config.ForcePathStyle = true;
            config.AuthenticationRegion = location.Region;
        }
        else
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(location.Region);
        }
        return location.AccessKey is { } key
            ? new AmazonS3Client(new BasicAWSCredentials(key, location.SecretKey), config)
            : new AmazonS3Client(config);
    }
}
