using System.CommandLine;
using Reel.Cluster;
using Reel.Data;

namespace Reel.Cli.Commands;

/// <summary><c>reel engine</c>: the pipeline engine in the foreground; commands start it in the background when needed.</summary>
internal static class EngineCommand
{
    public static Command Create()
    {
        var dataDir = DataCommandSupport.DataDirOption();
        var idleExit = new Option<double?>("--idle-exit") { Description = "Stop after this many seconds with no job to run (default: run until stopped)" };
        var slots = new Option<int>("--slots") { Description = "Datums run at once on this machine (default: number of cores)", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command(
            "engine",
            "Run the pipeline engine (an embedded Orleans silo, the job scheduler and a worker per slot) in the foreground. "
            + "Commands that start jobs launch it in the background by themselves; one engine runs per data directory.")
        {
            dataDir, idleExit, slots,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (result.GetValue(idleExit) is < 0 || result.GetValue(slots) < 1)
            {
                await Console.Error.WriteLineAsync("reel engine: --idle-exit must be at least 0 and --slots at least 1");
                return ExitCodes.Usage;
            }
            var options = new EngineOptions
            {
                DataDirectory = DataStore.ResolveDirectory(result.GetValue(dataDir)),
                Slots = result.GetValue(slots),
                IdleExit = result.GetValue(idleExit) is { } seconds ? TimeSpan.FromSeconds(seconds) : null,
            };
            // Started by a command, with its output appended to logs/engine.log: keep that log to a size while running.
            using var stopRotating = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var rotating = Environment.GetEnvironmentVariable(EngineLog.PathVariable) is { Length: > 0 } log
                ? EngineLog.KeepRotatedAsync(log, EngineLog.MaxBytes, TimeProvider.System, stopRotating.Token)
                : Task.CompletedTask;
            try
            {
                if (!await Engine.RunAsync(options, cancellationToken))
                {
                    await Console.Error.WriteLineAsync($"reel engine: an engine already runs for {options.DataDirectory}");
                    return ExitCodes.InputFailed;
                }
                return ExitCodes.Ok;
            }
            finally
            {
                await stopRotating.CancelAsync();
                await rotating;
            }
        });
        return command;
    }
}
