using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Reel.Media;
using Reel.Media.Extraction;
using Reel.Media.Sampling;
using Reel.Operators.Analysis;

namespace Reel.Server.Analysis;

/// <summary>
/// Runs requested analyses one after another in the background (each one already uses every core): fetch the
/// video, check its limits, analyze every <c>frameStep</c>-th frame with the requested models, then store the
/// rows. Progress (the greatest frame analyzed) is recorded as frames finish. Analyses a stopped server left
/// pending or half done start again when it starts.
/// </summary>
public sealed class AnalysisRunner(AnalysisStore store, VideoFetcher fetcher, ServerOptions options, ILogger<AnalysisRunner> logger)
    : BackgroundService
{
    private readonly Channel<Guid> _queue = Channel.CreateUnbounded<Guid>();

    public string Directory(Guid id) => Path.Combine(options.DataDirectory, "analyses", id.ToString("D"));

    /// <summary>The fetched source video of an analysis, once there.</summary>
    public string? SourceOf(Guid id) => System.IO.Directory.Exists(Directory(id))
        ? System.IO.Directory.EnumerateFiles(Directory(id), "source.*").FirstOrDefault()
        : null;

    public void Enqueue(Guid id) => _queue.Writer.TryWrite(id);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (var unfinished in (await store.ListAsync(null, stoppingToken)).Where(a => a.Status is AnalysisStatus.Pending or AnalysisStatus.Processing))
        {
            Enqueue(unfinished.Id);
        }
        await foreach (var id in _queue.Reader.ReadAllAsync(stoppingToken))
        {
            if (await store.GetAsync(id, stoppingToken) is not { } analysis)
            {
                continue;
            }
            try
            {
                await store.SetStatusAsync(id, AnalysisStatus.Processing, null, stoppingToken);
                await RunAsync(analysis, stoppingToken);
                await store.SetStatusAsync(id, AnalysisStatus.Completed, null, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                var reason = e is RequestRefusedException or MediaException or IOException or HttpRequestException ? e.Message : e.ToString();
                logger.LogWarning("analysis {Id} failed: {Reason}", id, reason);
                await store.SetStatusAsync(id, AnalysisStatus.Failed, reason.Split('\n')[0], CancellationToken.None);
            }
        }
    }

    private async Task RunAsync(AnalysisRecord analysis, CancellationToken cancellationToken)
    {
        var directory = Directory(analysis.Id);
        if (System.IO.Directory.Exists(directory))
        {
            System.IO.Directory.Delete(directory, recursive: true);
        }
        System.IO.Directory.CreateDirectory(directory);
        var url = fetcher.Parse(analysis.VideoUrl);
        var extension = Path.GetExtension(url.AbsolutePath) is { Length: > 1 and <= 6 } e ? e : ".mp4";
        var source = Path.Combine(directory, "source" + extension);
        await fetcher.FetchAsync(url, source, cancellationToken);
        var probe = VideoProbe.Probe(source, cancellationToken);
        var duration = TimeSpan.FromSeconds(probe.RelativeSeconds(probe.EndPts));
        if (duration > options.MaxVideoDuration)
        {
            throw new RequestRefusedException($"the video lasts {duration:g}, over the {options.MaxVideoDuration:g} limit");
        }

        var models = analysis.Models.Select(m => SeedModels.TryGetReelModel(m, out var reel) ? reel : m).ToList();
        var analyzeOptions = new AnalyzeOptions
        {
            OutputDirectory = Path.Combine(directory, "out"),
            Models = models,
            Sampling = analysis.FrameStep > 1 ? new FrameSampling { Mode = SamplingMode.Every, Step = analysis.FrameStep } : FrameSampling.AllFrames,
            ObjectModel = options.ObjectModel,
            EmotionModel = options.EmotionModel,
        };
        var progress = new Progress(store, analysis, cancellationToken);
        var result = (await new VideoAnalyzer(analyzeOptions, progress).RunAsync([source], cancellationToken)).Single();
        if (result.Outcome == VideoOutcome.Failed)
        {
            throw new IOException(result.Error ?? "the analysis failed");
        }
        var rows = ReadRows(Path.Combine(result.OutputDirectory, ResultsFileName));
        await store.SaveResultsAsync(analysis.Id, rows, cancellationToken);
        await store.SetProgressAsync(analysis.Id, rows.Count == 0 ? -1 : rows.Max(r => r.Frame), cancellationToken);
    }

    private const string ResultsFileName = "results.jsonl";

    /// <summary>Reel's results.jsonl as the API's rows: boxes as [x, y, width, height], colors as hex.</summary>
    private static List<AnalysisRow> ReadRows(string path)
    {
        var rows = new List<AnalysisRow>();
        foreach (var line in File.ReadLines(path))
        {
            var node = JsonNode.Parse(line)!.AsObject();
            var model = (string)node["model"]!;
            var items = new JsonArray();
            if (node["colors"] is JsonArray colors)
            {
                foreach (var color in colors)
                {
                    items.Add(new JsonObject { ["color"] = (string)color!["hex"]!, ["percentage"] = Math.Round((double)color["share"]! * 100, 2) });
                }
            }
            if (node["detections"] is JsonArray detections)
            {
                foreach (var detection in detections)
                {
                    var box = detection!["box"]!;
                    items.Add(new JsonObject
                    {
                        ["label"] = (string)detection["label"]!,
                        ["probability"] = Math.Round((double)detection["score"]!, 4),
                        ["coordinates"] = new JsonArray(
                            (int)Math.Round((double)box["x"]!), (int)Math.Round((double)box["y"]!),
                            (int)Math.Round((double)box["width"]!), (int)Math.Round((double)box["height"]!)),
                    });
                }
            }
            rows.Add(new AnalysisRow(
                (int)node["frame"]!, SeedModels.SeedName(model), (double)node["time"]!, items.ToJsonString(),
                node["inferenceMs"] is JsonNode ms ? (double)ms : 0));
        }
        return rows;
    }

    /// <summary>Records the greatest frame analyzed as frames finish, at most a few times a second.</summary>
    private sealed class Progress(AnalysisStore store, AnalysisRecord analysis, CancellationToken cancellationToken) : IVideoProgress
    {
        private int _done;
        private long _lastWrite;

        public void VideoStarted(string input, int framesPlanned)
        {
        }

        public void FramesDone(string input, int count)
        {
            var done = Interlocked.Add(ref _done, count);
            var now = Environment.TickCount64;
            if (now - Interlocked.Read(ref _lastWrite) > 250)
            {
                Interlocked.Exchange(ref _lastWrite, now);
                _ = store.SetProgressAsync(analysis.Id, (done - 1) * analysis.FrameStep, cancellationToken);
            }
        }

        public void VideoFinished(VideoResult result)
        {
        }
    }
}
