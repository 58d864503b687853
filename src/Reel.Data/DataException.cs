namespace Reel.Data;

/// <summary>What went wrong, so front ends can map it to an exit code.</summary>
public enum DataErrorKind
{
    /// <summary>A repo, branch, commit or path does not exist.</summary>
    NotFound,

    /// <summary>The request clashes with what is stored (name taken, file where a directory is, repo not empty).</summary>
    Conflict,

    /// <summary>A name, path or address is malformed.</summary>
    Invalid,

    /// <summary>Another process holds a branch's writer lock for too long.</summary>
    Busy,

    /// <summary>A stored object's content no longer matches its hash; it was not used.</summary>
    Damaged,
}

/// <summary>A data-layer request that cannot be done; nothing was changed.</summary>
public sealed class DataException : Exception
{
    public DataException()
    {
    }

    public DataException(string message)
        : base(message)
    {
    }

    public DataException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public DataException(DataErrorKind kind, string message)
        : base(message) => Kind = kind;

    public DataErrorKind Kind { get; }
}
