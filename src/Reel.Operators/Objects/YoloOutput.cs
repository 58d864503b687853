using Reel.Operators.Onnx;

namespace Reel.Operators.Objects;

internal enum YoloFormat
{
    /// <summary>[1, N, 5+C]: cx, cy, w, h, objectness, C class scores per box.</summary>
    V5,

    /// <summary>[1, 4+C, N]: cx, cy, w, h, C class scores, one box per column (YOLOv8, YOLO11).</summary>
    V8,
}

/// <summary>A box that passed the confidence threshold, before non-maximum suppression.</summary>
internal readonly record struct YoloCandidate(int ClassId, float Score, Box Box);

/// <summary>Which YOLO output layout a model has, and how many boxes and classes it holds.</summary>
internal readonly record struct YoloLayout(YoloFormat Format, int Boxes, int Classes)
{
    /// <summary>
    /// Recognises the layout from the output shape and the number of labels: YOLOv5 when the last dimension is
    /// 5 + labels, YOLOv8 when the middle one is 4 + labels.
    /// </summary>
    /// <param name="labelsSource">Where the labels came from, for the error message.</param>
    public static YoloLayout Detect(IReadOnlyList<long> shape, int classes, string modelPath, string labelsSource)
    {
        if (shape.Count != 3 || shape[0] != 1 || shape[1] <= 0 || shape[2] <= 0)
        {
            throw new InvalidDataException(
                $"{modelPath}: cannot interpret the output shape {OnnxModel.FormatShape(shape)}: " +
                "expected YOLOv5 [1, N, 5+C] or YOLOv8 [1, 4+C, N]");
        }
        // The v8 check goes first: its class row count is the unusual, telling dimension.
        if (shape[1] == 4 + classes)
        {
            return new YoloLayout(YoloFormat.V8, (int)shape[2], classes);
        }
        if (shape[2] == 5 + classes)
        {
            return new YoloLayout(YoloFormat.V5, (int)shape[1], classes);
        }
        throw new InvalidDataException(
            $"{modelPath}: the output shape {OnnxModel.FormatShape(shape)} fits neither YOLOv5 [1, N, {5 + classes}] " +
            $"nor YOLOv8 [1, {4 + classes}, N] for the {classes} labels of {labelsSource}");
    }

    /// <summary>Boxes scoring at least <paramref name="confidence"/>, in frame pixels; empty boxes (outside the frame) are dropped.</summary>
    public List<YoloCandidate> Decode(ReadOnlySpan<float> output, float confidence, Letterbox letterbox, int frameWidth, int frameHeight)
    {
        var candidates = new List<YoloCandidate>();
        for (var i = 0; i < Boxes; i++)
        {
            float cx, cy, w, h, score;
            int classId;
            if (Format == YoloFormat.V5)
            {
                var row = output.Slice(i * (5 + Classes), 5 + Classes);
                var objectness = row[4];
                // The class score is at most 1, so a box whose objectness misses the threshold cannot pass.
                if (objectness < confidence)
                {
                    continue;
                }
                classId = ArgMax(row[5..]);
                score = objectness * row[5 + classId];
                (cx, cy, w, h) = (row[0], row[1], row[2], row[3]);
            }
            else
            {
                classId = 0;
                score = float.NegativeInfinity;
                for (var c = 0; c < Classes; c++)
                {
                    var value = output[((4 + c) * Boxes) + i];
                    if (value > score)
                    {
                        (score, classId) = (value, c);
                    }
                }
                (cx, cy, w, h) = (output[i], output[Boxes + i], output[(2 * Boxes) + i], output[(3 * Boxes) + i]);
            }
            if (score < confidence)
            {
                continue;
            }
            var box = letterbox.ToFrame(cx - (w / 2), cy - (h / 2), cx + (w / 2), cy + (h / 2), frameWidth, frameHeight);
            if (box.Width > 0 && box.Height > 0)
            {
                candidates.Add(new YoloCandidate(classId, score, box));
            }
        }
        return candidates;
    }

    /// <summary>
    /// Greedy non-maximum suppression within each class: best first, a box is dropped when it overlaps a kept box of
    /// its class by more than <paramref name="iou"/>. Returns at most <paramref name="limit"/> boxes, best first.
    /// </summary>
    public static List<YoloCandidate> SuppressClassWise(List<YoloCandidate> candidates, float iou, int limit)
    {
        var order = Enumerable.Range(0, candidates.Count).ToArray();
        // Ties keep the model's order so results do not depend on the sort.
        Array.Sort(order, (a, b) =>
        {
            var byScore = candidates[b].Score.CompareTo(candidates[a].Score);
            return byScore != 0 ? byScore : a.CompareTo(b);
        });
        var kept = new List<YoloCandidate>();
        foreach (var index in order)
        {
            if (kept.Count == limit)
            {
                break;
            }
            var candidate = candidates[index];
            var suppressed = false;
            foreach (var other in kept)
            {
                if (other.ClassId == candidate.ClassId && other.Box.IoU(candidate.Box) > iou)
                {
                    suppressed = true;
                    break;
                }
            }
            if (!suppressed)
            {
                kept.Add(candidate);
            }
        }
        return kept;
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        for (var i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best])
            {
                best = i;
            }
        }
        return best;
    }
}
