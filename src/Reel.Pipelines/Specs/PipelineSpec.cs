namespace Reel.Pipelines.Specs;

/// <summary>
/// A pipeline: which repo files become datums, what runs on each datum, and how often it may be tried.
/// Read from Reel's YAML/JSON or Pachyderm's JSON spec by <see cref="SpecReader"/>.
/// </summary>
public sealed record PipelineSpec
{
    public required string Name { get; init; }

    public string Description { get; init; } = "";

    public required InputSpec Input { get; init; }

    public required TransformSpec Transform { get; init; }

    /// <summary>How many datums run at once; 0 means one per core.</summary>
    public int Parallelism { get; init; }

    /// <summary>How many times a datum is tried before it counts as failed.</summary>
    public int DatumTries { get; init; } = 3;

    public TimeSpan? DatumTimeout { get; init; }

    public TimeSpan? JobTimeout { get; init; }

    /// <summary>Fields the spec gives that Reel accepts but does not use (e.g. <c>transform.image</c>).</summary>
    public IReadOnlyList<string> Ignored { get; init; } = [];
}

/// <summary>Where datums come from: one repo branch cut by a glob, or a cross or union of inputs.</summary>
public abstract record InputSpec
{
    /// <summary>The repo inputs this input is built from.</summary>
    public abstract IEnumerable<RepoInput> Repos { get; }
}

/// <summary>
/// The files of <c>Repo@Branch</c> cut into datums by <c>Glob</c>; <c>Name</c> is the datum's directory under
/// <c>/pfs</c> (the repo name unless given).
/// </summary>
public sealed record RepoInput(string Name, string Repo, string Branch, string Glob) : InputSpec
{
    public override IEnumerable<RepoInput> Repos => [this];
}

/// <summary>Every combination of one datum from each input.</summary>
public sealed record CrossInput(IReadOnlyList<InputSpec> Inputs) : InputSpec
{
    public override IEnumerable<RepoInput> Repos => Inputs.SelectMany(i => i.Repos);
}

/// <summary>The datums of all inputs together.</summary>
public sealed record UnionInput(IReadOnlyList<InputSpec> Inputs) : InputSpec
{
    public override IEnumerable<RepoInput> Repos => Inputs.SelectMany(i => i.Repos);
}

/// <summary>
/// What runs on a datum: a command (with optional stdin lines and environment), or Reel's built-in steps.
/// </summary>
public sealed record TransformSpec
{
    public IReadOnlyList<string> Cmd { get; init; } = [];

    public IReadOnlyList<string> Stdin { get; init; } = [];

    public IReadOnlyDictionary<string, string> Env { get; init; } = new Dictionary<string, string>();

    public IReadOnlyList<BuiltInStep> Steps { get; init; } = [];

    /// <summary>Directory the command runs in: the spec file's, so a spec beside its script runs unchanged.</summary>
    public string WorkingDirectory { get; init; } = ".";
}
