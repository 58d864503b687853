using System.Globalization;
using OpenCvSharp;
using Reel.Operators.Emotions;
using Reel.Operators.Faces;
using Reel.Operators.Objects;
using Reel.Testing;
using Xunit.Abstractions;

namespace Reel.Operators.Tests;

/// <summary>The bundled models on real pictures a person can check by eye.</summary>
public sealed class BundledModelsTests(ITestOutputHelper output)
{
    private static readonly Lazy<CenterNetDetector> Detector = new(() => new CenterNetDetector());

    [Fact]
    public void Objects_SamsungfunAt5s_FindsTheThreePeople()
    {
        using var frame = VideoFrame("samsungfun.mp4", 5);

        var found = Detect(frame);

        Assert.Equal(3, found.Count(d => d.Label == "person"));
        Assert.All(found, d => Assert.True(d.Score >= new CenterNetOptions().Confidence));
        Assert.All(found, d => Assert.True(d.Box.X >= 0 && d.Box.Y >= 0 && d.Box.Right <= 1920 && d.Box.Bottom <= 1080, $"{d.Box} is outside the frame"));
    }

    [Fact]
    public void Objects_TeamPhoto_FindsAtLeast12OfThe15People()
    {
        using var picture = Cv2.ImRead(TestMedia.Fixture("team.jpg"));

        var people = Detect(picture).Where(d => d.Label == "person").ToList();

        Assert.InRange(people.Count, 12, 15);
        // Class-wise suppression leaves one box per person: no two overlap by more than the threshold.
        Assert.All(people, p => Assert.All(people.Where(q => !ReferenceEquals(p, q)), q => Assert.True(p.Box.IoU(q.Box) <= new CenterNetOptions().Iou)));
    }

    [Theory]
    [InlineData(1920, 1080, 640, 352)]
    [InlineData(1080, 1920, 352, 640)]
    [InlineData(2244, 1500, 640, 416)]
    [InlineData(640, 640, 640, 640)]
    [InlineData(4000, 100, 640, 32)]
    public void Objects_InputShape_FollowsThePicture(int width, int height, int inputWidth, int inputHeight)
    {
        var input = CenterNetDetector.InputFor(width, height, CenterNetDetector.LongSide);

        Assert.Equal(new Size(inputWidth, inputHeight), input);
    }

    [Fact]
    public void Objects_PortraitAfterLandscape_FindsThePeopleWhereTheWholePhotoHasThem()
    {
        // One detector sees both shapes (a worker moving to the next video); the portrait gets an input of its own
        // shape, and its boxes land on the people the whole photo shows at the same place.
        using var landscape = VideoFrame("samsungfun.mp4", 5);
        using var team = Cv2.ImRead(TestMedia.Fixture("team.jpg"));
        using var portrait = new Mat(team, new Rect(0, 0, 900, team.Height));

        Assert.Equal(3, Detect(landscape).Count(d => d.Label == "person"));
        var whole = Detect(team).Where(d => d.Label == "person").ToList();
        var people = Detect(portrait).Where(d => d.Label == "person").ToList();

        Assert.InRange(people.Count, 3, 15);
        Assert.All(people, p => Assert.Contains(whole, w => w.Box.IoU(p.Box) >= 0.5));
    }

    [Fact]
    public void Objects_ElephantWithoutPeople_FindsNoPerson()
    {
        using var frame = VideoFrame("small.ogv", 2);

        var found = Detect(frame);

        Assert.DoesNotContain(found, d => d.Label == "person");
        Assert.Equal("elephant", found[0].Label);
    }

    private IReadOnlyList<Detection> Detect(Mat picture)
    {
        IReadOnlyList<Detection> found;
        lock (Detector)
        {
            found = Detector.Value.Detect(picture);
        }
        foreach (var d in found)
        {
            output.WriteLine($"{d.Label} {d.Score:F3} {d.Box}");
        }
        return found;
    }

    internal static Mat VideoFrame(string fixture, double seconds)
    {
        var png = Path.Combine(TestMedia.TempDirectory(), "frame.png");
        TestMedia.Ffmpeg($"-v error -ss {seconds.ToString(CultureInfo.InvariantCulture)} -i \"{TestMedia.Fixture(fixture)}\" -frames:v 1 \"{png}\"");
        return Cv2.ImRead(png);
    }

    [Fact]
    public void Emotions_TeamPhoto_SmilingFacesAreHappy()
    {
        // team.jpg: 15 people posing for a group photo, most of them smiling broadly (look at it: fixtures/team.jpg).
        using var faces = FaceDetectors.Create(FaceModel.ShortRange, FaceTiling.Dense);
        using var classifier = new EmotionClassifier(BundledEmotionModel.Options(), faces);
        using var frame = new AnalysisFrame(Cv2.ImRead(TestMedia.Fixture("team.jpg")), 0, 0);

        var found = classifier.Analyze(frame).Detections;
        foreach (var d in found)
        {
            output.WriteLine($"{d.Label} {d.Score:F3} {d.Box}");
        }

        Assert.Equal(15, found.Count);
        Assert.All(found, d => Assert.Equal(BundledEmotionModel.Labels, d.Scores!.Keys));
        Assert.All(found, d => Assert.Equal(1, d.Scores!.Values.Sum(), 1e-4f));
        // The woman with curly hair in the front row, second from the right, laughing.
        var laughing = Assert.Single(found, d => Contains(d.Box, 1424, 620));
        Assert.Equal("happy", laughing.Label);
        Assert.True(laughing.Score > 0.9f, $"happy only {laughing.Score}");
        Assert.True(found.Count(d => d.Label == "happy") >= 12, "most of the group smiles");
        // The man at the front left, not smiling, is not called happy: the labels follow the faces.
        Assert.NotEqual("happy", Assert.Single(found, d => Contains(d.Box, 460, 620)).Label);
    }

    private static bool Contains(Box box, float x, float y) => x >= box.X && x <= box.Right && y >= box.Y && y <= box.Bottom;
}
