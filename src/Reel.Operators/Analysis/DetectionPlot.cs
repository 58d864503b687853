using System.Globalization;
using OpenCvSharp;

namespace Reel.Operators.Analysis;

/// <summary>Draws detections per second over time, one line per model (the codelab's face-count chart).</summary>
internal static class DetectionPlot
{
    private static readonly Scalar[] Colors = [new(200, 120, 30), new(40, 140, 240), new(60, 180, 60), new(180, 60, 180)];

    public static void Write(AnalysisSummary summary, string path)
    {
        const int Width = 960, Height = 400, Left = 70, Right = 30, Top = 40, Bottom = 60;
        using var canvas = new Mat(Height, Width, MatType.CV_8UC3, Scalar.All(255));
        var series = summary.PerSecond.Where(s => s.Value.Count > 0).ToList();
        var maxX = Math.Max(1, series.SelectMany(s => s.Value).Select(p => p[0]).DefaultIfEmpty(0).Max() + 1);
        var maxY = Math.Max(1, Math.Ceiling(series.SelectMany(s => s.Value).Select(p => p[1]).DefaultIfEmpty(0).Max()));
        Point At(double x, double y) => new(Left + (int)(x / maxX * (Width - Left - Right)), Height - Bottom - (int)(y / maxY * (Height - Top - Bottom)));

        for (var i = 0; i <= 4; i++)
        {
            var y = maxY * i / 4;
            Cv2.Line(canvas, At(0, y), At(maxX, y), Scalar.All(225));
            Cv2.PutText(canvas, y.ToString("0.#", CultureInfo.InvariantCulture), new Point(10, At(0, y).Y + 5), HersheyFonts.HersheySimplex, 0.45, Scalar.All(60));
        }
        for (var i = 0; i <= 5; i++)
        {
            var x = maxX * i / 5;
            Cv2.PutText(canvas, x.ToString("0", CultureInfo.InvariantCulture) + "s", new Point(At(x, 0).X - 10, Height - Bottom + 22),
                HersheyFonts.HersheySimplex, 0.45, Scalar.All(60));
        }
        Cv2.Line(canvas, At(0, 0), At(maxX, 0), Scalar.All(60));
        Cv2.Line(canvas, At(0, 0), At(0, maxY), Scalar.All(60));
        Cv2.PutText(canvas, $"detections per frame, by second - {Path.GetFileName(summary.Input)}", new Point(Left, 25),
            HersheyFonts.HersheySimplex, 0.6, Scalar.All(30));

        for (var s = 0; s < series.Count; s++)
        {
            var color = Colors[s % Colors.Length];
            var points = series[s].Value.Select(p => At(p[0] + 0.5, p[1])).ToArray();
            if (points.Length == 1)
            {
                Cv2.Circle(canvas, points[0], 3, color, -1);
            }
            Cv2.Polylines(canvas, [points], isClosed: false, color, 2, LineTypes.AntiAlias);
            Cv2.PutText(canvas, series[s].Key, new Point(Width - 160, Top + 20 + (s * 20)), HersheyFonts.HersheySimplex, 0.55, color, 2);
        }
        Cv2.ImWrite(path, canvas);
    }
}
