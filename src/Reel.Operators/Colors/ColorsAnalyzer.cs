using System.Diagnostics;
using System.Globalization;
using OpenCvSharp;

namespace Reel.Operators.Colors;

/// <summary>
/// The k dominant colors of a frame: k-means (k-means++ start) over the pixels of a small downscaled copy. Each color is
/// its cluster's mean, as #rrggbb, with the fraction of pixels in the cluster; largest share first, shares summing to 1.
/// The same frame always gives the same answer: the generator k-means++ draws from is reseeded before every frame.
/// </summary>
public sealed class ColorsAnalyzer : IFrameAnalyzer
{
    public const string ModelName = "colors";

    // Any fixed value; only determinism matters.
    private const ulong Seed = 0x5EED_C010;

    private readonly Mat _small = new();
    private readonly Mat _samples = new();
    private readonly Mat _labels = new();
    private readonly Mat _centers = new();

    public ColorsAnalyzer(ColorsOptions? options = null)
    {
        Options = options ?? new ColorsOptions();
        Options.Validate();
    }

    public ColorsOptions Options { get; }

    public string Model => ModelName;

    public FrameResult Analyze(AnalysisFrame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var started = Stopwatch.GetTimestamp();
        Thumbnail.Shrink(frame.Bgr, Options.SampleSide, _small);
        var colors = DominantColors(_small);
        return new FrameResult
        {
            Frame = frame.Index,
            Time = frame.Time,
            Model = Model,
            Colors = colors,
            InferenceMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds,
        };
    }

    /// <summary>The dominant colors of every pixel of an 8-bit BGR picture.</summary>
    private IReadOnlyList<ColorShare> DominantColors(Mat bgr)
    {
        if (bgr.Type() != MatType.CV_8UC3)
        {
            throw new ArgumentException($"expected 8-bit BGR, got {bgr.Type()}", nameof(bgr));
        }
        var pixels = bgr.Rows * bgr.Cols;
        if (pixels == 0)
        {
            return [];
        }
        using (var copy = bgr.IsContinuous() ? null : bgr.Clone())
        using (var rows = (copy ?? bgr).Reshape(1, pixels))
        {
            rows.ConvertTo(_samples, MatType.CV_32F);
        }

        var k = Math.Min(Options.K, pixels);
        Cv2.SetTheRNG(Seed);
        Cv2.Kmeans(_samples, k, _labels, new TermCriteria(CriteriaTypes.Count | CriteriaTypes.Eps, 10, 1.0), 1, KMeansFlags.PpCenters,
            _centers);

        var counts = new int[k];
        foreach (var label in _labels.AsSpan<int>())
        {
            counts[label]++;
        }
        var centers = _centers.AsSpan<float>();

        // k-means fills empty clusters by splitting others, so clusters can coincide: one color, one entry.
        var byHex = new Dictionary<string, int>(k, StringComparer.Ordinal);
        for (var i = 0; i < k; i++)
        {
            if (counts[i] == 0)
            {
                continue;
            }
            var hex = Hex(centers[(3 * i) + 2], centers[(3 * i) + 1], centers[3 * i]);
            byHex[hex] = byHex.GetValueOrDefault(hex) + counts[i];
        }
        return byHex
            .OrderByDescending(c => c.Value)
            .ThenBy(c => c.Key, StringComparer.Ordinal)
            .Select(c => new ColorShare(c.Key, (double)c.Value / pixels))
            .ToList();
    }

    private static string Hex(float r, float g, float b) =>
        string.Create(CultureInfo.InvariantCulture, $"#{Channel(r):x2}{Channel(g):x2}{Channel(b):x2}");

    private static int Channel(float value) => Math.Clamp((int)MathF.Round(value), 0, 255);

    public void Dispose()
    {
        _small.Dispose();
        _samples.Dispose();
        _labels.Dispose();
        _centers.Dispose();
    }
}
