namespace Reel.Data;

/// <summary>A repo with its branches and how many finished commits it holds.</summary>
public sealed record RepoInfo(string Name, DateTimeOffset Created, IReadOnlyList<BranchInfo> Branches, int Commits);

/// <summary>A branch and the finished commit it points at.</summary>
public sealed record BranchInfo(string Name, string Head);

/// <summary>A finished commit: a complete, immutable snapshot of its files.</summary>
public sealed record CommitInfo(
    string Id, string Repo, string Branch, string? Parent, string Message, DateTimeOffset Created, int Files, long Size);

/// <summary>One file of a commit.</summary>
public sealed record FileEntry(string Path, string Hash, long Size);

/// <summary>How a path differs between two commits.</summary>
public enum ChangeKind
{
    Added,
    Removed,
    Changed,
}

/// <summary>One path that differs between two commits; the hashes are null where the path is absent.</summary>
public sealed record FileChange(string Path, ChangeKind Kind, string? OldHash, string? NewHash);
