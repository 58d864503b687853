using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OpenCvSharp;
using Reel.Operators;
using Reel.Operators.Filters;

namespace Reel.Server.Analysis;

/// <summary>One frame of an analyzed video as JPEG, with the boxes and labels of its results drawn on it.</summary>
public static class FrameImages
{
    /// <returns>The JPEG, or null when the video has no frame <paramref name="frame"/>.</returns>
    public static async Task<byte[]?> RenderAsync(string video, int frame, IEnumerable<AnalysisRow> rows, CancellationToken cancellationToken)
    {
        var png = await DecodeFrameAsync(video, frame, cancellationToken);
        if (png.Length == 0)
        {
            return null;
        }
        using var image = Cv2.ImDecode(png, ImreadModes.Color);
        var detections = new List<Detection>();
        foreach (var row in rows)
        {
            using var results = JsonDocument.Parse(row.Results);
            foreach (var item in results.RootElement.EnumerateArray())
            {
                if (item.TryGetProperty("coordinates", out var c))
                {
                    detections.Add(new Detection(
                        item.GetProperty("label").GetString() ?? "", item.GetProperty("probability").GetSingle(),
                        new Box(c[0].GetSingle(), c[1].GetSingle(), c[2].GetSingle(), c[3].GetSingle())));
                }
            }
        }
        new BoxesFilter(new BoxesOptions { Labels = true, Keypoints = false }).Apply(image, frame, detections);
        return image.ImEncode(".jpg", new ImageEncodingParam(ImwriteFlags.JpegQuality, 90));
    }

    /// <summary>Frame <paramref name="frame"/> (presentation order, as Reel numbers frames) as PNG, decoded by ffmpeg.</summary>
    private static async Task<byte[]> DecodeFrameAsync(string video, int frame, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo("ffmpeg") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[]
        {
            "-nostdin", "-v", "error", "-i", video, "-map", "0:v:0", "-vf", string.Create(CultureInfo.InvariantCulture, $"select=eq(n\\,{frame})"),
            "-fps_mode", "passthrough", "-frames:v", "1", "-f", "image2pipe", "-c:v", "png", "-",
        })
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        using var output = new MemoryStream();
        var error = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.StandardOutput.BaseStream.CopyToAsync(output, cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new IOException($"ffmpeg could not decode frame {frame}: {(await error).Trim()}");
        }
        return output.ToArray();
    }
}
