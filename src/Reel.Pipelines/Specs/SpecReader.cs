using System.Text.Json;
using System.Text.Json.Nodes;
using Reel.Data;
using YamlDotNet.Core;
using YamlDotNet.Serialization;

namespace Reel.Pipelines.Specs;

/// <summary>
/// Reads pipeline specs: Reel's own in YAML or JSON, and Pachyderm's JSON as it is (<c>pipeline.name</c>,
/// <c>input.pfs</c>/<c>cross</c>/<c>union</c>, <c>transform.cmd</c>/<c>stdin</c>/<c>env</c>, <c>parallelism_spec</c>,
/// <c>datum_tries</c>, timeouts). Fields Reel does not use, such as <c>transform.image</c>, are listed in
/// <see cref="PipelineSpec.Ignored"/> rather than refused.
/// </summary>
public static class SpecReader
{
    /// <summary>Reads the spec file at <paramref name="path"/>; its commands run in the file's directory.</summary>
    public static PipelineSpec ReadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SpecException($"{path}: {e.Message}");
        }
        return Parse(text, Path.GetFileName(path), Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>Parses spec text (JSON, or YAML when it is not JSON); <paramref name="source"/> names it in errors.</summary>
    public static PipelineSpec Parse(string text, string source, string workingDirectory)
    {
        var root = new SpecNode(source, "", ToJson(text, source));
        var name = root.Object("pipeline")?.RequiredString("name") ?? root.String("name")
            ?? throw root.Error("pipeline.name", "is required");
        if (!DataAddress.IsValidName(name))
        {
            throw root.Error("pipeline.name", $"'{name}' is not a valid name (letters, digits, '-', '_' and '.')");
        }
        var input = ReadInput(root.RequiredObject("input"), root);
        var transform = ReadTransform(root.RequiredObject("transform"), workingDirectory);
        if (input.Repos.Any(r => r.Repo == name))
        {
            throw root.Error("input", $"reads repo '{name}', the pipeline's own output");
        }
        var duplicate = input.Repos.GroupBy(r => r.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            throw root.Error("input", $"has two inputs named '{duplicate.Key}'; give one a different 'name'");
        }
        var parallelism = root.Int("parallelism", 0) ?? root.Object("parallelism_spec")?.Int("constant", 0) ?? 0;
        var spec = new PipelineSpec
        {
            Name = name,
            Description = root.String("description") ?? "",
            Input = input,
            Transform = transform,
            Parallelism = parallelism,
            DatumTries = root.Int("datum_tries", 1) ?? 3,
            DatumTimeout = root.Duration("datum_timeout"),
            JobTimeout = root.Duration("job_timeout"),
        };
        return spec with { Ignored = root.Unread().ToList() };
    }

    private static InputSpec ReadInput(SpecNode input, SpecNode root)
    {
        var kinds = new[] { "pfs", "cross", "union" }.Where(input.Has).ToList();
        if (kinds.Count != 1)
        {
            throw root.Error("input", "must have exactly one of pfs, cross or union");
        }
        if (kinds[0] == "pfs")
        {
            var pfs = input.RequiredObject("pfs");
            var repo = pfs.RequiredString("repo");
            var branch = pfs.String("branch") ?? "master";
            foreach (var (field, value) in new[] { ("repo", repo), ("branch", branch) })
            {
                if (!DataAddress.IsValidName(value))
                {
                    throw pfs.Error(field, $"'{value}' is not a valid name");
                }
            }
            var inputName = pfs.String("name") ?? repo;
            if (!DataAddress.IsValidName(inputName))
            {
                throw pfs.Error("name", $"'{inputName}' is not a valid name");
            }
            var glob = pfs.RequiredString("glob");
            return new RepoInput(inputName, repo, branch, "/" + glob.TrimStart('/'));
        }
        var parts = input.Objects(kinds[0]);
        if (parts.Count == 0)
        {
            throw input.Error(kinds[0], "needs at least one input");
        }
        var inputs = parts.Select(p => ReadInput(p, root)).ToList();
        return kinds[0] == "cross" ? new CrossInput(inputs) : new UnionInput(inputs);
    }

    private static TransformSpec ReadTransform(SpecNode transform, string workingDirectory)
    {
        var cmd = transform.Strings("cmd");
        var steps = transform.Objects("steps").Select(BuiltInStep.Parse).ToList();
        if ((cmd.Count == 0) == (steps.Count == 0))
        {
            throw transform.Error("cmd", "or transform.steps is required (one of them, not both)");
        }
        return new TransformSpec
        {
            Cmd = cmd,
            Stdin = transform.Strings("stdin"),
            Env = transform.StringMap("env"),
            Steps = steps,
            WorkingDirectory = workingDirectory,
        };
    }

    private static JsonObject ToJson(string text, string source)
    {
        var trimmed = text.TrimStart();
        if (trimmed.StartsWith('{'))
        {
            try
            {
                return JsonNode.Parse(text) as JsonObject ?? throw new SpecException($"{source}: the spec must be an object");
            }
            catch (JsonException e)
            {
                throw new SpecException($"{source}: not valid JSON: {e.Message}");
            }
        }
        object? yaml;
        try
        {
            yaml = new DeserializerBuilder().Build().Deserialize<object>(text);
        }
        catch (YamlException e)
        {
            throw new SpecException($"{source}: not valid YAML or JSON: {e.Message}");
        }
        return FromYaml(yaml) as JsonObject ?? throw new SpecException($"{source}: the spec must be a map of fields");
    }

    private static JsonNode? FromYaml(object? value) => value switch
    {
        null => null,
        IDictionary<object, object> map => new JsonObject(map.Select(p => KeyValuePair.Create(p.Key.ToString() ?? "", FromYaml(p.Value)))),
        IList<object> list => new JsonArray(list.Select(FromYaml).ToArray()),
        _ => JsonValue.Create(value.ToString()),
    };
}
