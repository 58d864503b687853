using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Reel.Media;

namespace Reel.Server.Analysis;

/// <summary>
/// The analysis API of the seed system (a Flask + Cassandra service), with its paths, field names, status codes
/// and value formats, so its clients work unchanged: start, status, results, frame images, metrics, videos.
/// </summary>
public static class AnalysisEndpoints
{
    public const string CorsPolicy = "analysis";

    public static void MapAnalysis(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/analysis").RequireCors(CorsPolicy);
        // Whatever goes wrong is still a seed answer, plain text with the CORS headers, so a browser client can read it.
        group.AddEndpointFilter(async (invocation, next) =>
        {
            try
            {
                return await next(invocation);
            }
            catch (Exception e) when (e is not OperationCanceledException || !invocation.HttpContext.RequestAborted.IsCancellationRequested)
            {
                invocation.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AnalysisEndpoints))
                    .LogWarning(e, "{Path} failed", invocation.HttpContext.Request.Path);
                return SeedApi.Error(StatusCodes.Status500InternalServerError, $"the server could not answer: {e.Message.Split('\n')[0]}");
            }
        });
        group.MapPost("/start", StartAsync);
        group.MapPost("/rtmp-endpoint", RtmpEndpointAsync);
        group.MapGet("/videos", VideosAsync);
        group.MapGet("/{id}", StatusAsync);
        group.MapGet("/{id}/results", ResultsAsync);
        group.MapGet("/{id}/frame/{frame:int}", FrameAsync);
        group.MapGet("/{id}/frame/{frame:int}/results", FrameResultsAsync);
        group.MapGet("/{id}/metrics", MetricsAsync);
        group.MapDelete("/{id}", DeleteAsync);

        // For the dashboard: every analysis with its progress, and videos uploaded rather than named by URL.
        var api = app.MapGroup("/api/v1/analyses");
        api.MapGet("", async (HttpContext context, AnalysisStore store, CancellationToken ct) =>
            Results.Json(new JsonArray((await store.ListAsync(null, ct)).OrderByDescending(a => a.Created).Select(a => (JsonNode)View(context, a, seed: false)).ToArray())));
        api.MapPost("", UploadAsync);
    }

    /// <summary>
    /// A video in the request body (streamed to disk, within the size limit), analyzed like a URL's:
    /// <c>POST /api/v1/analyses?videoName=clip.mp4&amp;models=color_detection,faces_detection&amp;frameStep=10</c>.
    /// </summary>
    private static async Task<IResult> UploadAsync(
        HttpContext context, string? videoName, string? models, string? frameStep, AnalysisStore store, AnalysisJobs jobs, ServerOptions options,
        CancellationToken cancellationToken)
    {
        try
        {
            var settings = new JsonObject
            {
                ["modelsToRun"] = new JsonArray((models ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(m => (JsonNode)m).ToArray()),
                ["frameStep"] = frameStep,
                ["videoName"] = videoName,
            };
            var (modelList, step, name) = ReadSettings(settings, options);
            name ??= "upload";
            if (Path.GetFileName(name) != name || name.StartsWith('.'))
            {
                throw new RequestRefusedException($"videoName '{name}' must be a plain file name");
            }
            var analysis = new AnalysisRecord(Guid.NewGuid(), AnalysisJobs.UploadScheme + name, name, modelList, step, AnalysisStatus.Pending, null, -1, DateTimeOffset.UtcNow);
            var limitBytes = Math.Min(options.MaxUploadBytes, options.MaxVideoBytes);
            if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            {
                limit.MaxRequestBodySize = limitBytes;
            }
            var directory = jobs.Directory(analysis.Id);
            Directory.CreateDirectory(directory);
            var extension = Path.GetExtension(name) is { Length: > 1 and <= 6 } given && given[1..].All(char.IsAsciiLetterOrDigit) ? given : ".mp4";
            try
            {
                await using var file = new FileStream(Path.Combine(directory, "source" + extension), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
                await context.Request.Body.CopyToAsync(file, cancellationToken);
            }
            catch (Exception e)
            {
                // Refused, cut short or aborted: no file and no analysis are left behind.
                Directory.Delete(directory, recursive: true);
                if (e is BadHttpRequestException bad)
                {
                    return Error(bad.StatusCode, bad.StatusCode == StatusCodes.Status413PayloadTooLarge
                        ? $"the video is over the {limitBytes}-byte limit"
                        : "the upload was cut short");
                }
                throw;
            }
            await store.CreateAsync(analysis, cancellationToken);
            jobs.Enqueue(analysis.Id);
            return Results.Created(StatusUrl(context, analysis.Id), View(context, analysis, seed: false));
        }
        catch (RequestRefusedException e)
        {
            return Error(e.Status, e.Message);
        }
    }

    /// <summary>An error of Reel's own API (<c>/api/v1</c>): <c>{"error": "one line"}</c>. The seed API answers with <see cref="SeedApi.Error"/>.</summary>
    public static IResult Error(int status, string message) => Results.Json(new JsonObject { ["error"] = message }, statusCode: status);

    private static async Task<IResult> StartAsync(
        HttpContext context, AnalysisStore store, AnalysisJobs jobs, VideoFetcher fetcher, ServerOptions options, CancellationToken cancellationToken)
    {
        var (request, refused) = await ReadObjectAsync(context, options, cancellationToken);
        if (request is null)
        {
            return refused!;
        }
        try
        {
            var url = fetcher.Parse(request["videoURL"] is JsonValue u && u.TryGetValue<string>(out var text) ? text : null);
            var (models, frameStep, name) = ReadSettings(request, options);
            name ??= Uri.UnescapeDataString(url.AbsolutePath.Split('/')[^1]) is { Length: > 0 } last ? last : url.Host;
            await fetcher.CheckAsync(url, cancellationToken);

            var analysis = new AnalysisRecord(Guid.NewGuid(), url.ToString(), name, models, frameStep, AnalysisStatus.Pending, null, -1, DateTimeOffset.UtcNow);
            await store.CreateAsync(analysis, cancellationToken);
            jobs.Enqueue(analysis.Id);
            return Results.Created(StatusUrl(context, analysis.Id), View(context, analysis));
        }
        catch (RequestRefusedException e)
        {
            return SeedApi.Error(e.Status, e.Message);
        }
    }

    /// <summary>A live analysis: an RTMP endpoint to push a stream to; results come in while it is live.</summary>
    private static async Task<IResult> RtmpEndpointAsync(
        HttpContext context, AnalysisStore store, LiveStreams live, ServerOptions options, CancellationToken cancellationToken)
    {
        var (request, refused) = await ReadObjectAsync(context, options, cancellationToken);
        if (request is null)
        {
            return refused!;
        }
        try
        {
            var (models, frameStep, name) = ReadSettings(request, options);
            var id = Guid.NewGuid();
            var local = context.Connection.LocalIpAddress ?? System.Net.IPAddress.Loopback;
            var pending = new AnalysisRecord(id, "rtmp://", name ?? $"live-{id:N}", models, frameStep, AnalysisStatus.Pending, null, -1, DateTimeOffset.UtcNow);
            // Recorded before the endpoint opens, so a stream pushed at once finds its analysis.
            await store.CreateAsync(pending, cancellationToken);
            string endpoint;
            try
            {
                endpoint = await live.OpenAsync(pending, local.IsIPv4MappedToIPv6 ? local.MapToIPv4() : local, context.Request.Host.Host, cancellationToken);
            }
            catch (RequestRefusedException)
            {
                await store.DeleteAsync(id, CancellationToken.None);
                throw;
            }
            // What others can read names the endpoint, not its stream key: only this response carries the key.
            var shown = endpoint[..(endpoint.LastIndexOf('/') + 1)] + "<stream key>";
            await store.SetVideoUrlAsync(id, shown, cancellationToken);
            var analysis = pending with { VideoUrl = shown };
            var view = View(context, analysis);
            view["rtmp_endpoint"] = endpoint;
            return Results.Created(StatusUrl(context, analysis.Id), view);
        }
        catch (RequestRefusedException e)
        {
            return SeedApi.Error(e.Status, e.Message);
        }
    }

    /// <summary>The request's JSON object, or the 4xx for a body that is not one.</summary>
    private static async Task<(JsonObject? Request, IResult? Refused)> ReadObjectAsync(HttpContext context, ServerOptions options, CancellationToken cancellationToken)
    {
        if (!context.Request.HasJsonContentType())
        {
            return (null, SeedApi.Error(StatusCodes.Status400BadRequest, "Content-Type must be application/json"));
        }
        try
        {
            return await JsonNode.ParseAsync(context.Request.Body, cancellationToken: cancellationToken) is JsonObject request
                ? (request, null)
                : (null, SeedApi.Error(StatusCodes.Status400BadRequest, "the body must be a JSON object"));
        }
        catch (JsonException e)
        {
            return (null, SeedApi.Error(StatusCodes.Status400BadRequest, $"the body is not valid JSON: {e.Message}"));
        }
        catch (BadHttpRequestException e)
        {
            return (null, SeedApi.Error(e.StatusCode, $"the request body is over the {options.MaxRequestBytes}-byte limit"));
        }
    }

    /// <summary>modelsToRun, frameStep and videoName, as both kinds of analysis take them.</summary>
    private static (IReadOnlyList<string> Models, int FrameStep, string? Name) ReadSettings(JsonObject request, ServerOptions options)
    {
        var models = ReadModels(request["modelsToRun"], options);
        var frameStep = ReadFrameStep(request["frameStep"]);
        var name = request["videoName"] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<string>(out var s) => s,
            _ => throw new RequestRefusedException("videoName must be a string"),
        };
        return (models, frameStep, string.IsNullOrWhiteSpace(name) ? null : name);
    }

    private static IReadOnlyList<string> ReadModels(JsonNode? node, ServerOptions options)
    {
        if (node is not JsonArray array || array.Count == 0)
        {
            throw new RequestRefusedException($"modelsToRun must be a non-empty list of: {string.Join(", ", SeedModels.Names)}");
        }
        var models = new List<string>();
        foreach (var item in array)
        {
            if (item is not JsonValue value || !value.TryGetValue<string>(out var name) || !SeedModels.TryGetReelModel(name, out var reel))
            {
                throw new RequestRefusedException($"unknown model {item?.ToJsonString() ?? "null"} in modelsToRun; the models are {string.Join(", ", SeedModels.Names)}");
            }
            if (!models.Contains(name))
            {
                models.Add(name);
            }
        }
        return models;
    }

    /// <summary>A number, a numeric string, or absent/empty (1), as the seed accepted it.</summary>
    private static int ReadFrameStep(JsonNode? node)
    {
        var text = node switch
        {
            null => "",
            JsonValue v when v.TryGetValue<string>(out var s) => s.Trim(),
            JsonValue v when v.GetValueKind() == JsonValueKind.Number => v.ToJsonString(),
            _ => throw new RequestRefusedException("frameStep must be a whole number of at least 1"),
        };
        if (text.Length == 0)
        {
            return 1;
        }
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var step) && step >= 1
            ? step
            : throw new RequestRefusedException($"frameStep must be a whole number of at least 1, not {text}");
    }

    private static async Task<IResult> StatusAsync(HttpContext context, string id, AnalysisStore store, CancellationToken cancellationToken) =>
        await FindAsync(id, store, cancellationToken) is var (analysis, error) && analysis is not null
            ? Results.Json(View(context, analysis))
            : error!;

    private static async Task<IResult> VideosAsync(HttpContext context, AnalysisStore store, CancellationToken cancellationToken) =>
        Results.Json(new JsonArray((await store.ListAsync(AnalysisStatus.Completed, cancellationToken)).Select(a => (JsonNode)View(context, a)).ToArray()));

    private static async Task<IResult> ResultsAsync(HttpContext context, string id, AnalysisStore store, CancellationToken cancellationToken)
    {
        var (analysis, error) = await FindAsync(id, store, cancellationToken);
        if (analysis is null)
        {
            return error!;
        }
        var rows = await store.GetResultsAsync(analysis.Id, null, cancellationToken);
        return rows.Count == 0
            ? SeedApi.Error(StatusCodes.Status404NotFound, $"No results found for video {analysis.Id} yet ({analysis.Status})")
            : Results.Json(Rows(context, analysis, rows));
    }

    private static async Task<IResult> FrameResultsAsync(HttpContext context, string id, int frame, AnalysisStore store, CancellationToken cancellationToken)
    {
        var (analysis, error) = await FindAsync(id, store, cancellationToken);
        if (analysis is null)
        {
            return error!;
        }
        var rows = await store.GetResultsAsync(analysis.Id, SeedApi.FrameIndex(frame), cancellationToken);
        return rows.Count == 0
            ? SeedApi.Error(StatusCodes.Status404NotFound, $"No results found for frame {frame} of video {analysis.Id}")
            : Results.Json(Rows(context, analysis, rows));
    }

    /// <summary>
    /// An analyzed frame's image with its boxes drawn, 404 for any other frame (the seed kept images of analyzed frames
    /// only). The greatest frame of each stored batch was kept as it was analyzed; any other is decoded from its keyframe.
    /// </summary>
    private static async Task<IResult> FrameAsync(
        string id, int frame, AnalysisStore store, AnalysisJobs jobs, FrameImages images, CancellationToken cancellationToken)
    {
        var (analysis, error) = await FindAsync(id, store, cancellationToken);
        if (analysis is null)
        {
            return error!;
        }
        var rows = frame < 1 ? [] : await store.GetResultsAsync(analysis.Id, SeedApi.FrameIndex(frame), cancellationToken);
        if (rows.Count == 0)
        {
            return SeedApi.Error(StatusCodes.Status404NotFound, $"Frame {frame} of video {analysis.Id} is not analyzed ({analysis.Status})");
        }
        var kept = StreamedResults.ImagePath(jobs.FramesDirectory(analysis.Id), frame);
        if (File.Exists(kept))
        {
            return Results.File(kept, "image/jpeg");
        }
        if (jobs.SourceOf(analysis.Id) is not { } source)
        {
            return SeedApi.Error(StatusCodes.Status404NotFound, $"Frame {frame} of video {analysis.Id} is not available: the video is gone");
        }
        byte[]? jpeg;
        try
        {
            jpeg = await images.RenderAsync(source, SeedApi.FrameIndex(frame), rows, cancellationToken);
        }
        catch (Exception e) when (e is MediaException or IOException or InvalidDataException)
        {
            // A live recording can be unreadable for a moment while it is being written.
            return SeedApi.Error(StatusCodes.Status404NotFound, $"Frame {frame} of video {analysis.Id} cannot be read yet ({analysis.Status}): {e.Message.Split('\n')[0]}");
        }
        return jpeg is null ? SeedApi.Error(StatusCodes.Status404NotFound, $"Video {analysis.Id} has no frame {frame}") : Results.File(jpeg, "image/jpeg");
    }

    /// <summary>Removes a finished analysis: its rows, results, fetched video and frames (409 while it runs).</summary>
    private static async Task<IResult> DeleteAsync(
        string id, AnalysisStore store, ServerData data, FrameImages images, ServerOptions options, CancellationToken cancellationToken)
    {
        var (analysis, error) = await FindAsync(id, store, cancellationToken);
        if (analysis is null)
        {
            return error!;
        }
        if (!AnalysisRetention.IsFinished(analysis))
        {
            return SeedApi.Error(StatusCodes.Status409Conflict, $"video {analysis.Id} is {analysis.Status}; it can be deleted once it has finished");
        }
        await AnalysisRetention.RemoveAsync(store, data.OpenAsync, options.DataDirectory, analysis.Id, cancellationToken);
        images.Forget(AnalysisRetention.DirectoryOf(options.DataDirectory, analysis.Id));
        return Results.NoContent();
    }

    /// <summary>The seed's metrics rows: <c>[{video_id, metric_name, metric_value}]</c>, times in seconds.</summary>
    private static async Task<IResult> MetricsAsync(HttpContext context, string id, AnalysisStore store, CancellationToken cancellationToken)
    {
        var (analysis, error) = await FindAsync(id, store, cancellationToken);
        if (analysis is null)
        {
            return error!;
        }
        var rows = await store.GetResultsAsync(analysis.Id, null, cancellationToken);
        var videoId = analysis.Id.ToString("D");
        var metrics = new JsonArray();
        void Add(string name, double value) => metrics.Add(new JsonObject { ["video_id"] = videoId, ["metric_name"] = name, ["metric_value"] = value });
        Add("frames_analyzed", rows.Select(r => r.Frame).Distinct().Count());
        Add("greatest_frame_analyzed", SeedApi.GreatestFrame(analysis.GreatestFrame));
        foreach (var group in rows.GroupBy(r => r.Model).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            Add($"{group.Key}_frames", group.Count());
            Add($"{group.Key}_detections", group.Sum(r => JsonNode.Parse(r.Results)!.AsArray().Count));
            Add($"{group.Key}_average_inference_time", SeedApi.InferenceSeconds(group.Average(r => r.InferenceMs)));
            Add($"{group.Key}_total_inference_time", SeedApi.InferenceSeconds(group.Sum(r => r.InferenceMs)));
        }
        return Results.Json(metrics);
    }

    /// <summary>The analysis for a path id: 400 when it is not a UUID, 404 when there is none.</summary>
    private static async Task<(AnalysisRecord? Analysis, IResult? Error)> FindAsync(string id, AnalysisStore store, CancellationToken cancellationToken)
    {
        if (!Guid.TryParse(id, out var guid))
        {
            return (null, SeedApi.Error(StatusCodes.Status400BadRequest, $"'{id}' is not a valid video_id (a UUID)"));
        }
        return await store.GetAsync(guid, cancellationToken) is { } analysis
            ? (analysis, null)
            : (null, SeedApi.Error(StatusCodes.Status404NotFound, $"Video {guid} not found"));
    }

    /// <summary>An analysis as the seed's status; with <paramref name="seed"/> false (Reel's <c>/api/v1</c>), its greatest frame is Reel's index (-1 for none).</summary>
    private static JsonObject View(HttpContext context, AnalysisRecord analysis, bool seed = true)
    {
        var view = new JsonObject
        {
            ["video_id"] = analysis.Id.ToString("D"),
            ["video_url"] = analysis.VideoUrl,
            ["video_name"] = analysis.VideoName,
            ["status"] = analysis.Status.ToString(),
            ["models_to_run"] = new JsonArray(analysis.Models.Select(m => (JsonNode)m).ToArray()),
            ["frame_step"] = analysis.FrameStep,
            ["greatest_frame_analyzed"] = seed ? SeedApi.GreatestFrame(analysis.GreatestFrame) : analysis.GreatestFrame,
            ["frames_planned"] = analysis.FramesPlanned,
            ["frames_done"] = analysis.FramesDone,
            ["status_url"] = StatusUrl(context, analysis.Id),
        };
        if (analysis.Status == AnalysisStatus.Completed)
        {
            view["results_url"] = StatusUrl(context, analysis.Id) + "/results";
        }
        if (analysis.Status == AnalysisStatus.Failed)
        {
            view["error"] = analysis.Error;
        }
        return view;
    }

    /// <summary>Result rows as the seed's: frame numbers from 1, timestamps and inference times in seconds, display names.</summary>
    private static JsonArray Rows(HttpContext context, AnalysisRecord analysis, IReadOnlyList<AnalysisRow> rows) =>
        new(rows.Select(r => (JsonNode)new JsonObject
        {
            ["video_id"] = analysis.Id.ToString("D"),
            ["frame_number"] = SeedApi.FrameNumber(r.Frame),
            ["video_timestamp"] = Math.Round(r.Timestamp, 6),
            ["inference_model"] = SeedApi.DisplayName(r.Model),
            ["inference_results"] = JsonNode.Parse(r.Results),
            ["inference_time"] = SeedApi.InferenceSeconds(r.InferenceMs),
            ["frames_url"] = $"{StatusUrl(context, analysis.Id)}/frame/{SeedApi.FrameNumber(r.Frame)}",
        }).ToArray());

    private static string StatusUrl(HttpContext context, Guid id) =>
        $"{context.Request.Scheme}://{context.Request.Host}/analysis/{id:D}";
}
