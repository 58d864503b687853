using OpenCvSharp;

namespace Reel.Operators.Objects;

/// <summary>
/// How a frame was fitted into the model's input: scaled by <see cref="Scale"/> keeping its aspect ratio, then
/// placed at (<see cref="Left"/>, <see cref="Top"/>) with grey padding around it.
/// </summary>
internal readonly record struct Letterbox(float Scale, int Left, int Top, int ContentWidth, int ContentHeight)
{
    /// <summary>YOLO's training padding grey.</summary>
    public const byte PadValue = 114;

    public static Letterbox For(int frameWidth, int frameHeight, int inputWidth, int inputHeight)
    {
        var scale = Math.Min((float)inputWidth / frameWidth, (float)inputHeight / frameHeight);
        var width = Math.Clamp((int)Math.Round(frameWidth * scale), 1, inputWidth);
        var height = Math.Clamp((int)Math.Round(frameHeight * scale), 1, inputHeight);
        return new Letterbox(scale, (inputWidth - width) / 2, (inputHeight - height) / 2, width, height);
    }

    /// <summary>
    /// Letterboxes an 8-bit BGR picture straight into an RGB, 0..1, NCHW float tensor of
    /// <paramref name="inputWidth"/> × <paramref name="inputHeight"/>; <paramref name="resized"/> is a reusable buffer.
    /// </summary>
    public static unsafe Letterbox Fill(Mat bgr, int inputWidth, int inputHeight, Span<float> tensor, Mat resized)
    {
        if (bgr.Type() != MatType.CV_8UC3)
        {
            throw new ArgumentException($"expected an 8-bit BGR picture, got {bgr.Type()}", nameof(bgr));
        }
        var plane = inputWidth * inputHeight;
        if (tensor.Length < 3 * plane)
        {
            throw new ArgumentException("the tensor is smaller than 3 × the input size", nameof(tensor));
        }
        var box = For(bgr.Width, bgr.Height, inputWidth, inputHeight);
        var source = bgr;
        if (box.ContentWidth != bgr.Width || box.ContentHeight != bgr.Height)
        {
            Cv2.Resize(bgr, resized, new Size(box.ContentWidth, box.ContentHeight), interpolation: InterpolationFlags.Linear);
            source = resized;
        }

        const float pad = PadValue / 255f;
        const float toUnit = 1 / 255f;
        var red = tensor[..plane];
        var green = tensor.Slice(plane, plane);
        var blue = tensor.Slice(2 * plane, plane);
        for (var y = 0; y < inputHeight; y++)
        {
            var row = y * inputWidth;
            var sy = y - box.Top;
            if (sy < 0 || sy >= box.ContentHeight)
            {
                red.Slice(row, inputWidth).Fill(pad);
                green.Slice(row, inputWidth).Fill(pad);
                blue.Slice(row, inputWidth).Fill(pad);
                continue;
            }
            var right = box.Left + box.ContentWidth;
            red.Slice(row, box.Left).Fill(pad);
            green.Slice(row, box.Left).Fill(pad);
            blue.Slice(row, box.Left).Fill(pad);
            red.Slice(row + right, inputWidth - right).Fill(pad);
            green.Slice(row + right, inputWidth - right).Fill(pad);
            blue.Slice(row + right, inputWidth - right).Fill(pad);
            var pixels = (byte*)source.Ptr(sy);
            for (var x = 0; x < box.ContentWidth; x++)
            {
                var i = row + box.Left + x;
                blue[i] = pixels[3 * x] * toUnit;
                green[i] = pixels[(3 * x) + 1] * toUnit;
                red[i] = pixels[(3 * x) + 2] * toUnit;
            }
        }
        return box;
    }

    /// <summary>A box given by corners in input pixels, in frame pixels, clipped to the frame.</summary>
    public Box ToFrame(float x1, float y1, float x2, float y2, int frameWidth, int frameHeight)
    {
        var left = Math.Clamp((x1 - Left) / Scale, 0, frameWidth);
        var top = Math.Clamp((y1 - Top) / Scale, 0, frameHeight);
        var right = Math.Clamp((x2 - Left) / Scale, 0, frameWidth);
        var bottom = Math.Clamp((y2 - Top) / Scale, 0, frameHeight);
        return new Box(left, top, right - left, bottom - top);
    }
}
