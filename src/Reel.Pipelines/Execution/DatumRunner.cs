using System.Diagnostics;
using System.Text.RegularExpressions;
using Reel.Data;
using Reel.Pipelines.Datums;
using Reel.Pipelines.Specs;

namespace Reel.Pipelines.Execution;

/// <summary>
/// Runs one try of a datum: lays its input files out under <c>pfs/&lt;input&gt;/</c> in a scratch directory (hard
/// links to the stored objects), runs the transform with an empty <c>pfs/out</c>, and stores what it wrote there.
/// A command sees the scratch <c>pfs</c> wherever its arguments or stdin say <c>/pfs</c>, and gets the directories in
/// <c>REEL_INPUT_DIR</c>, <c>REEL_OUTPUT_DIR</c> and <c>REEL_PFS_DIR</c>; it runs in the spec's directory.
/// </summary>
public sealed partial class DatumRunner(ObjectStore objects, string scratchRoot)
{
    /// <summary>The outputs of a successful try, as stored objects with their paths under <c>/pfs/out</c>.</summary>
    public async Task<IReadOnlyList<FileEntry>> RunAsync(
        PipelineSpec spec, string jobId, Datum datum, TextWriter log, CancellationToken cancellationToken)
    {
        var root = Path.Combine(scratchRoot, jobId, datum.Id);
        if (Directory.Exists(root))
        {
            Directory.Delete(root, recursive: true);
        }
        var pfs = Path.Combine(root, "pfs");
        var output = Path.Combine(pfs, "out");
        Directory.CreateDirectory(output);
        try
        {
            foreach (var file in datum.Files)
            {
                var target = Path.Combine(pfs, file.Input, file.Path.TrimStart('/'));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                FileLinks.LinkOrCopy(objects.PathOf(file.Hash), target);
            }
            foreach (var input in spec.Input.Repos)
            {
                Directory.CreateDirectory(Path.Combine(pfs, input.Name));
            }
            if (spec.Transform.Steps.Count > 0)
            {
                await RunStepsAsync(spec.Transform.Steps, pfs, output, cancellationToken);
            }
            else
            {
                await RunCommandAsync(spec, jobId, datum, pfs, output, log, cancellationToken);
            }
            return await StoreOutputsAsync(output, cancellationToken);
        }
        finally
        {
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // A command may leave read-only trees behind; the next try of this datum starts by deleting again.
            }
        }
    }

    private static async Task RunStepsAsync(IReadOnlyList<BuiltInStep> steps, string pfs, string output, CancellationToken cancellationToken)
    {
        var inputs = Directory.EnumerateFiles(pfs, "*", SearchOption.AllDirectories)
            .Where(f => !f.StartsWith(output + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        foreach (var step in steps)
        {
            // One step writes straight to /pfs/out; several keep apart in a folder each.
            var target = steps.Count == 1 ? output : Path.Combine(output, step.Name);
            await step.RunAsync(inputs, target, Environment.ProcessorCount, cancellationToken);
        }
    }

    private static async Task RunCommandAsync(
        PipelineSpec spec, string jobId, Datum datum, string pfs, string output, TextWriter log, CancellationToken cancellationToken)
    {
        var transform = spec.Transform;
        var start = new ProcessStartInfo(transform.Cmd[0])
        {
            WorkingDirectory = transform.WorkingDirectory,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in transform.Cmd.Skip(1))
        {
            start.ArgumentList.Add(MapPfs(argument, pfs));
        }
        foreach (var (name, value) in transform.Env)
        {
            start.Environment[name] = MapPfs(value, pfs);
        }
        start.Environment["REEL_PFS_DIR"] = pfs;
        start.Environment["REEL_INPUT_DIR"] = Path.Combine(pfs, spec.Input.Repos.First().Name);
        start.Environment["REEL_OUTPUT_DIR"] = output;
        start.Environment["REEL_JOB_ID"] = jobId;
        start.Environment["REEL_DATUM_ID"] = datum.Id;

        using var process = new Process { StartInfo = start };
        var lastError = "";
        var gate = new object();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (gate)
                {
                    log.WriteLine(e.Data);
                }
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (gate)
                {
                    log.WriteLine(e.Data);
                    if (e.Data.Trim().Length > 0)
                    {
                        lastError = e.Data.Trim();
                    }
                }
            }
        };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new StepFailedException($"cannot run '{transform.Cmd[0]}': {e.Message}");
        }
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (spec.DatumTimeout is { } limit)
        {
            timeout.CancelAfter(limit);
        }
        try
        {
            try
            {
                foreach (var line in transform.Stdin)
                {
                    await process.StandardInput.WriteLineAsync(MapPfs(line, pfs).AsMemory(), timeout.Token);
                }
                process.StandardInput.Close();
            }
            catch (IOException)
            {
                // The command stopped reading its input; its exit code says whether that was a failure.
            }
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            cancellationToken.ThrowIfCancellationRequested();
            throw new StepFailedException($"timed out after {spec.DatumTimeout}");
        }
        if (process.ExitCode != 0)
        {
            lock (gate)
            {
                throw new StepFailedException(lastError.Length > 0
                    ? $"{transform.Cmd[0]} exited with code {process.ExitCode}: {lastError}"
                    : $"{transform.Cmd[0]} exited with code {process.ExitCode}");
            }
        }
    }

    private async Task<IReadOnlyList<FileEntry>> StoreOutputsAsync(string output, CancellationToken cancellationToken)
    {
        var stored = new List<FileEntry>();
        foreach (var file in Directory.EnumerateFiles(output, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            await using var content = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            var entry = await objects.PutAsync(content, cancellationToken);
            stored.Add(new FileEntry(DataPath.Combine("/", Path.GetRelativePath(output, file)), entry.Hash, entry.Size));
        }
        return stored;
    }

    /// <summary>"/pfs/videos" → "&lt;scratch&gt;/pfs/videos": Pachyderm's paths, wherever they start a word.</summary>
    internal static string MapPfs(string text, string pfs) => PfsPath().Replace(text, _ => pfs);

    [GeneratedRegex(@"(?<![\w.~/-])/pfs(?=/|$|[^\w.-])")]
    private static partial Regex PfsPath();
}
