using System.Diagnostics;
using System.Security.Cryptography;
using Reel.Media.Decoding;
using Reel.Media.Imaging;
using Reel.Testing;

namespace Reel.Media.Tests;

public class SegmentDecoderTests
{
    [Theory]
    [InlineData("samsungfun.mp4")]
    [InlineData("small.ogv")]
    [InlineData("counter24")]
    public void Segments_DecodedApart_GiveExactlyFfmpegsFramesInOrder(string name)
    {
        var path = name == "counter24" ? GeneratedMedia.Counter24 : TestMedia.Fixture(name);
        var source = VideoProbe.Probe(path);
        var expected = ExpandedFrameHashes(path, source.Width, source.Height);
        var segments = SegmentPlanner.Plan(source, Enumerable.Range(0, source.Frames.Count).ToList(), pieces: 64);
        var converter = new FrameConverter(ImageFormat.Jpeg, null, null);

        var actual = new string?[source.Frames.Count];
        using var video = new VideoDecoder();
        // Last segment first, so every segment but the first is reached by seeking.
        foreach (var segment in segments.Reverse())
        {
            var decoder = video.Start(segment);
            while (decoder.TryNext(out var frame))
            {
                using var image = decoder.Convert(converter);
                actual[frame.Index] = Hash(image);
            }
            Assert.Empty(decoder.Missing);
        }

        Assert.Equal(expected.Count, actual.Length);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Plan_Samsungfun_CutsAtTheFiveKeyframes()
    {
        var source = VideoProbe.Probe(TestMedia.Fixture("samsungfun.mp4"));

        var segments = SegmentPlanner.Plan(source, Enumerable.Range(0, 331).ToList(), pieces: 64);

        Assert.Equal([0, 33, 137, 178, 252], segments.Select(s => s.FirstFrame));
        Assert.Equal(331, segments.Sum(s => s.Selected.Count));
    }

    [Fact]
    public void Plan_FewPieces_MergesNeighboursThatDecodeToTheirEnd()
    {
        var source = VideoProbe.Probe(TestMedia.Fixture("samsungfun.mp4"));

        var segments = SegmentPlanner.Plan(source, Enumerable.Range(0, 331).ToList(), pieces: 1);

        var only = Assert.Single(segments);
        Assert.Equal((0, 331), (only.FirstFrame, only.EndFrame));
    }

    [Fact]
    public void Plan_SparseSelection_SkipsGroupsWithNothingWantedAndNeverMergesOverATail()
    {
        var source = VideoProbe.Probe(TestMedia.Fixture("samsungfun.mp4"));

        var segments = SegmentPlanner.Plan(source, [10, 200], pieces: 1);

        Assert.Equal([(0, 33), (178, 252)], segments.Select(s => (s.FirstFrame, s.EndFrame)));
        Assert.Equal([11, 23], segments.Select(s => s.DecodeCost));
    }

    /// <summary>MD5 of each frame as ffmpeg decodes it, expanded to full range the way Reel feeds JPEG.</summary>
    private static List<string> ExpandedFrameHashes(string path, int width, int height)
    {
        var start = new ProcessStartInfo("ffmpeg", $"-v error -i \"{path}\" -an -f rawvideo -pix_fmt yuv420p -") { RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        var stream = process.StandardOutput.BaseStream;
        var chromaWidth = (width + 1) / 2;
        var chromaHeight = (height + 1) / 2;
        var raw = new byte[(width * height) + (2 * chromaWidth * chromaHeight)];
        var expanded = new byte[raw.Length];
        var hashes = new List<string>();
        while (ReadFull(stream, raw))
        {
            VideoRange.ExpandLuma(raw.AsSpan(0, width * height), expanded.AsSpan(0, width * height));
            VideoRange.ExpandChroma(raw.AsSpan(width * height), expanded.AsSpan(width * height));
            hashes.Add(Convert.ToHexString(MD5.HashData(expanded)));
        }
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        return hashes;
    }

    private static bool ReadFull(Stream stream, byte[] buffer)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = stream.Read(buffer, read, buffer.Length - read);
            if (n == 0)
            {
                return false;
            }
            read += n;
        }
        return true;
    }

    private static string Hash(FrameImage image)
    {
        using var md5 = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
        for (var p = 0; p < image.PlaneCount(); p++)
        {
            for (var y = 0; y < image.PlaneSize(p).Height; y++)
            {
                md5.AppendData(image.Row(p, y));
            }
        }
        return Convert.ToHexString(md5.GetHashAndReset());
    }
}
