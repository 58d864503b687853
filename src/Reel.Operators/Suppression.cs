namespace Reel.Operators;

/// <summary>Non-maximum suppression over detections (YOLO's class-wise kind lives with its decoder).</summary>
public static class Suppression
{
    /// <summary>
    /// MediaPipe's weighted suppression: each group of boxes overlapping the best one by more than
    /// <paramref name="iou"/> becomes one detection whose box and keypoints are the score-weighted mean of the
    /// group's, with the best score.
    /// </summary>
    public static List<Detection> Weighted(IEnumerable<Detection> detections, float iou)
    {
        var remaining = detections.OrderByDescending(d => d.Score).ToList();
        var result = new List<Detection>();
        while (remaining.Count > 0)
        {
            var best = remaining[0];
            var group = remaining.Where(d => d.Box.IoU(best.Box) > iou || ReferenceEquals(d, best)).ToList();
            remaining.RemoveAll(group.Contains);
            var total = group.Sum(d => d.Score);
            float Mean(Func<Detection, float> value) => group.Sum(d => value(d) * d.Score) / total;
            var box = new Box(Mean(d => d.Box.X), Mean(d => d.Box.Y), Mean(d => d.Box.Width), Mean(d => d.Box.Height));
            IReadOnlyList<Keypoint>? keypoints = null;
            if (best.Keypoints is { } points && group.All(d => d.Keypoints?.Count == points.Count))
            {
                keypoints = points.Select((p, i) => new Keypoint(p.Name, Mean(d => d.Keypoints![i].X), Mean(d => d.Keypoints![i].Y))).ToList();
            }
            result.Add(best with { Box = box, Keypoints = keypoints });
        }
        return result;
    }
}
