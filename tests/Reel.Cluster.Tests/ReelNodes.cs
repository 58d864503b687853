using System.Diagnostics;
using System.Text;

namespace Reel.Cluster.Tests;

/// <summary>The built <c>reel</c> CLI as real processes: one-shot commands, and long-running nodes (optionally inside a network namespace).</summary>
internal static class ReelCli
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "reel.dll");

    public static ProcessStartInfo StartInfo(string? netns, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(netns is null ? "dotnet" : "ip")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        if (netns is not null)
        {
            // 'ip netns exec' execs the command in place: the process id stays the node's, so signals reach it.
            foreach (var part in new[] { "netns", "exec", netns, "dotnet" })
            {
                start.ArgumentList.Add(part);
            }
        }
        start.ArgumentList.Add(Dll);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        return start;
    }

    public static async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(params string[] arguments) =>
        await RunInAsync(null, arguments);

    public static async Task<(int ExitCode, string StdOut, string StdErr)> RunInAsync(string? netns, params string[] arguments) =>
        await RunAsync(netns, new Dictionary<string, string>(), arguments);

    /// <summary>A one-shot command with <paramref name="environment"/> added to this process's.</summary>
    public static async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(IReadOnlyDictionary<string, string> environment, string[] arguments) =>
        await RunAsync(null, environment, arguments);

    private static async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(
        string? netns, IReadOnlyDictionary<string, string> environment, string[] arguments)
    {
        var start = StartInfo(netns, arguments);
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("reel " + string.Join(' ', arguments) + " did not finish in 2 minutes");
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>A <c>reel node join</c> (or <c>reel serve --cluster</c>) process; its output goes to a log file; disposing kills it if it still runs.</summary>
internal sealed class NodeProcess : IDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;

    public string Address { get; }

    public string LogPath { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    private NodeProcess(Process process, string address, string logPath)
    {
        _process = process;
        Address = address;
        LogPath = logPath;
        _log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    private void Write(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.WriteLine(line);
            }
        }
    }

    /// <summary>Starts <c>reel node join CLUSTER --advertise ADDRESS ...</c>, inside <paramref name="netns"/> when given.</summary>
    public static NodeProcess Start(string clusterFile, string address, string dataDirectory, string? netns, params string[] extra)
    {
        Directory.CreateDirectory(dataDirectory);
        string[] arguments = ["node", "join", clusterFile, "--advertise", address, "--data", dataDirectory, .. extra];
        var process = Process.Start(ReelCli.StartInfo(netns, arguments))!;
        return new NodeProcess(process, address, Path.Combine(dataDirectory, "node.log"));
    }

    /// <summary>Starts <c>reel serve --cluster CLUSTER --data-dir DIR --advertise ADDRESS ...</c>: a node that also serves HTTP.</summary>
    public static NodeProcess StartServer(string clusterFile, string address, string dataDirectory, params string[] extra)
    {
        Directory.CreateDirectory(dataDirectory);
        string[] arguments = ["serve", "--cluster", clusterFile, "--data-dir", dataDirectory, "--advertise", address, .. extra];
        var process = Process.Start(ReelCli.StartInfo(null, arguments))!;
        return new NodeProcess(process, address, Path.Combine(dataDirectory, "server.log"));
    }

    public void Kill9() => _process.Kill(entireProcessTree: false);

    public void Terminate() => Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();

    /// <summary>Waits for the process to end; false when it still runs after <paramref name="limit"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan limit)
    {
        using var cancel = new CancellationTokenSource(limit);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public string Log()
    {
        lock (_log)
        {
            return File.ReadAllText(LogPath);
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }
}

/// <summary>Bounded waiting for a condition other processes bring about.</summary>
internal static class Eventually
{
    public static async Task<T> WaitAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan limit, string what)
    {
        var clock = Stopwatch.StartNew();
        T last;
        while (true)
        {
            last = await probe();
            if (done(last))
            {
                return last;
            }
            if (clock.Elapsed > limit)
            {
                throw new TimeoutException($"{what} did not happen within {limit.TotalSeconds:0} s; last seen: {last}");
            }
            await Task.Delay(250);
        }
    }
}
