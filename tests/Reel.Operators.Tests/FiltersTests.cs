using OpenCvSharp;
using Reel.Operators.Filters;
using Reel.Testing;

namespace Reel.Operators.Tests;

public class FiltersTests
{
    [Fact]
    public void OverlayGeometry_LevelEyes_CentresOnMidpointAndScalesToEyeDistance()
    {
        var placement = OverlayGeometry.Place(new Point2f(100, 200), new Point2f(200, 200), 400, 100, 2.2);

        var centre = placement.Map(199.5, 49.5);
        Assert.Equal(150, centre.X, 6);
        Assert.Equal(200, centre.Y, 6);
        var leftEdge = placement.Map(0, 49.5);
        var rightEdge = placement.Map(400, 49.5);
        Assert.Equal(220, rightEdge.X - leftEdge.X, 6);
        Assert.Equal(0, rightEdge.Y - leftEdge.Y, 6);
    }

    [Fact]
    public void OverlayGeometry_TiltedEyes_TurnsWithTheEyeLine()
    {
        // The eye line falls 30° clockwise on screen (y points down).
        var angle = 30 * Math.PI / 180;
        var right = new Point2f(300, 300);
        var left = new Point2f((float)(300 + (100 * Math.Cos(angle))), (float)(300 + (100 * Math.Sin(angle))));

        var placement = OverlayGeometry.Place(right, left, 200, 50, 2.2);

        var a = placement.Map(0, 24.5);
        var b = placement.Map(200, 24.5);
        Assert.Equal(30, Math.Atan2(b.Y - a.Y, b.X - a.X) * 180 / Math.PI, 3);
        Assert.Equal(220, Math.Sqrt(Math.Pow(b.X - a.X, 2) + Math.Pow(b.Y - a.Y, 2)), 3);
        var centre = placement.Map(99.5, 24.5);
        Assert.Equal((right.X + left.X) / 2, centre.X, 3);
        Assert.Equal((right.Y + left.Y) / 2, centre.Y, 3);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(25)]
    [InlineData(-40)]
    public void Overlay_RenderedOnBlankFrame_OpaquePixelsCentreOnEyesFollowDistanceAndAngle(double degrees)
    {
        var png = OpaquePng(300, 60, new Scalar(255, 255, 255, 255));
        using var filter = new OverlayFilter(new OverlayOptions { Images = [png] });
        using var frame = new Mat(720, 1280, MatType.CV_8UC3, Scalar.All(0));
        var angle = degrees * Math.PI / 180;
        var mid = new Point2d(640, 360);
        const double Distance = 120;
        var face = Face(
            new Point2f((float)(mid.X - (Distance / 2 * Math.Cos(angle))), (float)(mid.Y - (Distance / 2 * Math.Sin(angle)))),
            new Point2f((float)(mid.X + (Distance / 2 * Math.Cos(angle))), (float)(mid.Y + (Distance / 2 * Math.Sin(angle)))));

        filter.Apply(frame, 0, [face]);

        using var grey = frame.CvtColor(ColorConversionCodes.BGR2GRAY);
        using var opaque = grey.Threshold(127, 255, ThresholdTypes.Binary);
        var moments = Cv2.Moments(opaque, binaryImage: true);
        Assert.Equal(mid.X, moments.M10 / moments.M00, 0);
        Assert.Equal(mid.Y, moments.M01 / moments.M00, 0);
        // Principal axis of the opaque rectangle: the eye line.
        var axis = 0.5 * Math.Atan2(2 * moments.Mu11, moments.Mu20 - moments.Mu02) * 180 / Math.PI;
        Assert.InRange(axis, degrees - 1, degrees + 1);
        // A 300×60 overlay 2.2 eye distances wide covers 264×52.8 pixels.
        Assert.InRange(moments.M00, 264 * 52.8 * 0.95, 264 * 52.8 * 1.05);
    }

    [Fact]
    public void Overlay_SeveralImages_CycleFrameByFrame()
    {
        var red = OpaquePng(100, 40, new Scalar(0, 0, 255, 255));
        var green = OpaquePng(100, 40, new Scalar(0, 255, 0, 255));
        using var filter = new OverlayFilter(new OverlayOptions { Images = [red, green] });
        var face = Face(new Point2f(600, 300), new Point2f(700, 300));

        var colours = Enumerable.Range(0, 4).Select(i =>
        {
            using var frame = new Mat(600, 1200, MatType.CV_8UC3, Scalar.All(0));
            filter.Apply(frame, i, [face]);
            return frame.At<Vec3b>(300, 650);
        }).ToList();

        Assert.Equal([new Vec3b(0, 0, 255), new Vec3b(0, 255, 0), new Vec3b(0, 0, 255), new Vec3b(0, 255, 0)], colours);
    }

    [Fact]
    public void Overlay_HalfTransparentPixels_BlendWithTheFrame()
    {
        var png = OpaquePng(100, 40, new Scalar(255, 255, 255, 128));
        using var filter = new OverlayFilter(new OverlayOptions { Images = [png] });
        using var frame = new Mat(600, 1200, MatType.CV_8UC3, Scalar.All(0));

        filter.Apply(frame, 0, [Face(new Point2f(600, 300), new Point2f(700, 300))]);

        Assert.InRange(frame.At<Vec3b>(300, 650).Item0, 124, 132);
    }

    [Fact]
    public void BlurFaces_Checkerboard_FaceRegionSmoothedOutsideUntouched()
    {
        using var frame = Checkerboard(720, 1280, 8);
        using var original = frame.Clone();
        var face = new Detection("face", 0.9f, new Box(500, 200, 200, 240));

        new BlurFacesFilter().Apply(frame, 0, [face]);

        // Inside the face the 8-pixel checks average out to grey; far outside nothing changed.
        using var inside = new Mat(frame, new Rect(560, 280, 80, 80));
        Cv2.MeanStdDev(inside, out _, out var deviation);
        Assert.True(deviation.Val0 < 10, $"checks still visible inside the face: deviation {deviation.Val0:0.0}");
        using var outside = new Mat(frame, new Rect(0, 0, 300, 720));
        using var before = new Mat(original, new Rect(0, 0, 300, 720));
        Assert.Equal(0, Cv2.Norm(outside, before, NormTypes.L1));
        // The 20% margin: just outside the box, on its level, is blurred too.
        Assert.NotEqual(original.At<Vec3b>(320, 470), frame.At<Vec3b>(320, 470));
    }

    [Theory]
    [InlineData("blur")]
    [InlineData("boxes=red")]
    [InlineData("overlay=")]
    [InlineData("")]
    public void FilterSpec_BadSpec_Throws(string spec) => Assert.Throws<ArgumentException>(() => FilterSpec.Parse(spec));

    [Fact]
    public void FilterSpec_MissingOverlayImage_ThrowsNamingIt()
    {
        var error = Assert.Throws<ArgumentException>(() => FilterSpec.Parse("overlay=/nonexistent/glasses.png"));
        Assert.Contains("/nonexistent/glasses.png", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FilterSpec_KnownSpecs_MakeTheirFilters()
    {
        Assert.IsType<BlurFacesFilter>(FilterSpec.Parse("blur-faces"));
        Assert.IsType<BoxesFilter>(FilterSpec.Parse("boxes"));
        using var overlay = Assert.IsType<OverlayFilter>(FilterSpec.Parse($"overlay={TestMedia.Fixture("glasses.png")}"));
    }

    [Fact]
    public void Boxes_DrawsTheBoxOutline()
    {
        using var frame = new Mat(720, 1280, MatType.CV_8UC3, Scalar.All(0));

        new BoxesFilter().Apply(frame, 0, [Face(new Point2f(600, 300), new Point2f(700, 300))]);

        Assert.Equal(new Vec3b(0, 255, 0), frame.At<Vec3b>(400, 550));
        Assert.Equal(new Vec3b(0, 0, 0), frame.At<Vec3b>(400, 650));
    }

    private static Detection Face(Point2f rightEye, Point2f leftEye) =>
        new("face", 0.9f, new Box(550, 250, 200, 300))
        {
            Keypoints = [new("right_eye", rightEye.X, rightEye.Y), new("left_eye", leftEye.X, leftEye.Y)],
        };

    private static string OpaquePng(int width, int height, Scalar bgra)
    {
        var path = Path.Combine(TestMedia.TempDirectory(), "overlay.png");
        using var image = new Mat(height, width, MatType.CV_8UC4, bgra);
        Cv2.ImWrite(path, image);
        return path;
    }

    private static Mat Checkerboard(int height, int width, int cell)
    {
        var board = new Mat(height, width, MatType.CV_8UC3, Scalar.All(0));
        for (var y = 0; y < height; y += cell)
        {
            for (var x = (y / cell) % 2 * cell; x < width; x += 2 * cell)
            {
                Cv2.Rectangle(board, new Rect(x, y, cell, cell), Scalar.All(255), -1);
            }
        }
        return board;
    }
}
