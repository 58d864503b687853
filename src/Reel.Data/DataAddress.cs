using System.Diagnostics.CodeAnalysis;

namespace Reel.Data;

/// <summary><c>repo[@branch][:path]</c>, as pachctl writes it; the branch defaults to <c>master</c>, the path to the root.</summary>
public sealed record DataAddress(string Repo, string Branch, string Path, bool HasPath)
{
    public const string DefaultBranch = "master";

    public override string ToString() => HasPath ? $"{Repo}@{Branch}:{Path}" : $"{Repo}@{Branch}";

    /// <summary>Parses an address; throws <see cref="DataException"/> (Invalid) with the reason.</summary>
    public static DataAddress Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var head = colon < 0 ? text : text[..colon];
        var at = head.IndexOf('@', StringComparison.Ordinal);
        var repo = at < 0 ? head : head[..at];
        var branch = at < 0 ? DefaultBranch : head[(at + 1)..];
        if (!IsValidName(repo))
        {
            throw new DataException(DataErrorKind.Invalid, $"invalid address '{text}': {NameRule("repo", repo)}");
        }
        if (!IsValidName(branch))
        {
            throw new DataException(DataErrorKind.Invalid, $"invalid address '{text}': {NameRule("branch", branch)}");
        }
        if (colon < 0)
        {
            return new DataAddress(repo, branch, DataPath.Root, HasPath: false);
        }
        var rawPath = text[(colon + 1)..];
        if (rawPath.Length == 0)
        {
            throw new DataException(DataErrorKind.Invalid, $"invalid address '{text}': empty path after ':'");
        }
        try
        {
            return new DataAddress(repo, branch, DataPath.Normalize(rawPath), HasPath: true);
        }
        catch (DataException e)
        {
            throw new DataException(DataErrorKind.Invalid, $"invalid address '{text}': {e.Message}");
        }
    }

    public static bool TryParse(string text, [NotNullWhen(true)] out DataAddress? address)
    {
        try
        {
            address = Parse(text);
            return true;
        }
        catch (DataException)
        {
            address = null;
            return false;
        }
    }

    /// <summary>Repo and branch names: letters, digits, '_', '-' and '.', starting with a letter or digit, at most 100 characters.</summary>
    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 100
        && char.IsAsciiLetterOrDigit(name[0])
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.');

    internal static string NameRule(string what, string name) => name.Length == 0
        ? $"the {what} name is empty"
        : $"'{name}' is not a valid {what} name (letters, digits, '_', '-', '.'; starting with a letter or digit)";
}
