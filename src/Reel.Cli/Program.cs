using System.CommandLine;
using Reel.Cli.Commands;

namespace Reel.Cli;

internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        var root = new RootCommand("Reel: exact, parallel video processing.")
        {
            ExtractCommand.Create(),
            AnalyzeCommand.Create(),
            RenderCommand.Create(),
            RepoCommand.Create(),
            PutCommand.Create(),
            LsCommand.Create(),
            GetCommand.Create(),
            GlobCommand.Create(),
            LogCommand.Create(),
            DiffCommand.Create(),
            RmCommand.Create(),
            PipelineCommand.Create(),
            JobCommand.Create(),
            DatumCommand.Create(),
            LogsCommand.Create(),
            EngineCommand.Create(),
            ServeCommand.Create(),
            AnalysesCommand.Create(),
            ClusterCommand.Create(),
            NodeCommand.Create(),
            Remote.ServerOption,
            ClusterSupport.Option,
        };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var error in parsed.Errors)
            {
                await Console.Error.WriteLineAsync($"reel: {error.Message}");
            }
            await Console.Error.WriteLineAsync("Run 'reel --help' or 'reel <command> --help' for usage.");
            return ExitCodes.Usage;
        }
        return await parsed.InvokeAsync(new InvocationConfiguration
        {
            // Ctrl-C and SIGTERM cancel the command, which then stops cleanly: a node gives its datums back and leaves the
            // cluster, a server finishes its responses. That can take more than System.CommandLine's default 2 s on a
            // busy machine, after which the process would just die; 30 s is what service managers commonly allow.
            ProcessTerminationTimeout = TimeSpan.FromSeconds(30),
        });
    }
}

/// <summary>What the process exit code means.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>At least one input failed; the others completed.</summary>
    public const int InputFailed = 1;

    /// <summary>The command line itself is wrong; nothing was done.</summary>
    public const int Usage = 2;

    /// <summary>Stopped by Ctrl-C or SIGTERM; unfinished videos have no manifest.</summary>
    public const int Interrupted = 130;
}
