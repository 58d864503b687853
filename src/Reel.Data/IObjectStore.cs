namespace Reel.Data;

/// <summary>
/// Content-addressed objects (SHA-256, lower-case hex): a local directory (<see cref="ObjectStore"/>) or an S3 bucket
/// with a node-local cache (<see cref="S3ObjectStore"/>); <see cref="ObjectStores.Open"/> picks one. An object counts as
/// present only once its content has been checked against its hash; reads of content that does not match throw a
/// <see cref="DataException"/> of kind <see cref="DataErrorKind.Damaged"/> naming the object, and never return it.
/// </summary>
public interface IObjectStore : IDisposable
{
    /// <summary>Where the objects are, for messages: a directory or <c>s3://bucket/prefix</c>.</summary>
    string Location { get; }

    /// <summary>Stores <paramref name="content"/>; identical content is stored once.</summary>
    Task<StoredObject> PutAsync(Stream content, CancellationToken cancellationToken);

    /// <summary>
    /// Takes a local <paramref name="file"/> (e.g. a datum's output) into the store; it is gone afterwards. A directory
    /// store renames it (nothing synced: call <see cref="FlushAsync"/> once after many); S3 uploads it.
    /// </summary>
    Task<StoredObject> PutFileAsync(string file, CancellationToken cancellationToken);

    /// <summary>Makes every object taken by <see cref="PutFileAsync"/> durable.</summary>
    Task FlushAsync(CancellationToken cancellationToken);

    /// <summary>Whether the object is stored and its content matches its hash (an object that does not is not present).</summary>
    Task<bool> ContainsAsync(string hash, CancellationToken cancellationToken);

    /// <summary>
    /// A local file holding the object, for readers that need a path (ffmpeg, a datum's scratch, <c>reel get</c>): the
    /// stored file itself, or an entry of the node's cache checked against the hash when it was filled. The file must
    /// not be written to. Throws <see cref="DataErrorKind.NotFound"/> or <see cref="DataErrorKind.Damaged"/>.
    /// </summary>
    Task<string> GetLocalPathAsync(string hash, CancellationToken cancellationToken);

    /// <summary>The object's content; reading it to the end checks it against the hash (a mismatch throws there).</summary>
    Task<Stream> OpenReadAsync(string hash, CancellationToken cancellationToken);

    /// <summary>Every stored object's hash (for garbage collection).</summary>
    IAsyncEnumerable<string> ListAsync(CancellationToken cancellationToken);

    /// <summary>Removes an object (and its cached copy); no error when it is not there.</summary>
    Task DeleteAsync(string hash, CancellationToken cancellationToken);

    /// <summary>
    /// A fresh local path for content received slowly (an upload) before it is stored, named so that
    /// <see cref="RemoveTemporaryFiles"/> removes it only once this process is gone.
    /// </summary>
    string NewTemporaryPath();

    /// <summary>Removes what local writers that died left half-written; files of live processes stay.</summary>
    int RemoveTemporaryFiles();
}
