using System.Text.Json;
using Reel.Media.Extraction;
using Reel.Media.Imaging;
using Reel.Media.Sampling;
using Reel.Testing;

namespace Reel.Media.Tests;

public class FrameExtractorTests
{
    private static async Task<VideoResult> ExtractAsync(string video, string output, ExtractOptions? options = null)
    {
        options = (options ?? new ExtractOptions { OutputDirectory = output }) with { OutputDirectory = output };
        var results = await new FrameExtractor(options).RunAsync([video]);
        return Assert.Single(results);
    }

    private static string[] Images(string folder) =>
        Directory.GetFiles(folder).Where(f => !f.EndsWith(".json", StringComparison.Ordinal) && !f.EndsWith(".jsonl", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToArray();

    /// <summary>A frame of the source as ffmpeg decodes it, by presentation index, as lossless PNG.</summary>
    private static string Reference(string video, int index, string directory)
    {
        var png = Path.Combine(directory, $"ref-{index}.png");
        TestMedia.Ffmpeg($"-v error -y -i \"{video}\" -vf \"select=eq(n\\,{index})\" -frames:v 1 \"{png}\"");
        return png;
    }

    [Theory]
    [InlineData("samsungfun.mp4")]
    [InlineData("small.ogv")]
    public async Task Extract_EveryFrame_WritesFfprobesCountWithManifest(string name)
    {
        var video = TestMedia.Fixture(name);
        var output = TestMedia.TempDirectory();

        var result = await ExtractAsync(video, output);

        var count = TestMedia.CountFrames(video);
        Assert.Equal(VideoOutcome.Completed, result.Outcome);
        Assert.Equal(count, result.FramesWritten);
        var folder = Path.Combine(output, name);
        var images = Images(folder);
        Assert.Equal(Enumerable.Range(0, count).Select(i => Path.Combine(folder, $"{i:D10}.jpg")), images);
        var manifest = File.ReadAllLines(Path.Combine(folder, "frames.jsonl"));
        Assert.Equal(count, manifest.Length);
        var last = JsonDocument.Parse(manifest[^1]).RootElement;
        Assert.Equal(count - 1, last.GetProperty("index").GetInt32());
        Assert.Equal($"{count - 1:D10}.jpg", last.GetProperty("file").GetString());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(47)]
    [InlineData(48)]
    [InlineData(130)]
    [InlineData(239)]
    public async Task Extract_FrameIndex_IsTheSourceFrameAtThatPosition(int index)
    {
        // testsrc2 draws a frame counter, so neighbouring frames differ clearly.
        var video = GeneratedMedia.Counter24;
        var output = TestMedia.TempDirectory();
        await ExtractAsync(video, output);
        var image = Path.Combine(output, "counter24.mp4", $"{index:D10}.jpg");

        var same = TestMedia.Psnr(image, Reference(video, index, output));
        var neighbour = TestMedia.Psnr(image, Reference(video, index == 239 ? 238 : index + 1, output));

        Assert.True(same >= 30, $"frame {index}: {same:0.0} dB against ffmpeg's frame {index}");
        Assert.True(same > neighbour + 3, $"frame {index} is as close to its neighbour ({neighbour:0.0} dB) as to itself ({same:0.0} dB)");
    }

    [Fact]
    public async Task Extract_ManyWorkers_IsByteIdenticalToOneWorker()
    {
        var video = TestMedia.Fixture("samsungfun.mp4");
        var one = TestMedia.TempDirectory();
        var many = TestMedia.TempDirectory();

        await ExtractAsync(video, one, new ExtractOptions { OutputDirectory = one, Workers = 1 });
        await ExtractAsync(video, many, new ExtractOptions { OutputDirectory = many, Workers = 4 });

        var a = Images(Path.Combine(one, "samsungfun.mp4"));
        var b = Images(Path.Combine(many, "samsungfun.mp4"));
        Assert.Equal(331, a.Length);
        Assert.Equal(a.Select(Path.GetFileName), b.Select(Path.GetFileName));
        for (var i = 0; i < a.Length; i++)
        {
            Assert.True(File.ReadAllBytes(a[i]).AsSpan().SequenceEqual(File.ReadAllBytes(b[i])), $"{Path.GetFileName(a[i])} differs");
        }
    }

    [Fact]
    public async Task Extract_Fps1_ImagesAreFfmpegsFpsOutput()
    {
        var video = TestMedia.Fixture("samsungfun.mp4");
        var output = TestMedia.TempDirectory();

        var result = await ExtractAsync(video, output, new ExtractOptions
        {
            OutputDirectory = output,
            Sampling = new FrameSampling { Mode = SamplingMode.Fps, Fps = new Rational(1, 1) },
        });

        var folder = Path.Combine(output, "samsungfun.mp4");
        var images = Images(folder);
        Assert.Equal(11, result.FramesWritten);
        Assert.Equal(11, images.Length);
        var reference = Path.Combine(output, "ffmpeg-fps1.mkv");
        TestMedia.Ffmpeg($"-v error -i \"{video}\" -an -vf fps=1 -c:v ffv1 \"{reference}\"");
        var list = Path.Combine(output, "list.txt");
        File.WriteAllLines(list, images.Select(i => $"file '{i}'"));
        var sequence = Path.Combine(output, "reel-fps1.mkv");
        TestMedia.Ffmpeg($"-v error -f concat -safe 0 -i \"{list}\" -c:v ffv1 \"{sequence}\"");
        Assert.True(TestMedia.Psnr(sequence, reference) >= 38);
    }

    [Fact]
    public async Task Extract_Keyframes_DecodesOnlyWhatItNeedsAndWritesEachKeyframe()
    {
        var video = TestMedia.Fixture("samsungfun.mp4");
        var output = TestMedia.TempDirectory();

        var result = await ExtractAsync(video, output, new ExtractOptions
        {
            OutputDirectory = output,
            Sampling = new FrameSampling { Mode = SamplingMode.Keyframes },
        });

        Assert.Equal(VideoOutcome.Completed, result.Outcome);
        var names = Images(Path.Combine(output, "samsungfun.mp4")).Select(f => int.Parse(Path.GetFileNameWithoutExtension(f), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal([0, 33, 137, 178, 252], names);
        Assert.True(TestMedia.Psnr(Path.Combine(output, "samsungfun.mp4", "0000000178.jpg"), Reference(video, 178, output)) >= 38);
    }

    [Theory]
    [InlineData(90, 240, 320)]
    [InlineData(180, 320, 240)]
    [InlineData(270, 240, 320)]
    public async Task Extract_RotatedVideo_ComesOutUpright(int tag, int width, int height)
    {
        var video = GeneratedMedia.Rotated(tag);
        var output = TestMedia.TempDirectory();

        await ExtractAsync(video, output);

        var image = Path.Combine(output, $"rotated{tag}.mp4", "0000000000.jpg");
        Assert.Equal((width, height), TestMedia.Dimensions(image));
        // ffmpeg's CLI turns rotated video upright too: the two must show the same picture, not a mirror of it.
        var upright = TestMedia.Psnr(image, Reference(video, 0, output));
        var mirrored = TestMedia.Psnr(image, Reference(video, 0, output), "hflip,vflip");
        Assert.True(upright >= 30, $"{upright:0.0} dB");
        Assert.True(upright > mirrored + 10, $"upright {upright:0.0} dB, turned half a turn {mirrored:0.0} dB");
    }

    [Fact]
    public async Task Extract_OddDimensions_KeepsThem()
    {
        var video = GeneratedMedia.OddSize;
        var output = TestMedia.TempDirectory();

        var result = await ExtractAsync(video, output);

        Assert.Equal(10, result.FramesWritten);
        var image = Path.Combine(output, "odd.mkv", "0000000005.jpg");
        Assert.Equal((321, 241), TestMedia.Dimensions(image));
        Assert.True(TestMedia.Psnr(image, Reference(video, 5, output)) >= 30);
    }

    [Fact]
    public async Task Extract_TenBitSource_Works()
    {
        var video = GeneratedMedia.TenBit;
        var output = TestMedia.TempDirectory();

        var result = await ExtractAsync(video, output);

        Assert.Equal(VideoOutcome.Completed, result.Outcome);
        Assert.Equal(10, result.FramesWritten);
        Assert.True(TestMedia.Psnr(Path.Combine(output, "ten-bit.mp4", "0000000003.jpg"), Reference(video, 3, output)) >= 30);
    }

    [Theory]
    [InlineData(ImageFormat.Png, "png")]
    [InlineData(ImageFormat.Webp, "webp")]
    public async Task Extract_OtherFormats_WriteDecodableImagesOfTheRightFrame(ImageFormat format, string extension)
    {
        var video = TestMedia.Fixture("small.ogv");
        var output = TestMedia.TempDirectory();

        var result = await ExtractAsync(video, output, new ExtractOptions { OutputDirectory = output, Format = format });

        Assert.Equal(89, result.FramesWritten);
        var image = Path.Combine(output, "small.ogv", $"0000000040.{extension}");
        Assert.Equal((400, 300), TestMedia.Dimensions(image));
        Assert.True(TestMedia.Psnr(image, Reference(video, 40, output)) >= (format == ImageFormat.Png ? 45 : 30));
    }

    [Fact]
    public async Task Extract_Width_ScalesKeepingAspectRatio()
    {
        var video = TestMedia.Fixture("samsungfun.mp4");
        var output = TestMedia.TempDirectory();

        await ExtractAsync(video, output, new ExtractOptions
        {
            OutputDirectory = output,
            Width = 640,
            Sampling = new FrameSampling { Mode = SamplingMode.Keyframes },
        });

        Assert.Equal((640, 360), TestMedia.Dimensions(Path.Combine(output, "samsungfun.mp4", "0000000000.jpg")));
    }

    [Fact]
    public async Task Extract_DefaultQuality_IsVisuallyLossless()
    {
        var video = TestMedia.Fixture("samsungfun.mp4");
        var output = TestMedia.TempDirectory();

        await ExtractAsync(video, output, new ExtractOptions { OutputDirectory = output, Sampling = new FrameSampling { Mode = SamplingMode.Every, Step = 50 } });

        foreach (var index in new[] { 0, 150, 300 })
        {
            var psnr = TestMedia.Psnr(Path.Combine(output, "samsungfun.mp4", $"{index:D10}.jpg"), Reference(video, index, output));
            Assert.True(psnr >= 38, $"frame {index}: {psnr:0.0} dB");
        }
    }

    [Fact]
    public async Task Extract_SecondRun_IsANoOpThatKeepsTheFiles()
    {
        var video = TestMedia.Fixture("small.ogv");
        var output = TestMedia.TempDirectory();
        await ExtractAsync(video, output);
        var frame = Path.Combine(output, "small.ogv", "0000000000.jpg");
        var written = File.GetLastWriteTimeUtc(frame);

        var again = await ExtractAsync(video, output);

        Assert.Equal(VideoOutcome.AlreadyDone, again.Outcome);
        Assert.Equal(89, again.FramesWritten);
        Assert.Equal(written, File.GetLastWriteTimeUtc(frame));
    }

    [Fact]
    public async Task Extract_OtherSettingsOverFinishedFolder_FailsWithoutOverwriteAndReplacesWithIt()
    {
        var video = TestMedia.Fixture("small.ogv");
        var output = TestMedia.TempDirectory();
        await ExtractAsync(video, output);
        var everyTen = new ExtractOptions { OutputDirectory = output, Sampling = new FrameSampling { Mode = SamplingMode.Every, Step = 10 } };

        var refused = await ExtractAsync(video, output, everyTen);
        var folder = Path.Combine(output, "small.ogv");
        Assert.Equal(VideoOutcome.Failed, refused.Outcome);
        Assert.Contains("--overwrite", refused.Error, StringComparison.Ordinal);
        Assert.Equal(89, Images(folder).Length);

        var replaced = await ExtractAsync(video, output, everyTen with { Overwrite = true });
        Assert.Equal(VideoOutcome.Completed, replaced.Outcome);
        Assert.Equal(9, Images(folder).Length);
        Assert.Equal(9, File.ReadAllLines(Path.Combine(folder, "frames.jsonl")).Length);
    }

    [Fact]
    public async Task Extract_Directory_RunsAllVideosAndReportsEach()
    {
        var output = TestMedia.TempDirectory();
        var (files, errors) = MediaInputs.Expand([Path.GetDirectoryName(TestMedia.Fixture("small.ogv"))!]);
        Assert.Empty(errors);
        Assert.Contains(files, f => f.EndsWith("small.ogv", StringComparison.Ordinal));
        Assert.DoesNotContain(files, f => f.EndsWith(".jpg", StringComparison.Ordinal) || f.EndsWith(".json", StringComparison.Ordinal));

        var results = await new FrameExtractor(new ExtractOptions { OutputDirectory = output, Sampling = new FrameSampling { Mode = SamplingMode.Keyframes } })
            .RunAsync(files);

        Assert.Equal(files, results.Select(r => r.Input));
        Assert.All(results, r => Assert.Equal(VideoOutcome.Completed, r.Outcome));
    }
}
