namespace Reel.Operators;

/// <summary>
/// A model that looks at frames one at a time. One instance per worker thread: implementations need not be
/// thread-safe, and may keep buffers and loaded networks between frames.
/// </summary>
public interface IFrameAnalyzer : IDisposable
{
    /// <summary>The name results carry, e.g. "faces".</summary>
    string Model { get; }

    FrameResult Analyze(AnalysisFrame frame);
}

/// <summary>
/// A model that compares each sampled frame with the one before (camera motion, scene cuts). Frames of one video
/// are decoded in parallel segments, so the work is split: <see cref="Describe"/> runs on any worker and keeps a
/// small summary of the frame; <see cref="Compare"/> then runs in frame order on those summaries.
/// </summary>
public interface ISequenceAnalyzer
{
    string Model { get; }

    /// <summary>A compact description of the frame, enough to compare it with its neighbour later. Thread-safe.</summary>
    object Describe(AnalysisFrame frame);

    /// <summary>Compares a frame's description with the previous sampled frame's (null for the first frame).</summary>
    FrameResult Compare(object? previous, object current, int index, double time);

    /// <summary>Writes a description for <see cref="ReadDescription"/>: a video analyzed in pieces on several machines is compared at the merge.</summary>
    void WriteDescription(object description, BinaryWriter writer);

    /// <summary>A description as <see cref="WriteDescription"/> wrote it, equal to the one described.</summary>
    object ReadDescription(BinaryReader reader);
}

/// <summary>Finds faces; shared by the faces model, emotions, and the face filters of rendering.</summary>
public interface IFaceDetector : IDisposable
{
    /// <summary>Faces in a BGR picture, in its pixels, best first.</summary>
    IReadOnlyList<Detection> Detect(OpenCvSharp.Mat bgr);
}
