using System.CommandLine;
using Reel.Data;
using static Reel.Cli.Commands.DataCommandSupport;

namespace Reel.Cli.Commands;

/// <summary><c>reel put REPO@BRANCH:PATH -f FILE|DIR [-r]</c>: one commit holding the branch's files plus these.</summary>
internal static class PutCommand
{
    public static Command Create()
    {
        var dataDir = DataDirOption();
        var address = new Argument<string>("REPO@BRANCH:PATH")
        {
            Description = "Where to put it; a path ending in '/' (or none) puts the file under its own name",
        };
        var file = new Option<string>("--file", "-f") { Description = "File, directory or http(s) URL to put", Required = true };
        var recursive = new Option<bool>("--recursive", "-r") { Description = "Put a directory's files, keeping their relative paths" };
        var message = new Option<string?>("--message", "-m") { Description = "Commit message (default: what was put where)" };
        var command = new Command(
            "put",
            "Put a file, directory or http(s) URL into a repo branch as one new commit; prints the commit id. "
            + "The branch is created if new.\n\n"
            + "Examples:\n"
            + "  reel put videos@master:/clips/a.mp4 -f a.mp4\n"
            + "  reel put videos -f a.mp4                       (videos@master:/a.mp4)\n"
            + "  reel put videos@dev:/raw/ -f footage/ -r\n"
            + "  reel put videos -f https://example.com/clip.mp4")
        {
            address, file, recursive, message, dataDir,
        };
        command.SetAction((result, cancellationToken) => Remote.For(result) is { } remote
            ? remote.RunAsync("put", async r =>
            {
                var plan = Plan(result.GetRequiredValue(address), result.GetRequiredValue(file), result.GetValue(recursive));
                if (plan.Files is not [var (source, target)] || IsUrl(source) || result.GetValue(recursive))
                {
                    throw Remote.Unsupported("over --server, put takes one local file (each upload is one commit)");
                }
                var put = await r.PutFileAsync(Remote.FilePath(plan.Target.Repo, plan.Target.Branch, target), source);
                await Console.Out.WriteLineAsync(put.GetProperty("commit").GetString());
                return ExitCodes.Ok;
            })
            : RunAsync(
            "put", result, dataDir, () => Plan(result.GetRequiredValue(address), result.GetRequiredValue(file), result.GetValue(recursive)),
            async (store, plan) =>
            {
                foreach (var (source, _) in plan.Files)
                {
                    if (!IsUrl(source) && !File.Exists(source))
                    {
                        throw new DataException(DataErrorKind.NotFound, $"{source}: no such file");
                    }
                }
                var text = result.GetValue(message) ?? $"put {result.GetRequiredValue(file)} to {plan.Target}";
                await using var writer = await store.BeginCommitAsync(plan.Target.Repo, plan.Target.Branch, text, cancellationToken);
                foreach (var (source, target) in plan.Files)
                {
                    if (IsUrl(source))
                    {
                        await PutUrlAsync(writer, new Uri(source), target, cancellationToken);
                        continue;
                    }
                    await using var content = new FileStream(
                        source, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
                    await writer.PutFileAsync(target, content, cancellationToken);
                }
                var commit = await writer.FinishAsync(cancellationToken);
                await Console.Out.WriteLineAsync(commit.Id);
                // A commit to a pipeline's input starts its job now, in the background engine.
                await PipelineSupport.StartAfterCommitAsync(store, cancellationToken);
                return ExitCodes.Ok;
            },
            cancellationToken));
        return command;
    }

    private static bool IsUrl(string source) =>
        source.StartsWith("http://", StringComparison.OrdinalIgnoreCase) || source.StartsWith("https://", StringComparison.OrdinalIgnoreCase);

    /// <summary>Streams the response body straight into the object store; a failed download commits nothing.</summary>
    private static async Task PutUrlAsync(CommitWriter writer, Uri url, string target, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        HttpResponseMessage response;
        try
        {
            response = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        }
        catch (HttpRequestException e)
        {
            throw new DataException(DataErrorKind.NotFound, $"{url}: {e.Message}");
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode)
            {
                throw new DataException(DataErrorKind.NotFound, $"{url}: HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            }
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            try
            {
                await writer.PutFileAsync(target, body, cancellationToken);
            }
            catch (HttpRequestException e)
            {
                throw new DataException(DataErrorKind.NotFound, $"{url}: the download failed: {e.Message}");
            }
        }
    }

    private sealed record PutPlan(DataAddress Target, IReadOnlyList<(string Source, string Target)> Files);

    /// <summary>Which local file goes to which path; malformed requests are usage errors, missing inputs are not.</summary>
    private static PutPlan Plan(string addressText, string source, bool recursive)
    {
        var address = DataAddress.Parse(addressText);
        var intoDirectory = !address.HasPath || addressText.EndsWith('/');
        if (IsUrl(source))
        {
            if (!Uri.TryCreate(source, UriKind.Absolute, out var url))
            {
                throw new ArgumentException($"{source} is not a valid URL");
            }
            if (recursive)
            {
                throw new ArgumentException($"{source}: -r takes a directory, not a URL");
            }
            var name = Uri.UnescapeDataString(url.AbsolutePath.TrimEnd('/').Split('/')[^1]);
            if (intoDirectory && name.Length == 0)
            {
                throw new ArgumentException($"{source} names no file; give the path to put it at, e.g. {address.Repo}@{address.Branch}:/file");
            }
            return new PutPlan(address, [(source, intoDirectory ? DataPath.Combine(address.Path, name) : address.Path)]);
        }
        if (Directory.Exists(source))
        {
            if (!recursive)
            {
                throw new ArgumentException($"{source} is a directory; add -r to put its files");
            }
            var root = Path.GetFullPath(source);
            var files = Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                .Order(StringComparer.Ordinal)
                .Select(f => (f, DataPath.Combine(address.Path, Path.GetRelativePath(root, f))))
                .ToList();
            return new PutPlan(address, files);
        }
        var target = intoDirectory ? DataPath.Combine(address.Path, Path.GetFileName(source)) : address.Path;
        return new PutPlan(address, [(source, target)]);
    }
}
