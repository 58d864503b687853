using OpenCvSharp;

namespace Reel.Operators.Faces;

/// <summary>
/// The classic Viola-Jones detector (OpenCV's Haar cascade for frontal faces, from Debian's opencv-data). No
/// keypoints and a fixed score of 1; run on a copy at most <see cref="MaxSide"/> pixels long, since a full 1080p
/// frame costs about seven times as much and finds the same faces. One instance per thread.
/// </summary>
public sealed class HaarFaceDetector : IFaceDetector
{
    /// <summary>Where Debian's opencv-data package puts the cascade.</summary>
    public const string DefaultCascade = "/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml";

    private const int MaxSide = 640;

    private readonly CascadeClassifier _cascade;
    private readonly Mat _gray = new();
    private readonly Mat _small = new();

    /// <exception cref="FileNotFoundException">The cascade file is missing (install opencv-data).</exception>
    public HaarFaceDetector(string? cascadePath = null)
    {
        var path = cascadePath ?? DefaultCascade;
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"Haar cascade not found: {path} (Debian package opencv-data)", path);
        }
        _cascade = new CascadeClassifier(path);
        if (_cascade.Empty())
        {
            throw new InvalidDataException($"cannot read the Haar cascade {path}");
        }
    }

    public IReadOnlyList<Detection> Detect(Mat bgr)
    {
        var scale = Math.Min(1.0, (double)MaxSide / Math.Max(bgr.Width, bgr.Height));
        Cv2.CvtColor(bgr, _gray, ColorConversionCodes.BGR2GRAY);
        var gray = _gray;
        if (scale < 1)
        {
            Cv2.Resize(_gray, _small, new Size((int)Math.Round(bgr.Width * scale), (int)Math.Round(bgr.Height * scale)), interpolation: InterpolationFlags.Area);
            gray = _small;
        }
        Cv2.EqualizeHist(gray, gray);
        var faces = _cascade.DetectMultiScale(gray, scaleFactor: 1.1, minNeighbors: 5, minSize: new Size(20, 20));
        var back = (float)(1 / scale);
        return faces
            .Select(r => new Detection("face", 1f, new Box(r.X * back, r.Y * back, r.Width * back, r.Height * back)))
            .OrderByDescending(d => d.Box.Area)
            .ToList();
    }

    public void Dispose()
    {
        _cascade.Dispose();
        _gray.Dispose();
        _small.Dispose();
    }
}
