using Reel.Testing;

namespace Reel.Media.Tests;

/// <summary>Odd cases the fixtures do not cover, made once per run with ffmpeg.</summary>
internal static class GeneratedMedia
{
    /// <summary>24 fps, 10 s, unique frames (testsrc2 draws a counter), keyframe every 48 frames, B-frames.</summary>
    public static string Counter24 => TestMedia.Generate("counter24.mp4",
        "-f lavfi -i testsrc2=size=320x240:rate=24:duration=10 -c:v libx264 -g 48 -bf 3 -pix_fmt yuv420p");

    /// <summary>An mp4 whose display matrix turns it (ffprobe's counterclockwise rotation tag: 90, 180 or 270).</summary>
    public static string Rotated(int tag)
    {
        var plain = TestMedia.Generate("unrotated.mp4", "-f lavfi -i testsrc2=size=320x240:rate=10:duration=1 -c:v libx264 -pix_fmt yuv420p");
        return TestMedia.Generate($"rotated{tag}.mp4", $"-i \"{plain}\" -c copy -metadata:s:v:0 rotate={tag}");
    }

    public static string OddSize => TestMedia.Generate("odd.mkv", "-f lavfi -i testsrc2=size=320x240:rate=10:duration=1 -vf scale=321:241 -c:v ffv1");

    public static string TenBit => TestMedia.Generate("ten-bit.mp4",
        "-f lavfi -i testsrc2=size=320x240:rate=10:duration=1 -c:v libx264 -pix_fmt yuv420p10le");
}
