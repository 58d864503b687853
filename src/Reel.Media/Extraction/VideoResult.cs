namespace Reel.Media.Extraction;

public enum VideoOutcome
{
    /// <summary>Every selected frame was processed and the output committed.</summary>
    Completed,

    /// <summary>A previous run had already finished this video with the same settings.</summary>
    AlreadyDone,

    /// <summary>Nothing committed; <see cref="VideoResult.Error"/> says why.</summary>
    Failed,
}

/// <summary>What happened to one input video; <see cref="FramesWritten"/> counts frames processed.</summary>
public sealed record VideoResult(
    string Input,
    string OutputDirectory,
    VideoOutcome Outcome,
    int FramesWritten,
    int FramesPlanned,
    TimeSpan Elapsed,
    string? Error);

/// <summary>Hears about a run's progress; called from worker threads, so implementations must be thread-safe.</summary>
public interface IVideoProgress
{
    void VideoStarted(string input, int framesPlanned);

    void FramesDone(string input, int count);

    void VideoFinished(VideoResult result);
}
