using System.Text;
using System.Text.RegularExpressions;

namespace Reel.Data;

/// <summary>
/// Path globs as Pachyderm uses them: <c>*</c> any characters but '/', <c>?</c> one character but '/',
/// <c>**</c> any number of whole segments (including none). Patterns are matched against the whole path.
/// </summary>
public sealed class Glob
{
    private readonly Regex _regex;

    private Glob(string pattern, Regex regex)
    {
        Pattern = pattern;
        _regex = regex;
    }

    public string Pattern { get; }

    public static Glob Parse(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        var normalized = "/" + pattern.TrimStart('/');
        var regex = new StringBuilder("^");
        for (var i = 0; i < normalized.Length; i++)
        {
            var c = normalized[i];
            if (c == '*' && i + 1 < normalized.Length && normalized[i + 1] == '*')
            {
                var wholeSegment = normalized[i - 1] == '/' && (i + 2 == normalized.Length || normalized[i + 2] == '/');
                if (wholeSegment && i + 2 < normalized.Length)
                {
                    // "/**/" matches "/" or "/any/number/of/segments/".
                    regex.Append("(?:[^/]+/)*");
                    i += 2;
                }
                else
                {
                    regex.Append(".*");
                    i++;
                }
            }
            else if (c == '*')
            {
                regex.Append("[^/]*");
            }
            else if (c == '?')
            {
                regex.Append("[^/]");
            }
            else
            {
                regex.Append(Regex.Escape(c.ToString()));
            }
        }
        regex.Append('$');
        return new Glob(normalized, new Regex(regex.ToString(), RegexOptions.CultureInvariant | RegexOptions.Singleline));
    }

    public bool IsMatch(string path) => _regex.IsMatch(path);
}
