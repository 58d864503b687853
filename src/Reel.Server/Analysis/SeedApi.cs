using System.Text.Json.Nodes;
using Reel.Media;
using Reel.Media.Sampling;
using Reel.Operators;

namespace Reel.Server.Analysis;

/// <summary>
/// The one place where Reel's values become the seed API's (<c>/analysis</c>): frame numbers, which frames a step
/// analyzes, units, model display names and result shapes. Everything stored (reel.db, results.jsonl) and everything
/// Reel's own CLI and <c>/api/v1</c> show keeps Reel's values: frame indices from 0, milliseconds.
/// </summary>
public static class SeedApi
{
    /// <summary>How many dominant colors the seed's color job reports.</summary>
    public const int ColorCount = 3;

    /// <summary>The seed's frame number of Reel's frame index: the seed counts frames as it reads them, from 1.</summary>
    public static int FrameNumber(int index) => index + 1;

    /// <summary>Reel's frame index of a seed frame number.</summary>
    public static int FrameIndex(int frameNumber) => frameNumber - 1;

    /// <summary>Whether the seed analyzes Reel's frame <paramref name="index"/> at <paramref name="frameStep"/>: frame n when n % step == 0.</summary>
    public static bool IsAnalyzed(int index, int frameStep) => FrameNumber(index) % frameStep == 0;

    /// <summary>
    /// <c>greatest_frame_analyzed</c> from Reel's greatest stored index (-1 for none): the highest frame number with
    /// results, and 0 before any (frames count from 1, so 0 names no frame).
    /// </summary>
    public static int GreatestFrame(int greatestIndex) => greatestIndex < 0 ? 0 : FrameNumber(greatestIndex);

    /// <summary>
    /// The frames the seed analyzes: indices step-1, 2·step-1, … (frame numbers step, 2·step, …). Sampling starts at
    /// the first analyzed frame's time and keeps every step-th frame from there.
    /// </summary>
    public static FrameSampling Sampling(VideoSource source, int frameStep)
    {
        if (frameStep <= 1)
        {
            return FrameSampling.AllFrames;
        }
        var start = frameStep - 1 < source.Frames.Count
            ? source.RelativeSeconds(source.Frames[frameStep - 1].Pts)
            : source.RelativeSeconds(source.EndPts) + 1;
        return new FrameSampling { Mode = SamplingMode.Every, Step = frameStep, Start = start };
    }

    /// <summary>The seed's <c>inference_time</c>: seconds.</summary>
    public static double InferenceSeconds(double milliseconds) => Math.Round(milliseconds / 1000, 6);

    /// <summary>The seed's <c>inference_model</c> display name of a model it was asked for by id.</summary>
    public static string DisplayName(string seedModel) => seedModel switch
    {
        "color_detection" => "Color Palette Detection",
        "objects_detection" => "Object Detection",
        "emotions_detection" => "Joy Detection",
        "faces_detection" => "Face Detection",
        _ => seedModel,
    };

    /// <summary>
    /// The seed's <c>inference_results</c> of one Reel result: colors as <c>[R, G, B]</c> triples, the most dominant
    /// first; detections as <c>{label, probability, coordinates: [x, y, width, height]}</c> in source pixels.
    /// </summary>
    public static JsonArray Results(FrameResult result)
    {
        var items = new JsonArray();
        foreach (var color in result.Colors ?? [])
        {
            var rgb = Convert.FromHexString(color.Hex.TrimStart('#'));
            items.Add(new JsonArray(rgb[0], rgb[1], rgb[2]));
        }
        foreach (var detection in result.Detections)
        {
            var box = detection.Box;
            items.Add(new JsonObject
            {
                ["label"] = detection.Label,
                ["probability"] = Math.Round(detection.Score, 4),
                ["coordinates"] = new JsonArray(
                    (int)Math.Round(box.X), (int)Math.Round(box.Y), (int)Math.Round(box.Width), (int)Math.Round(box.Height)),
            });
        }
        return items;
    }

    /// <summary>The seed's error: its message as plain text, with the status code.</summary>
    public static IResult Error(int status, string message) => Microsoft.AspNetCore.Http.Results.Text(message, "text/plain; charset=utf-8", statusCode: status);
}
