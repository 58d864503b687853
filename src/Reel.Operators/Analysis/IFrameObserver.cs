using Reel.Media.Extraction;

namespace Reel.Operators.Analysis;

/// <summary>
/// Progress that also hears each analyzed frame as it is done, for callers that show results while a video is
/// still being analyzed. Called on worker threads, in no particular frame order across segments.
/// </summary>
public interface IFrameObserver : IVideoProgress
{
    /// <param name="input">The video being analyzed.</param>
    /// <param name="picture">The picture the models saw (at the analysis size); valid only during the call.</param>
    /// <param name="toSource">Source pixels per picture pixel (results are already in source pixels).</param>
    /// <param name="results">Each frame model's result for this frame.</param>
    void FrameAnalyzed(string input, AnalysisFrame picture, double toSource, IReadOnlyList<FrameResult> results);
}
