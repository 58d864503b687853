namespace Reel.Media.Extraction;

public enum VideoOutcome
{
    /// <summary>All selected frames were written and the manifest committed.</summary>
    Extracted,

    /// <summary>A previous run had already finished this video with the same settings.</summary>
    AlreadyDone,

    /// <summary>Nothing committed; <see cref="VideoResult.Error"/> says why.</summary>
    Failed,
}

/// <summary>What happened to one input video.</summary>
public sealed record VideoResult(
    string Input,
    string OutputDirectory,
    VideoOutcome Outcome,
    int FramesWritten,
    int FramesPlanned,
    TimeSpan Elapsed,
    string? Error);

/// <summary>Hears about progress; called from worker threads, so implementations must be thread-safe.</summary>
public interface IExtractionObserver
{
    void VideoStarted(string input, int framesPlanned);

    void FramesWritten(string input, int count);

    void VideoFinished(VideoResult result);
}
