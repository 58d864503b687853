using OpenCvSharp;
using Reel.Operators.Faces;
using Reel.Testing;

namespace Reel.Operators.Tests;

public class FacesTests
{
    /// <summary>The centres of the 15 faces in team.jpg (2244×1500), marked by hand.</summary>
    private static readonly Point2f[] TeamFaces =
    [
        new(580, 240), new(956, 244), new(1240, 190), new(1536, 300), new(1630, 290),
        new(444, 380), new(660, 330), new(930, 390), new(1134, 380), new(1386, 320),
        new(460, 600), new(820, 620), new(1156, 580), new(1420, 600), new(1704, 580),
    ];

    [Fact]
    public void Tiles_TeamPhoto_FindsAtLeast13Of15FacesWithAtMostOneFalse()
    {
        using var image = Cv2.ImRead(TestMedia.Fixture("team.jpg"));
        using var detector = new BlazeFaceDetector(new FaceDetectorOptions { Tiling = FaceTiling.Dense });

        var faces = detector.Detect(image);

        var (found, falsePositives) = Match(faces, TeamFaces);
        Assert.True(found >= 13, $"found {found} of 15 faces");
        Assert.True(falsePositives <= 1, $"{falsePositives} false detections");
    }

    [Fact]
    public void Detect_SamsungfunAtFiveSeconds_FindsTheThreeFrontalFacesWithTheirEyes()
    {
        var video = TestMedia.Fixture("samsungfun.mp4");
        var png = Path.Combine(TestMedia.TempDirectory(), "t5.png");
        TestMedia.Ffmpeg($"-v error -ss 5 -i \"{video}\" -frames:v 1 \"{png}\"");
        using var frame = Cv2.ImRead(png);
        using var detector = new BlazeFaceDetector();

        var faces = detector.Detect(frame);
        using var half = frame.Resize(new Size(960, 540), interpolation: InterpolationFlags.Area);
        Assert.Equal(3, detector.Detect(half).Count);

        // The man (left), the boy (centre) and the woman (right of centre); the blurred head at the right edge is turned away.
        Point2f[] centres = [new(555, 330), new(740, 650), new(1020, 340)];
        var (found, falsePositives) = Match(faces, centres);
        Assert.Equal(3, found);
        Assert.Equal(0, falsePositives);
        foreach (var face in faces)
        {
            var eyes = face.Keypoints!.Take(2).ToList();
            Assert.Equal(["right_eye", "left_eye"], eyes.Select(k => k.Name));
            // The person's right eye is on the picture's left, both in the upper half of the box.
            Assert.True(eyes[0].X < eyes[1].X);
            Assert.All(eyes, e => Assert.InRange(e.Y, face.Box.Y, face.Box.Y + (face.Box.Height / 2)));
        }
    }

    [Theory]
    [InlineData(FaceModel.ShortRange, false)]
    [InlineData(FaceModel.ShortRange, true)]
    [InlineData(FaceModel.FullRange, false)]
    public void Squares_SmallFaceAlongAWideOrTallFrame_FoundAtEveryPositionWithItsBox(FaceModel model, bool portrait)
    {
        var png = Path.Combine(TestMedia.TempDirectory(), "t5.png");
        TestMedia.Ffmpeg($"-v error -ss 5 -i \"{TestMedia.Fixture("samsungfun.mp4")}\" -frames:v 1 \"{png}\"");
        using var frame = Cv2.ImRead(png);
        // The boy's face (about 180 pixels in 1080p), pasted along the frame, including where frame-tall squares meet.
        using var face = new Mat(frame, new Rect(620, 530, 240, 240));
        using var canvas = portrait ? new Mat(1920, 1080, MatType.CV_8UC3, Scalar.All(128)) : new Mat(1080, 1920, MatType.CV_8UC3, Scalar.All(128));
        var centres = Enumerable.Range(0, 7).Select(i => portrait ? new Point2f(540, (i * 280) + 120) : new Point2f((i * 280) + 120, 540)).ToArray();
        foreach (var c in centres)
        {
            using var target = new Mat(canvas, new Rect((int)c.X - 120, (int)c.Y - 120, 240, 240));
            face.CopyTo(target);
        }
        using var analysisSize = canvas.Resize(new Size(canvas.Width / 3, canvas.Height / 3), interpolation: InterpolationFlags.Area);
        using var detector = new BlazeFaceDetector(new FaceDetectorOptions { Model = model });

        var faces = detector.Detect(analysisSize).Select(f => f with { Box = new Box(f.Box.X * 3, f.Box.Y * 3, f.Box.Width * 3, f.Box.Height * 3) }).ToList();

        var (found, falsePositives) = Match(faces, centres);
        Assert.Equal(centres.Length, found);
        Assert.Equal(0, falsePositives);
        Assert.All(faces, f => Assert.InRange(f.Box.Width, 120, 260));
    }

    [Fact]
    public void Detect_FullRangeModel_LoadsAndFindsTheSameFaces()
    {
        var video = TestMedia.Fixture("samsungfun.mp4");
        var png = Path.Combine(TestMedia.TempDirectory(), "t5.png");
        TestMedia.Ffmpeg($"-v error -ss 5 -i \"{video}\" -frames:v 1 \"{png}\"");
        using var frame = Cv2.ImRead(png);
        using var detector = new BlazeFaceDetector(new FaceDetectorOptions { Model = FaceModel.FullRange });

        var faces = detector.Detect(frame);

        var (found, falsePositives) = Match(faces, [new(555, 330), new(740, 650), new(1020, 340)]);
        Assert.Equal(3, found);
        Assert.True(falsePositives <= 1);
    }

    [Fact]
    public void Detect_BlankPicture_FindsNothing()
    {
        using var grey = new Mat(720, 1280, MatType.CV_8UC3, Scalar.All(128));
        using var detector = new BlazeFaceDetector(new FaceDetectorOptions { Tiling = FaceTiling.Dense });

        Assert.Empty(detector.Detect(grey));
    }

    [Fact]
    public void Haar_SamsungfunAtFiveSeconds_FindsTheFrontalFacesWithoutKeypoints()
    {
        var png = Path.Combine(TestMedia.TempDirectory(), "t5.png");
        TestMedia.Ffmpeg($"-v error -ss 5 -i \"{TestMedia.Fixture("samsungfun.mp4")}\" -frames:v 1 \"{png}\"");
        using var frame = Cv2.ImRead(png);
        using var detector = new HaarFaceDetector();

        var faces = detector.Detect(frame);

        var (found, falsePositives) = Match(faces, [new(555, 330), new(740, 650), new(1020, 340)]);
        Assert.Equal(3, found);
        Assert.True(falsePositives <= 1, $"{falsePositives} false detections");
        Assert.All(faces, f => Assert.Null(f.Keypoints));
        using var grey = new Mat(720, 1280, MatType.CV_8UC3, Scalar.All(128));
        Assert.Empty(detector.Detect(grey));
    }

    [Fact]
    public void Haar_MissingCascade_SaysWhichPackage()
    {
        var error = Assert.Throws<FileNotFoundException>(() => new HaarFaceDetector("/nonexistent/cascade.xml"));
        Assert.Contains("opencv-data", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Faces whose box holds a marked centre (each centre counted once), and boxes holding none.</summary>
    private static (int Found, int FalsePositives) Match(IReadOnlyList<Detection> faces, Point2f[] centres)
    {
        var used = new bool[centres.Length];
        var falsePositives = 0;
        foreach (var face in faces)
        {
            var hit = Array.FindIndex(centres, c => c.X >= face.Box.X && c.X <= face.Box.Right && c.Y >= face.Box.Y && c.Y <= face.Box.Bottom);
            if (hit < 0)
            {
                falsePositives++;
            }
            else
            {
                used[hit] = true;
            }
        }
        return (used.Count(u => u), falsePositives);
    }
}
