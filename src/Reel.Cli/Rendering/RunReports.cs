using System.Collections.Concurrent;
using Reel.Media.Extraction;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Reel.Cli.Rendering;

/// <summary>How a command shows a run over many videos while it happens.</summary>
internal interface IRunReport : IVideoProgress
{
    Task<IReadOnlyList<VideoResult>> RunAsync(Func<Task<IReadOnlyList<VideoResult>>> run);

    static IRunReport For(bool json) => json || Console.IsErrorRedirected ? new PlainReport() : new ProgressReport();
}

/// <summary>No decoration: for pipes, logs and --json.</summary>
internal sealed class PlainReport : IRunReport
{
    public Task<IReadOnlyList<VideoResult>> RunAsync(Func<Task<IReadOnlyList<VideoResult>>> run) => run();

    public void VideoStarted(string input, int framesPlanned)
    {
    }

    public void FramesDone(string input, int count)
    {
    }

    public void VideoFinished(VideoResult result)
    {
    }
}

/// <summary>Live progress bars on stderr, one per video: frames, frames per second, time left.</summary>
internal sealed class ProgressReport : IRunReport
{
    private readonly IAnsiConsole _console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
    private readonly ConcurrentDictionary<string, ProgressTask> _tasks = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private ProgressContext? _context;

    public async Task<IReadOnlyList<VideoResult>> RunAsync(Func<Task<IReadOnlyList<VideoResult>>> run)
    {
        IReadOnlyList<VideoResult> results = [];
        await _console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(
                new TaskDescriptionColumn(),
                new ProgressBarColumn(),
                new PercentageColumn(),
                new FramesColumn(),
                new FramesPerSecondColumn(),
                new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                lock (_gate)
                {
                    _context = context;
                }
                results = await run();
            });
        return results;
    }

    public void VideoStarted(string input, int framesPlanned)
    {
        lock (_gate)
        {
            var task = _context!.AddTask(Markup.Escape(Path.GetFileName(input)), maxValue: Math.Max(1, framesPlanned));
            _tasks[input] = task;
        }
    }

    public void FramesDone(string input, int count)
    {
        if (_tasks.TryGetValue(input, out var task))
        {
            task.Increment(count);
        }
    }

    public void VideoFinished(VideoResult result)
    {
        if (_tasks.TryGetValue(result.Input, out var task))
        {
            if (result.Outcome == VideoOutcome.Failed)
            {
                task.Description = $"[red]{Markup.Escape(Path.GetFileName(result.Input))} failed[/]";
            }
            else
            {
                task.Value = task.MaxValue;
            }
            task.StopTask();
        }
    }

    private sealed class FramesColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text($"{task.Value:0}/{task.MaxValue:0} frames");
    }

    private sealed class FramesPerSecondColumn : ProgressColumn
    {
        public override IRenderable Render(RenderOptions options, ProgressTask task, TimeSpan deltaTime) =>
            new Text(task.Speed is { } speed ? $"{speed,6:0.0} fps" : "     - fps");
    }
}
