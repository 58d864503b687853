using System.Globalization;
using OpenCvSharp;
using Reel.Media;
using Reel.Media.Decoding;
using Reel.Media.Imaging;
using Reel.Testing;

namespace Reel.Operators.Tests;

/// <summary>
/// Frames decoded by Reel's own media layer, as the analysis pipeline gets them, and the test videos with known camera
/// motion (shared by the motion, scenes and colors tests).
/// </summary>
internal static class MotionTestVideos
{
    private const string Photo640 = "-loop 1 -framerate 25 -i \"{0}\" -vf \"{1}\" -frames:v 50 -c:v libx264 -pix_fmt yuv420p";

    /// <summary>A 640×360 window on the team photo sliding right 2 pixels a frame: the content moves left.</summary>
    public static string Pan => Photo("pan.mp4", "crop=640:360:x='400+2*n':y=500");

    /// <summary>The window slides right 2 pixels a frame up to frame 24, then stays put to frame 49.</summary>
    public static string PanThenStill => Photo("pan-then-still.mp4", "crop=640:360:x='400+2*min(n\\,24)':y=500");

    /// <summary>Zooming in on the photo's centre: frame n shows it magnified 1 + 0.01·n times.</summary>
    public static string Zoom =>
        Photo("zoom.mp4", "crop=2240:1260,zoompan=z='1+0.01*on':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2':d=1:s=640x360:fps=25");

    /// <summary>The photo turned clockwise 0.01 radian more each frame, about the frame's centre.</summary>
    public static string Rotation => Photo("rotate.mp4", "crop=1400:1400,rotate=a='0.01*n',crop=640:360");

    /// <summary>The same 640×360 window on the photo for 50 frames.</summary>
    public static string Still => Photo("still.mp4", "crop=640:360:x=400:y=500");

    /// <summary>Every frame (or the given indices) of a video, upright size as coded; each is the caller's to dispose.</summary>
    public static IEnumerable<AnalysisFrame> Frames(string path, IReadOnlyList<int>? indices = null)
    {
        var source = VideoProbe.Probe(path);
        var wanted = indices ?? Enumerable.Range(0, source.Frames.Count).ToList();
        using var video = new VideoDecoder();
        foreach (var segment in SegmentPlanner.Plan(source, wanted, pieces: 1))
        {
            var decoder = video.Start(segment);
            while (decoder.TryNext(out var frame))
            {
                var bgr = new FrameImage(PixelLayout.Bgr24, source.Width, source.Height);
                decoder.Convert(bgr);
                yield return new AnalysisFrame(bgr, frame.Index, source.Seconds(frame.Pts));
            }
            Assert.Empty(decoder.Missing);
        }
    }

    /// <summary>Runs a sequence model over a video as the pipeline does: describe every frame, then compare in order.</summary>
    public static IReadOnlyList<FrameResult> Analyze(ISequenceAnalyzer analyzer, string path, IReadOnlyList<int>? indices = null)
    {
        var results = new List<FrameResult>();
        object? previous = null;
        foreach (var frame in Frames(path, indices))
        {
            using (frame)
            {
                var description = analyzer.Describe(frame);
                results.Add(analyzer.Compare(previous, description, frame.Index, frame.Time));
                previous = description;
            }
        }
        return results;
    }

    private static string Photo(string name, string filter) =>
        TestMedia.Generate(name, string.Format(CultureInfo.InvariantCulture, Photo640, TestMedia.Fixture("team.jpg"), filter));
}
