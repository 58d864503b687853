using System.Diagnostics;
using System.Text;

namespace Reel.Operators.Rendering;

/// <summary>
/// An <c>ffmpeg</c> child process: stderr drained as it runs (the last lines kept for the error message),
/// stdin optionally open for raw frames, the whole process tree killed on cancellation or disposal.
/// </summary>
internal sealed class FfmpegProcess : IDisposable
{
    private const int KeptLines = 20;

    private readonly Process _process;
    private readonly Queue<string> _stderr = new();
    private readonly Task _drain;
    private readonly CancellationTokenRegistration _cancel;

    private FfmpegProcess(Process process, CancellationToken cancellationToken)
    {
        _process = process;
        _drain = Task.Run(DrainAsync, CancellationToken.None);
        _cancel = cancellationToken.Register(Kill);
    }

    /// <summary>The process's stdin, for raw frames; only when started with <c>input: true</c>.</summary>
    public Stream Input => _process.StandardInput.BaseStream;

    /// <exception cref="InvalidOperationException">ffmpeg cannot be started (not installed).</exception>
    public static FfmpegProcess Start(IEnumerable<string> arguments, bool input, CancellationToken cancellationToken)
    {
        var start = Media.ChildGuard.StartInfo("ffmpeg", ["-hide_banner", "-nostats", "-v", "error", .. arguments]);
        start.RedirectStandardInput = input;
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.StandardErrorEncoding = Encoding.UTF8;
        if (!input)
        {
            // After the guard's own two arguments (its path is the program).
            start.ArgumentList.Insert(2, "-nostdin");
        }
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException("ffmpeg did not start");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"cannot run ffmpeg (is it installed?): {e.Message}", e);
        }
        // Nothing useful comes on stdout (outputs go to files); drain it so ffmpeg never blocks on a full pipe.
        _ = process.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
        return new FfmpegProcess(process, cancellationToken);
    }

    /// <summary>Closes stdin (when open) and waits for ffmpeg to finish.</summary>
    /// <exception cref="InvalidOperationException">ffmpeg failed; the message is its last error line.</exception>
    public void Finish(string what)
    {
        if (_process.StartInfo.RedirectStandardInput)
        {
            try
            {
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
                // ffmpeg already exited; its error says why.
            }
        }
        _process.WaitForExit();
        _drain.Wait();
        if (_process.ExitCode != 0)
        {
            throw new InvalidOperationException($"ffmpeg failed while {what}: {LastError()}");
        }
    }

    /// <summary>Waits for a process whose stdin broke, and describes why it stopped.</summary>
    public string Failure()
    {
        _process.WaitForExit(TimeSpan.FromSeconds(10));
        _drain.Wait(TimeSpan.FromSeconds(1));
        return LastError();
    }

    public string LastError()
    {
        lock (_stderr)
        {
            var line = _stderr.LastOrDefault(l => l.Length > 0);
            return line ?? (_process.HasExited ? $"exit code {_process.ExitCode}" : "no message");
        }
    }

    private async Task DrainAsync()
    {
        while (await _process.StandardError.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            lock (_stderr)
            {
                _stderr.Enqueue(line.Trim());
                if (_stderr.Count > KeptLines)
                {
                    _stderr.Dequeue();
                }
            }
        }
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    public void Dispose()
    {
        _cancel.Dispose();
        Kill();
        _process.Dispose();
    }
}
