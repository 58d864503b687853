using System.CommandLine;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Reel.Cluster;
using Reel.Data;
using Reel.Server;

namespace Reel.Cli.Commands;

/// <summary><c>reel serve</c>: the HTTP API, and the pipeline engine of the data directory, in one process.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var dataDir = DataCommandSupport.DataDirOption();
        var urls = new Option<string[]>("--urls") { Description = "Where to listen (default http://127.0.0.1:8000); port 0 picks a free port", AllowMultipleArgumentsPerToken = true };
        var allowPrivate = new Option<bool>("--allow-private-urls") { Description = "Let videoURL reach loopback, private and link-local addresses (refused by default)" };
        var allowFile = new Option<bool>("--allow-file-urls") { Description = "Accept file:// video URLs (files of this machine)" };
        var objectModel = new Option<string?>("--object-model") { Description = "YOLO ONNX file that objects_detection runs" };
        var emotionModel = new Option<string?>("--emotion-model") { Description = "Emotion classifier ONNX file that emotions_detection runs" };
        var token = new Option<string?>("--token") { Description = "Bearer token every changing request must carry (default: $REEL_SERVER_TOKEN; none: open)" };
        var tokenForReads = new Option<bool>("--token-for-reads") { Description = "Require the token for reading too" };
        var cors = new Option<string[]>("--cors-origin") { Description = "Browser origins allowed to call /analysis (repeatable; default: any)", AllowMultipleArgumentsPerToken = true };
        var maxVideo = new Option<long>("--max-video-mb") { Description = "Largest video a URL may deliver, in MiB", DefaultValueFactory = _ => 2048 };
        var command = new Command(
            "serve",
            "Serve the HTTP API: the analysis API of the seed video-analysis service (POST /analysis/start, GET /analysis/{id}, "
            + ".../results, .../frame/{n}, .../metrics, /analysis/videos); its OpenAPI document at /openapi/v1.json and a page "
            + "to try it at /docs. Runs the pipeline engine too, unless one already runs.\n\n"
            + "Example:\n  reel serve --urls http://0.0.0.0:8000")
        {
            dataDir, urls, allowPrivate, allowFile, objectModel, emotionModel, maxVideo, token, tokenForReads, cors,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            foreach (var (option, path) in new[] { ("--object-model", result.GetValue(objectModel)), ("--emotion-model", result.GetValue(emotionModel)) })
            {
                if (path is not null && !File.Exists(path))
                {
                    await Console.Error.WriteLineAsync($"reel serve: {option} {path}: no such file");
                    return ExitCodes.Usage;
                }
            }
            var directory = DataStore.ResolveDirectory(result.GetValue(dataDir));
            var options = new ServerOptions
            {
                DataDirectory = directory,
                Urls = result.GetValue(urls) is { Length: > 0 } given ? given : ["http://127.0.0.1:8000"],
                AllowPrivateUrls = result.GetValue(allowPrivate),
                AllowFileUrls = result.GetValue(allowFile),
                ObjectModel = result.GetValue(objectModel) is { } objects ? Path.GetFullPath(objects) : null,
                EmotionModel = result.GetValue(emotionModel) is { } emotion ? Path.GetFullPath(emotion) : null,
                MaxVideoBytes = result.GetValue(maxVideo) * 1024 * 1024,
                Token = result.GetValue(token) ?? Environment.GetEnvironmentVariable("REEL_SERVER_TOKEN"),
                OpenReads = !result.GetValue(tokenForReads),
                CorsOrigins = result.GetValue(cors) is { Length: > 0 } origins ? origins : ["*"],
            };
            await using var app = await ReelServer.BuildAsync(options, cancellationToken);
            try
            {
                await app.StartAsync(cancellationToken);
            }
            catch (IOException e)
            {
                await Console.Error.WriteLineAsync($"reel serve: cannot listen on {string.Join(", ", options.Urls)}: {e.Message}");
                return ExitCodes.InputFailed;
            }
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
            await Console.Out.WriteLineAsync($"reel serve: listening on {string.Join(", ", addresses)} (data: {directory})");
            // The engine serves this data directory while the server runs. When another engine holds it (one a
            // command started, which stops once idle), this one takes over as soon as the lock is free.
            var engine = Task.Run(async () =>
            {
                while (!await Engine.RunAsync(new EngineOptions { DataDirectory = directory }, cancellationToken))
                {
                    await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
                }
            }, CancellationToken.None);
            try
            {
                await app.WaitForShutdownAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
            }
            await app.StopAsync(CancellationToken.None);
            try
            {
                await engine;
            }
            catch (OperationCanceledException)
            {
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
