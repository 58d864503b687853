using System.Globalization;
using System.Text.Json.Nodes;

namespace Reel.Pipelines.Specs;

/// <summary>
/// One object of a spec, read with errors that name the field ("frames.json: input.pfs.repo is required").
/// Keys match without regard to case or underscores, so Pachyderm's <c>datum_tries</c> and <c>datumTries</c> both work.
/// Keys never read are reported by <see cref="Unread"/>.
/// </summary>
internal sealed class SpecNode
{
    private readonly string _source;
    private readonly string _path;
    private readonly Dictionary<string, (string Key, JsonNode? Value)> _fields = new(StringComparer.Ordinal);
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);
    private readonly List<SpecNode> _children = [];

    public SpecNode(string source, string path, JsonObject json)
    {
        _source = source;
        _path = path;
        foreach (var (key, value) in json)
        {
            _fields[Normalize(key)] = (key, value);
        }
    }

    public bool Has(string key) => _fields.ContainsKey(Normalize(key));

    public SpecException Error(string key, string problem) => new($"{_source}: {Qualified(key)} {problem}");

    public SpecException Invalid(string problem) => new($"{_source}: {_path}: {problem}");

    public string? String(string key)
    {
        var value = Value(key);
        return value switch
        {
            null => null,
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            JsonValue v => v.ToJsonString(),
            _ => throw Error(key, "must be a string"),
        };
    }

    public string RequiredString(string key) =>
        String(key) is { Length: > 0 } s ? s : throw Error(key, "is required");

    public int? Int(string key, int min)
    {
        var text = String(key);
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n >= min
            ? n
            : throw Error(key, $"must be a whole number of at least {min}, not '{text}'");
    }

    public double? Number(string key)
    {
        var text = String(key);
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && double.IsFinite(n)
            ? n
            : throw Error(key, $"must be a number, not '{text}'");
    }

    public bool Bool(string key)
    {
        var text = String(key);
        return string.IsNullOrEmpty(text) ? false
            : bool.TryParse(text, out var b) ? b
            : throw Error(key, $"must be true or false, not '{text}'");
    }

    /// <summary>A duration as Pachyderm writes them ("30s", "10m", "1h30m", "1.5h") or plain seconds.</summary>
    public TimeSpan? Duration(string key)
    {
        var text = String(key);
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        return Durations.TryParse(text, out var duration) && duration > TimeSpan.Zero
            ? duration
            : throw Error(key, $"must be a duration such as 30s, 10m or 1h30m, not '{text}'");
    }

    public IReadOnlyList<string> Strings(string key)
    {
        var value = Value(key);
        return value switch
        {
            null => [],
            JsonArray array => array.Select((item, i) => item is JsonValue v
                ? v.TryGetValue<string>(out var s) ? s : v.ToJsonString()
                : throw Error($"{key}[{i}]", "must be a string")).ToList(),
            JsonValue v when v.TryGetValue<string>(out var s) => [s],
            _ => throw Error(key, "must be a list of strings"),
        };
    }

    public IReadOnlyDictionary<string, string> StringMap(string key)
    {
        var value = Value(key);
        return value switch
        {
            null => new Dictionary<string, string>(),
            JsonObject map => map.ToDictionary(
                p => p.Key,
                p => p.Value is JsonValue v ? (v.TryGetValue<string>(out var s) ? s : v.ToJsonString()) : throw Error($"{key}.{p.Key}", "must be a string"),
                StringComparer.Ordinal),
            _ => throw Error(key, "must be a map of names to strings"),
        };
    }

    public SpecNode? Object(string key) => Value(key) switch
    {
        null => null,
        JsonObject o => Child(Qualified(key), o),
        _ => throw Error(key, "must be an object"),
    };

    public SpecNode RequiredObject(string key) => Object(key) ?? throw Error(key, "is required");

    public IReadOnlyList<SpecNode> Objects(string key) => Value(key) switch
    {
        null => [],
        JsonArray array => array.Select((item, i) => item is JsonObject o
            ? Child($"{Qualified(key)}[{i}]", o)
            : throw Error($"{key}[{i}]", "must be an object")).ToList(),
        _ => throw Error(key, "must be a list"),
    };

    /// <summary>The one key this object holds (a step such as <c>{extract: {...}}</c>), with its value as an object.</summary>
    public (string Key, SpecNode Options) Single()
    {
        if (_fields.Count != 1)
        {
            throw new SpecException($"{_source}: {_path} must hold exactly one key, the step's name");
        }
        var (key, value) = _fields.Values.First();
        _read.Add(Normalize(key));
        return value switch
        {
            null => (key, Child($"{_path}.{key}", [])),
            JsonObject o => (key, Child($"{_path}.{key}", o)),
            _ => throw Error(key, "must be an object of options"),
        };
    }

    /// <summary>Every field, here and below, that was never read: accepted, not used.</summary>
    public IEnumerable<string> Unread() =>
        _fields.Where(f => !_read.Contains(f.Key)).Select(f => Qualified(f.Value.Key)).Concat(_children.SelectMany(c => c.Unread()));

    private JsonNode? Value(string key)
    {
        var normalized = Normalize(key);
        _read.Add(normalized);
        return _fields.TryGetValue(normalized, out var field) ? field.Value : null;
    }

    private SpecNode Child(string path, JsonObject json)
    {
        var child = new SpecNode(_source, path, json);
        _children.Add(child);
        return child;
    }

    private string Qualified(string key) => _path.Length == 0 ? key : $"{_path}.{key}";

    private static string Normalize(string key) => key.Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();
}

internal static class Durations
{
    public static bool TryParse(string text, out TimeSpan duration)
    {
        duration = TimeSpan.Zero;
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
        {
            duration = TimeSpan.FromSeconds(seconds);
            return seconds > 0 && double.IsFinite(seconds);
        }
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }
            if (start == i || !double.TryParse(text.AsSpan(start, i - start), NumberStyles.Float, CultureInfo.InvariantCulture, out var amount))
            {
                return false;
            }
            var unitStart = i;
            while (i < text.Length && char.IsAsciiLetter(text[i]))
            {
                i++;
            }
            TimeSpan? unit = text[unitStart..i] switch
            {
                "ms" => TimeSpan.FromMilliseconds(1),
                "s" => TimeSpan.FromSeconds(1),
                "m" => TimeSpan.FromMinutes(1),
                "h" => TimeSpan.FromHours(1),
                _ => null,
            };
            if (unit is null)
            {
                return false;
            }
            duration += unit.Value * amount;
        }
        return true;
    }
}
