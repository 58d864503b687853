using System.Text.Json.Nodes;
using Reel.Data;
using Reel.Pipelines.Jobs;
using Reel.Pipelines.Specs;
using Reel.Server.Analysis;

namespace Reel.Server.Api;

/// <summary>
/// The REST API under <c>/api/v1</c>: repos, files (uploaded and downloaded as streams), commits, pipelines, jobs,
/// datums and logs. Each request opens its own connection to the server's data (<see cref="ServerData"/>: the data
/// directory, or a cluster's database), so requests never wait on each other in this process; the database and each
/// branch's writer lock order the writers.
/// </summary>
public static class ApiEndpoints
{
    public static void MapApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/v1");
        api.MapGet("/repos", (ServerData s, CancellationToken ct) => WithData(s, async d => Results.Json(await d.Data.ListReposAsync(ct)), ct));
        api.MapPost("/repos", CreateRepoAsync);
        api.MapGet("/repos/{repo}", (string repo, ServerData s, CancellationToken ct) => WithData(s, async d => Results.Json(await d.Data.GetRepoAsync(repo, ct)), ct));
        api.MapDelete("/repos/{repo}", (string repo, bool? force, ServerData s, CancellationToken ct) => WithData(s, async d =>
        {
            await d.Data.DeleteRepoAsync(repo, force ?? false, ct);
            return Results.NoContent();
        }, ct));
        api.MapGet("/repos/{repo}/branches/{branch}/commits", (string repo, string branch, ServerData s, CancellationToken ct) =>
            WithData(s, async d => Results.Json(await d.Data.LogAsync(repo, branch, ct)), ct));
        api.MapGet("/repos/{repo}/branches/{branch}/files/{**path}", GetFileAsync);
        api.MapGet("/repos/{repo}/branches/{branch}/files", GetFileAsync);
        api.MapPut("/repos/{repo}/branches/{branch}/files/{**path}", PutFileAsync);
        api.MapDelete("/repos/{repo}/branches/{branch}/files/{**path}", DeleteFileAsync);

        api.MapGet("/pipelines", (ServerData s, CancellationToken ct) =>
            WithData(s, async d => Results.Json((await d.Pipelines.ListPipelinesAsync(ct)).Select(PipelineView).ToList()), ct));
        api.MapGet("/pipelines/{name}", (string name, ServerData s, CancellationToken ct) =>
            WithData(s, async d => Results.Json(PipelineView(await d.Pipelines.GetPipelineAsync(name, ct))), ct));
        api.MapPost("/pipelines", CreatePipelineAsync);
        api.MapDelete("/pipelines/{name}", (string name, ServerData s, CancellationToken ct) => WithData(s, async d =>
        {
            await d.Pipelines.DeletePipelineAsync(name, ct);
            return Results.NoContent();
        }, ct));
        api.MapGet("/jobs", (string? pipeline, ServerData s, CancellationToken ct) =>
            WithData(s, async d => Results.Json(await d.Pipelines.ListJobsAsync(pipeline, ct)), ct));
        api.MapGet("/jobs/{id}", (string id, ServerData s, CancellationToken ct) => WithData(s, async d => Results.Json(await d.Pipelines.GetJobAsync(id, ct)), ct));
        api.MapPost("/jobs/{id}/stop", (string id, ServerData s, CancellationToken ct) => WithData(s, async d =>
        {
            await d.Pipelines.RequestStopAsync(id, ct);
            return Results.Accepted();
        }, ct));
        api.MapGet("/jobs/{id}/datums", (string id, ServerData s, CancellationToken ct) => WithData(s, async d =>
            Results.Json(await d.Pipelines.ListDatumsAsync((await d.Pipelines.GetJobAsync(id, ct)).Id, ct)), ct));
        api.MapGet("/jobs/{id}/logs", JobLogsAsync);
        api.MapGet("/workers", ListWorkersAsync);
    }

    /// <summary>
    /// Workers that reported in the last minute, each with its node's membership status on a cluster (a worker that is not a
    /// node's, or any on the embedded engine, is "active": it reported lately); nodes of the cluster without such a worker
    /// (joining, or dead a while) are listed too, with their status only.
    /// </summary>
    private static Task<IResult> ListWorkersAsync(ServerData data, CancellationToken cancellationToken) => WithData(data, async d =>
    {
        var workers = await d.Pipelines.ListWorkersAsync(TimeSpan.FromMinutes(1), cancellationToken);
        var nodes = (await data.ListNodesAsync(cancellationToken)).ToDictionary(n => n.Worker, StringComparer.Ordinal);
        var rows = workers.Select(w => new WorkerView(
            w.Id, w.Kind, w.Host, w.Address, nodes.TryGetValue(w.Id, out var node) ? node.Status : "active", w.Slots, w.Running, w.Done, w.Failed, w.Frames,
            Math.Round(w.FramesPerSecond, 2), Math.Round(w.MillisecondsPerFrame, 2), w.Started, w.Seen)
        {
            // A node that is gone runs nothing, whatever it said last.
            WorkingOn = nodes.TryGetValue(w.Id, out var n) && n.Status != "active" ? [] : w.WorkingOn,
        });
        var listed = workers.Select(w => w.Id).ToHashSet(StringComparer.Ordinal);
        var silent = nodes.Values.Where(n => !listed.Contains(n.Worker)).Select(n => new WorkerView(
            n.Worker, "datums", n.HostName, n.Address, n.Status, null, null, null, null, null, null, null, null, n.LastSeen));
        return Results.Json(rows.Concat(silent).ToList());
    }, cancellationToken);

    /// <summary>A row of <c>/api/v1/workers</c>; the counts are null for a node that has not reported a worker.</summary>
    private sealed record WorkerView(
        string Id, string Kind, string Host, string Address, string Status, int? Slots, int? Running, long? Done, long? Failed, long? Frames,
        double? FramesPerSecond, double? MillisecondsPerFrame, DateTimeOffset? Started, DateTimeOffset Seen)
    {
        /// <summary>The datums and pieces it runs now (<see cref="WorkerInfo.WorkingOn"/>).</summary>
        public IReadOnlyList<string> WorkingOn { get; init; } = [];
    }

    private static async Task<IResult> CreateRepoAsync(HttpContext context, ServerData data, CancellationToken cancellationToken)
    {
        var body = await ReadObjectAsync(context, cancellationToken);
        if (body?["name"] is not JsonValue v || !v.TryGetValue<string>(out var name))
        {
            return AnalysisEndpoints.Error(StatusCodes.Status400BadRequest, "the body must be a JSON object with the repo's \"name\"");
        }
        return await WithData(data, async d => Results.Created($"/api/v1/repos/{name}", await d.Data.CreateRepoAsync(name, cancellationToken)), cancellationToken);
    }

    /// <summary>A file's content, streamed; or, for a directory (or the branch root, or with <c>?list=true</c>), its entries as JSON.</summary>
    private static Task<IResult> GetFileAsync(string repo, string branch, string? path, bool? list, ServerData data, CancellationToken cancellationToken) =>
        WithData(data, async d =>
        {
            var target = RepoPath(path);
            var head = await d.Data.GetHeadAsync(repo, branch, cancellationToken);
            var files = await d.Data.ListFilesAsync(head.Id, target, cancellationToken);
            if (files.Count == 1 && files[0].Path == target && list != true)
            {
                return await CheckedFileAsync(d.Data.Objects, files[0], cancellationToken);
            }
            if (files.Count == 0 && target != DataPath.Root)
            {
                throw new DataException(DataErrorKind.NotFound, $"{repo}@{branch}:{target} does not exist");
            }
            return Results.Json(files);
        }, cancellationToken);

    /// <summary>
    /// The request body as one new commit holding the file. The body is first streamed to a temporary file (within the
    /// upload limit, 413 past it) without the branch's writer lock, so a slow upload never holds up commits; an
    /// aborted or refused upload leaves no file and no commit behind.
    /// </summary>
    private static Task<IResult> PutFileAsync(
        string repo, string branch, string path, HttpContext context, ServerOptions options, ServerData data, CancellationToken cancellationToken)
    {
        if (context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            // Uploads stream to disk and have their own limit; JSON and YAML requests keep the small one.
            limit.MaxRequestBodySize = options.MaxUploadBytes;
        }
        return WithData(data, async d =>
        {
            var target = RepoPath(path);
            // A missing repo is refused before the body is received.
            await d.Data.GetRepoAsync(repo, cancellationToken);
            var spool = d.Data.Objects.NewTemporaryPath();
            try
            {
                try
                {
                    await using var file = new FileStream(spool, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
                    await context.Request.Body.CopyToAsync(file, cancellationToken);
                }
                catch (BadHttpRequestException e)
                {
                    return AnalysisEndpoints.Error(e.StatusCode, e.StatusCode == StatusCodes.Status413PayloadTooLarge
                        ? $"the upload is over the {options.MaxUploadBytes}-byte limit (--max-upload-mb)"
                        : "the upload was cut short");
                }
                await using var writer = await d.Data.BeginCommitAsync(repo, branch, $"put {target} over HTTP", cancellationToken);
                FileEntry entry;
                await using (var content = new FileStream(spool, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan))
                {
                    entry = await writer.PutFileAsync(target, content, cancellationToken);
                }
                var commit = await writer.FinishAsync(cancellationToken);
                // The commit's jobs exist when the request returns, as after a local put; the engine runs them.
                await d.Pipelines.CreateDueJobsAsync(cancellationToken);
                return Results.Created($"/api/v1/repos/{repo}/branches/{branch}/files{target}", new { commit = commit.Id, file = entry });
            }
            finally
            {
                File.Delete(spool);
            }
        }, cancellationToken);
    }

    private static Task<IResult> DeleteFileAsync(string repo, string branch, string path, ServerData data, CancellationToken cancellationToken) =>
        WithData(data, async d =>
        {
            var target = RepoPath(path);
            await using var writer = await d.Data.BeginCommitAsync(repo, branch, $"delete {target} over HTTP", cancellationToken);
            await writer.DeleteAsync(target, cancellationToken);
            var commit = await writer.FinishAsync(cancellationToken);
            await d.Pipelines.CreateDueJobsAsync(cancellationToken);
            return Results.Json(new { commit = commit.Id });
        }, cancellationToken);

    /// <summary>A pipeline from a spec in the body (YAML or JSON, Reel's or Pachyderm's); <c>?update=true</c> replaces one.</summary>
    private static async Task<IResult> CreatePipelineAsync(
        HttpContext context, bool? update, ServerOptions options, ServerData data, CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(context.Request.Body);
        string text;
        try
        {
            text = await reader.ReadToEndAsync(cancellationToken);
        }
        catch (BadHttpRequestException e)
        {
            return AnalysisEndpoints.Error(e.StatusCode, $"the spec is over the {options.MaxRequestBytes}-byte limit");
        }
        return await WithData(data, async d =>
        {
            // Commands of specs sent over HTTP run in the data directory; specs beside their scripts belong on disk.
            var spec = SpecReader.Parse(text, "spec", options.DataDirectory);
            var pipeline = update == true
                ? await d.Pipelines.UpdatePipelineAsync(spec, text, "spec", options.DataDirectory, cancellationToken)
                : await d.Pipelines.CreatePipelineAsync(spec, text, "spec", options.DataDirectory, cancellationToken);
            await d.Pipelines.CreateDueJobsAsync(cancellationToken);
            return Results.Created($"/api/v1/pipelines/{pipeline.Name}", PipelineView(pipeline));
        }, cancellationToken);
    }

    /// <summary>Every datum log of a job, each line prefixed by its datum, streamed as plain text.</summary>
    private static Task<IResult> JobLogsAsync(string id, ServerData data, CancellationToken cancellationToken) =>
        WithData(data, async d =>
        {
            var job = await d.Pipelines.GetJobAsync(id, cancellationToken);
            // This machine's log files, or the objects cluster nodes stored them in (resolved now: the store closes before the stream runs).
            var logs = new List<(string Datum, string Path)>();
            foreach (var datum in await d.Pipelines.ListDatumsAsync(job.Id, cancellationToken))
            {
                if (await d.Pipelines.LogFileAsync(datum, cancellationToken) is { } path)
                {
                    logs.Add((datum.Id, path));
                }
            }
            return Results.Stream(async output =>
            {
                await using var writer = new StreamWriter(output);
                foreach (var (datum, path) in logs)
                {
                    foreach (var line in await File.ReadAllLinesAsync(path, cancellationToken))
                    {
                        await writer.WriteLineAsync($"{datum[..12]} {line}");
                    }
                }
            }, "text/plain; charset=utf-8");
        }, cancellationToken);

    /// <summary>
    /// A stored file, checked against its hash as <c>reel get</c> does: a wrong size is refused before anything is
    /// sent; content that no longer matches its hash cuts the response off, so the client sees a failed download, not
    /// a damaged file.
    /// </summary>
    private static async Task<IResult> CheckedFileAsync(IObjectStore objects, FileEntry file, CancellationToken cancellationToken)
    {
        string path;
        try
        {
            path = await objects.GetLocalPathAsync(file.Hash, cancellationToken);
        }
        catch (DataException e) when (e.Kind is DataErrorKind.NotFound or DataErrorKind.Damaged)
        {
            return AnalysisEndpoints.Error(StatusCodes.Status500InternalServerError, $"{file.Path}: stored object {file.Hash} is damaged or missing ({e.Message})");
        }
        if (!File.Exists(path) || new FileInfo(path).Length != file.Size)
        {
            return AnalysisEndpoints.Error(StatusCodes.Status500InternalServerError, $"{file.Path}: stored object {file.Hash} is damaged or missing");
        }
        return Results.Stream(async body =>
        {
            using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
            await using var content = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
            var buffer = new byte[1 << 16];
            int read;
            long sent = 0;
            while ((read = await content.ReadAsync(buffer)) > 0 && sent + read <= file.Size)
            {
                sha.AppendData(buffer, 0, read);
                // The last block is held back until the hash is known.
                if (sent + read == file.Size && Convert.ToHexStringLower(sha.GetHashAndReset()) != file.Hash)
                {
                    throw new IOException($"{file.Path}: stored object {file.Hash} is damaged (its content no longer matches its hash)");
                }
                await body.WriteAsync(buffer.AsMemory(0, read));
                sent += read;
            }
        }, "application/octet-stream", Path.GetFileName(file.Path));
    }

    /// <summary>The repo path a URL names; an encoded '/' is a '/', so "..%2F" is refused like "../".</summary>
    private static string RepoPath(string? path) => DataPath.Normalize(Uri.UnescapeDataString(path ?? "/"));

    private static object PipelineView(PipelineInfo pipeline)
    {
        var spec = pipeline.Spec;
        return new
        {
            pipeline.Name,
            pipeline.Version,
            spec.Description,
            Inputs = spec.Input.Repos.Select(r => $"{r.Repo}@{r.Branch}:{r.Glob}").ToList(),
            Transform = spec.Transform.Steps.Count > 0 ? spec.Transform.Steps.Select(s => s.Name).ToList() : spec.Transform.Cmd,
            pipeline.Created,
            pipeline.Updated,
        };
    }

    private static async Task<JsonObject?> ReadObjectAsync(HttpContext context, CancellationToken cancellationToken)
    {
        try
        {
            return context.Request.HasJsonContentType() ? await JsonNode.ParseAsync(context.Request.Body, cancellationToken: cancellationToken) as JsonObject : null;
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    /// <summary>Runs <paramref name="work"/> on the server's data, mapping data and spec errors to their 4xx.</summary>
    private static async Task<IResult> WithData(
        ServerData server, Func<(DataStore Data, PipelineStore Pipelines), Task<IResult>> work, CancellationToken cancellationToken)
    {
        try
        {
            // Streamed results read object and log files, not the database, so the store can close before they are sent.
            await using var data = await server.OpenAsync(cancellationToken);
            return await work((data, await PipelineStore.OpenAsync(data, cancellationToken)));
        }
        catch (DataException e)
        {
            return AnalysisEndpoints.Error(e.Kind switch
            {
                DataErrorKind.NotFound => StatusCodes.Status404NotFound,
                DataErrorKind.Conflict => StatusCodes.Status409Conflict,
                DataErrorKind.Busy => StatusCodes.Status503ServiceUnavailable,
                DataErrorKind.Damaged => StatusCodes.Status500InternalServerError,
                _ => StatusCodes.Status400BadRequest,
            }, e.Message);
        }
        catch (SpecException e)
        {
            return AnalysisEndpoints.Error(StatusCodes.Status400BadRequest, e.Message);
        }
    }
}
