using System.Text.RegularExpressions;
using Reel.Data;
using Reel.Pipelines.Datums;
using Reel.Pipelines.Specs;

namespace Reel.Pipelines.Execution;

/// <summary>
/// Runs one try of a datum: lays its input files out under <c>pfs/&lt;input&gt;/</c> in the worker slot's scratch
/// directory (hard links to the stored objects), runs the transform with an empty <c>pfs/out</c>, and stores what it
/// wrote there. A command sees the scratch <c>pfs</c> wherever its arguments or stdin say <c>/pfs</c>, and gets the
/// directories in <c>REEL_INPUT_DIR</c>, <c>REEL_OUTPUT_DIR</c> and <c>REEL_PFS_DIR</c>; it runs in the spec's directory.
/// </summary>
/// <remarks>
/// One runner per worker slot, each with its own scratch directory, which is emptied but not recreated between datums:
/// with many small datums, creating and removing directories costs more than running the command.
/// </remarks>
/// <param name="watcher">Who sees the frames of analyze steps as they are analyzed; null for nobody.</param>
public sealed partial class DatumRunner(IObjectStore objects, string scratch, IDatumWatcher? watcher = null)
{
    /// <summary>The input directories the scratch holds, empty, after the last datum; null when it must be cleaned first.</summary>
    private HashSet<string>? _clean;

    /// <summary>A successful try of the whole datum: its outputs, stored, with their paths under <c>/pfs/out</c>, and the frames it processed.</summary>
    public Task<DatumRun> RunAsync(
        PipelineSpec spec, string jobId, Datum datum, string logPath, CancellationToken cancellationToken) =>
        RunAsync(spec, jobId, datum, null, 1, logPath, cancellationToken);

    /// <summary>
    /// One try of one task of a datum: the whole datum (<paramref name="part"/> null), which may instead answer with the
    /// pieces it splits into when <paramref name="slots"/> free slots can share it (<see cref="DatumSplit"/>); one piece;
    /// or the merge of the pieces.
    /// </summary>
    public async Task<DatumRun> RunAsync(
        PipelineSpec spec, string jobId, Datum datum, DatumPart? part, int slots, string logPath, CancellationToken cancellationToken)
    {
        var pfs = Path.Combine(scratch, "pfs");
        var output = Path.Combine(pfs, "out");
        // A piece's results for the merge, and the merge's copies of every piece's: beside pfs, never in the output.
        var partial = Path.Combine(scratch, "partial");
        var pieceCopies = Path.Combine(scratch, "pieces");
        var keep = spec.Input.Repos.Select(r => r.Name).Append("out").ToHashSet(StringComparer.Ordinal);
        if (_clean is null || !_clean.SetEquals(keep))
        {
            Empty(pfs, keep);
            foreach (var directory in keep)
            {
                Directory.CreateDirectory(Path.Combine(pfs, directory));
            }
        }
        _clean = null;
        foreach (var file in datum.Files)
        {
            var target = Path.Combine(pfs, file.Input, file.Path.TrimStart('/'));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            // From the directory store itself, or from the node's cache of an S3 store (hash-checked when filled).
            var stored = await objects.GetLocalPathAsync(file.Hash, cancellationToken);
            if (spec.Transform.Steps.Count > 0)
            {
                FileLinks.LinkOrCopy(stored, target);
            }
            else
            {
                FileLinks.Copy(stored, target);
            }
        }
        try
        {
            long frames = 0;
            var splittable = DatumSplit.SplittableStep(spec, datum);
            var video = splittable is null ? null : Path.Combine(pfs, datum.Files[0].Input, datum.Files[0].Path.TrimStart('/'));
            if (part is not null)
            {
                var step = splittable ?? throw new InvalidOperationException($"datum {datum.Describe()} cannot run in pieces");
                if (part.IsMerge)
                {
                    step.Merge(video!, output, await FetchPartialsAsync(part.Partials, pieceCopies, cancellationToken), cancellationToken);
                }
                else
                {
                    if (Directory.Exists(partial))
                    {
                        Directory.Delete(partial, recursive: true);
                    }
                    Directory.CreateDirectory(partial);
                    await using var uploads = new OutputUploads(objects, output, cancellationToken);
                    frames = step is AnalyzeStep analyze && watcher?.Watch(spec.Name, datum, part, cancellationToken) is { } observer
                        ? await WatchedAsync(observer, () => analyze.RunPieceAsync(video!, part.Frames, partial, Environment.ProcessorCount, observer, cancellationToken))
                        : await step.RunPieceAsync(video!, part.Frames, output, partial, Environment.ProcessorCount, uploads.Finished, cancellationToken);
                    return new DatumRun(await uploads.CompleteAsync(cancellationToken), [], frames) { Partial = await StoreOutputsAsync(partial, cancellationToken) };
                }
            }
            else if (splittable is not null && slots > 1 && splittable.Plan(video!, slots, cancellationToken) is { Count: > 1 } pieces)
            {
                return new DatumRun([], pieces);
            }
            else if (spec.Transform.Steps.Count > 0)
            {
                await using var uploads = new OutputUploads(objects, output, cancellationToken);
                frames = spec.Transform.Steps is [AnalyzeStep analyze] && watcher?.Watch(spec.Name, datum, null, cancellationToken) is { } observer
                    ? await WatchedAsync(observer, () => analyze.RunAsync(Inputs(pfs, output), output, Environment.ProcessorCount, observer, cancellationToken))
                    : await RunStepsAsync(spec.Transform.Steps, pfs, output, uploads.Finished, cancellationToken);
                return new DatumRun(await uploads.CompleteAsync(cancellationToken), [], frames);
            }
            else
            {
                await RunCommandAsync(spec, jobId, datum, pfs, output, logPath, cancellationToken);
            }
            return new DatumRun(await StoreOutputsAsync(output, cancellationToken), [], frames);
        }
        finally
        {
            Empty(pfs, keep);
            _clean = keep;
            if (part is not null)
            {
                foreach (var directory in new[] { partial, pieceCopies }.Where(Directory.Exists))
                {
                    Directory.Delete(directory, recursive: true);
                }
            }
        }
    }

    /// <summary>Lays each piece's partial results out in a directory of its own (hard links to the stored objects), in frame order.</summary>
    private async Task<IReadOnlyList<string>> FetchPartialsAsync(
        IReadOnlyList<IReadOnlyList<FileEntry>> partials, string root, CancellationToken cancellationToken)
    {
        var directories = new List<string>();
        for (var i = 0; i < partials.Count; i++)
        {
            var directory = Path.Combine(root, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Directory.CreateDirectory(directory);
            foreach (var file in partials[i])
            {
                var target = Path.Combine(directory, file.Path.TrimStart('/'));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                FileLinks.LinkOrCopy(await objects.GetLocalPathAsync(file.Hash, cancellationToken), target);
            }
            directories.Add(directory);
        }
        return directories;
    }

    /// <summary>Removes everything under <paramref name="pfs"/> but the (then empty) top directories named in <paramref name="keep"/>.</summary>
    private static void Empty(string pfs, IReadOnlySet<string> keep)
    {
        if (!Directory.Exists(pfs))
        {
            return;
        }
        foreach (var top in new DirectoryInfo(pfs).EnumerateFileSystemInfos())
        {
            if (top is DirectoryInfo directory && keep.Contains(top.Name))
            {
                foreach (var entry in directory.EnumerateFileSystemInfos())
                {
                    Delete(entry);
                }
            }
            else
            {
                Delete(top);
            }
        }
    }

    private static void Delete(FileSystemInfo entry)
    {
        if (entry is DirectoryInfo directory && !entry.Attributes.HasFlag(FileAttributes.ReparsePoint))
        {
            directory.Delete(recursive: true);
        }
        else
        {
            entry.Delete();
        }
    }

    /// <summary>Runs a watched task; the observer is disposed (its last results written) whether it succeeds or not.</summary>
    private static async Task<long> WatchedAsync(Operators.Analysis.IFrameObserver observer, Func<Task<long>> run)
    {
        try
        {
            return await run();
        }
        finally
        {
            if (observer is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
        }
    }

    /// <summary>The datum's input files under <paramref name="pfs"/>, in order.</summary>
    private static List<string> Inputs(string pfs, string output) => Directory.EnumerateFiles(pfs, "*", SearchOption.AllDirectories)
        .Where(f => !f.StartsWith(output + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        .Order(StringComparer.Ordinal)
        .ToList();

    private static async Task<long> RunStepsAsync(
        IReadOnlyList<BuiltInStep> steps, string pfs, string output, Action<string> outputDone, CancellationToken cancellationToken)
    {
        long frames = 0;
        var inputs = Inputs(pfs, output);
        foreach (var step in steps)
        {
            // One step writes straight to /pfs/out; several keep apart in a folder each.
            var target = steps.Count == 1 ? output : Path.Combine(output, step.Name);
            frames += await step.RunAsync(inputs, target, Environment.ProcessorCount, outputDone, cancellationToken);
        }
        return frames;
    }

    private static async Task RunCommandAsync(
        PipelineSpec spec, string jobId, Datum datum, string pfs, string output, string logPath, CancellationToken cancellationToken)
    {
        var transform = spec.Transform;
        var command = transform.Cmd.Select((argument, i) => i == 0 ? argument : MapPfs(argument, pfs)).ToList();
        var environment = new Dictionary<string, string>(BaseEnvironment.Value, StringComparer.Ordinal);
        foreach (var (name, value) in transform.Env)
        {
            environment[name] = MapPfs(value, pfs);
        }
        environment["REEL_PFS_DIR"] = pfs;
        environment["REEL_INPUT_DIR"] = Path.Combine(pfs, spec.Input.Repos.First().Name);
        environment["REEL_OUTPUT_DIR"] = output;
        environment["REEL_JOB_ID"] = jobId;
        environment["REEL_DATUM_ID"] = datum.Id;
        var stdin = "/dev/null";
        if (transform.Stdin.Count > 0)
        {
            stdin = Path.Combine(Path.GetDirectoryName(pfs)!, "stdin");
            await File.WriteAllLinesAsync(stdin, transform.Stdin.Select(line => MapPfs(line, pfs)), cancellationToken);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (spec.DatumTimeout is { } limit)
        {
            timeout.CancelAfter(limit);
        }
        // The command writes to the slot's log; only what it printed is kept, in the datum's log, so datums that
        // print nothing create no file (with many small datums, creating files is what costs most).
        var slotLog = Path.Combine(Path.GetDirectoryName(pfs)!, "log");
        int exitCode;
        try
        {
            exitCode = await ChildProcess.RunAsync(command, environment, transform.WorkingDirectory, stdin, slotLog, timeout.Token);
        }
        finally
        {
            KeepLog(slotLog, logPath);
        }
        cancellationToken.ThrowIfCancellationRequested();
        if (timeout.IsCancellationRequested)
        {
            throw new StepFailedException($"timed out after {spec.DatumTimeout}");
        }
        if (exitCode != 0)
        {
            var lastLine = LastLine(slotLog);
            throw new StepFailedException(exitCode > 128
                ? $"{command[0]} was killed by signal {exitCode - 128}"
                : $"{command[0]} exited with code {exitCode}" + (lastLine is null ? "" : $": {lastLine}"));
        }
    }

    private static readonly Lazy<Dictionary<string, string>> BaseEnvironment = new(() =>
        Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
            .ToDictionary(e => (string)e.Key, e => (string?)e.Value ?? "", StringComparer.Ordinal));

    private static void KeepLog(string slotLog, string logPath)
    {
        if (new FileInfo(slotLog) is not { Exists: true, Length: > 0 })
        {
            return;
        }
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        using var source = File.OpenRead(slotLog);
        using var target = new FileStream(logPath, FileMode.Append, FileAccess.Write);
        source.CopyTo(target);
    }

    /// <summary>The last non-blank line of a log (what a failing command usually says last).</summary>
    private static string? LastLine(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }
        using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        file.Position = Math.Max(0, file.Length - 4096);
        using var reader = new StreamReader(file);
        return reader.ReadToEnd().Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0);
    }

    /// <summary>Stores everything under <paramref name="output"/> (a directory store renames the files, no copies; S3 uploads them).</summary>
    private async Task<IReadOnlyList<FileEntry>> StoreOutputsAsync(string output, CancellationToken cancellationToken)
    {
        await using var uploads = new OutputUploads(objects, output, cancellationToken);
        return await uploads.CompleteAsync(cancellationToken);
    }

    /// <summary>"/pfs/videos" → "&lt;scratch&gt;/pfs/videos": Pachyderm's paths, wherever they start a word.</summary>
    internal static string MapPfs(string text, string pfs) => PfsPath().Replace(text, _ => pfs);

    [GeneratedRegex(@"(?<![\w.~/-])/pfs(?=/|$|[^\w.-])")]
    private static partial Regex PfsPath();
}
