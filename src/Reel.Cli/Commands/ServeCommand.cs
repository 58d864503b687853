using System.CommandLine;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Reel.Cluster;
using Reel.Data;
using Microsoft.AspNetCore.Builder;
using Reel.Server;
using Reel.Server.Security;

namespace Reel.Cli.Commands;

/// <summary>
/// <c>reel serve</c>: the HTTP API, and the pipeline engine of the data directory (or a node of the cluster), in one
/// process. The API's analyses are jobs of that engine.
/// </summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var dataDir = DataCommandSupport.DataDirOption();
        var urls = new Option<string[]>("--urls") { Description = "Where to listen (default http://127.0.0.1:8000); port 0 picks a free port", AllowMultipleArgumentsPerToken = true };
        var allowPrivate = new Option<bool>("--allow-private-urls") { Description = "Let videoURL reach loopback, private and link-local addresses (refused by default)" };
        var allowFile = new Option<bool>("--allow-file-urls") { Description = "Accept file:// video URLs (files of this machine)" };
        var objectModel = new Option<string?>("--object-model") { Description = "YOLO ONNX file that objects_detection runs (default: the bundled CenterNet, COCO-80)" };
        var emotionModel = new Option<string?>("--emotion-model") { Description = "Emotion classifier ONNX file that emotions_detection runs (default: the bundled 7-class model)" };
        var token = new Option<string?>("--token")
        {
            Description = "Key every changing request must carry as 'Authorization: Bearer KEY' (default: $REEL_SERVER_TOKEN, else one generated "
                + "at first start and kept in DATA_DIR/server-key, readable by this user only)",
        };
        var noAuth = new Option<bool>("--no-auth") { Description = "Serve without a key: only for servers bound to loopback addresses" };
        var tokenForReads = new Option<bool>("--token-for-reads") { Description = "Require the key for reading too" };
        var tokenForAnalysis = new Option<bool>("--token-for-analysis") { Description = "Require the key to start analyses too (open by default, as the seed's client expects)" };
        var allowedHost = new Option<string[]>("--allowed-host")
        {
            Description = "Host header value to answer besides localhost names, IP addresses and the names bound (repeatable; * for any)",
            AllowMultipleArgumentsPerToken = true,
        };
        var maxUpload = new Option<long>("--max-upload-mb") { Description = "Largest upload (file PUT, video upload), in MiB", DefaultValueFactory = _ => 2048 };
        var retainDays = new Option<int?>("--retain-days") { Description = "Remove analyses (rows, frames, downloads) older than this many days" };
        var cors = new Option<string[]>("--cors-origin") { Description = "Browser origins allowed to call /analysis (repeatable; default: any)", AllowMultipleArgumentsPerToken = true };
        var maxVideo = new Option<long>("--max-video-mb") { Description = "Largest video a URL may deliver, in MiB", DefaultValueFactory = _ => 2048 };
        var node = new NodeArguments();
        var command = new Command(
            "serve",
            "Serve the HTTP API: the analysis API of the seed video-analysis service (POST /analysis/start, GET /analysis/{id}, "
            + ".../results, .../frame/{n}, .../metrics, /analysis/videos); its OpenAPI document at /openapi/v1.json and a page "
            + "to try it at /docs. Runs the pipeline engine too, unless one already runs.\n\n"
            + "With --cluster FILE (or $REEL_CLUSTER) it serves the cluster's data instead and is a node of the cluster itself, "
            + "taking the options 'reel node join' takes; --data-dir is then this node's own directory (default: ~/.reel/node-CLUSTERID).\n\n"
            + "Examples:\n  reel serve --urls http://0.0.0.0:8000\n"
            + "  reel serve --cluster cluster.json --advertise 10.0.0.7 --slots 4 --urls http://0.0.0.0:8000")
        {
            dataDir, urls, allowPrivate, allowFile, objectModel, emotionModel, maxVideo, maxUpload, token, noAuth, tokenForReads, tokenForAnalysis, allowedHost, cors,
            retainDays,
        };
        node.AddTo(command);
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
            ClusterFile? cluster = null;
            NodeOptions? nodeOptions = null;
            string directory;
            if (ClusterSupport.Path(result) is not { } clusterPath)
            {
                if (node.FirstGiven(result) is { } name)
                {
                    await Console.Error.WriteLineAsync($"reel serve: {name} is for a cluster node: give --cluster FILE (or set ${ClusterFile.Variable})");
                    return ExitCodes.Usage;
                }
                directory = DataStore.ResolveDirectory(result.GetValue(dataDir));
            }
            else
            {
                try
                {
                    cluster = ClusterFile.Load(clusterPath);
                    directory = NodeArguments.Directory(result.GetValue(dataDir), cluster);
                    nodeOptions = node.Parse(result, directory);
                }
                catch (ClusterException e)
                {
                    await Console.Error.WriteLineAsync($"reel serve: {e.Message}");
                    return ExitCodes.Usage;
                }
            }
            var options = new ServerOptions
            {
                DataDirectory = directory,
                Urls = result.GetValue(urls) is { Length: > 0 } given ? given : ["http://127.0.0.1:8000"],
                AllowPrivateUrls = result.GetValue(allowPrivate),
                AllowFileUrls = result.GetValue(allowFile),
                ObjectModel = result.GetValue(objectModel) is { } objects ? Path.GetFullPath(objects) : null,
                EmotionModel = result.GetValue(emotionModel) is { } emotion ? Path.GetFullPath(emotion) : null,
                MaxVideoBytes = result.GetValue(maxVideo) * 1024 * 1024,
                Token = result.GetValue(token) ?? (Environment.GetEnvironmentVariable("REEL_SERVER_TOKEN") is { Length: > 0 } t ? t : null),
                NoAuth = result.GetValue(noAuth),
                OpenReads = !result.GetValue(tokenForReads),
                TokenForAnalysis = result.GetValue(tokenForAnalysis),
                AllowedHosts = result.GetValue(allowedHost) ?? [],
                MaxUploadBytes = result.GetValue(maxUpload) * 1024 * 1024,
                RetainDays = result.GetValue(retainDays),
                CorsOrigins = result.GetValue(cors) is { Length: > 0 } origins ? origins : ["*"],
            };
            if (options.NoAuth && options.Token is not null)
            {
                await Console.Error.WriteLineAsync("reel serve: --no-auth and a key (--token or $REEL_SERVER_TOKEN) contradict each other");
                return ExitCodes.Usage;
            }
            ServerData data;
            if (cluster is null)
            {
                data = new DirectoryServerData(directory);
            }
            else
            {
                try
                {
                    data = await ClusterServerData.OpenAsync(cluster, directory, cancellationToken);
                }
                catch (Exception e) when (e is ClusterException or Npgsql.NpgsqlException)
                {
                    await Console.Error.WriteLineAsync($"reel serve: {ClusterSetup.Describe(e)}");
                    return ExitCodes.InputFailed;
                }
            }
            await using var disposeData = data;
            WebApplication app;
            try
            {
                app = await ReelServer.BuildAsync(options, data, cancellationToken);
            }
            catch (ArgumentException e)
            {
                await Console.Error.WriteLineAsync($"reel serve: {e.Message}");
                return ExitCodes.Usage;
            }
            await using var disposeApp = app;
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
            await Console.Out.WriteLineAsync($"reel serve: listening on {string.Join(", ", addresses)} (data: {data.Description})");
            var access = app.Services.GetRequiredService<ServerAccess>();
            await Console.Out.WriteLineAsync(!access.KeyRequired
                ? "reel serve: --no-auth: anyone who can reach this address may change data and run pipeline commands"
                : access.KeyFile is { } keyFile
                    ? $"reel serve: {(access.KeyCreated ? "generated a key" : "the key is")} in {keyFile} (readable by this user only). Requests that change "
                      + $"anything need it: curl -H \"Authorization: Bearer $(cat {keyFile})\" ...; 'reel ... --server URL' run by this user "
                      + "with this data directory finds it; the dashboard signs in with it."
                    : "reel serve: requests that change anything need the key given with --token (Authorization: Bearer KEY).");
            // The analyses of the API are jobs of this engine; while it analyzes one, their rows stream into the API's answers.
            var watcher = app.Services.GetRequiredService<Reel.Server.Analysis.AnalysisWatcher>();
            var engine = cluster is null
                ? RunEngineAsync(directory, watcher, cancellationToken)
                : RunNodeAsync(cluster, nodeOptions! with { Watcher = watcher }, app, cancellationToken);
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
                return await engine;
            }
            catch (OperationCanceledException)
            {
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    /// <summary>
    /// The engine serves this data directory while the server runs. When another engine holds it (one a command
    /// started, which stops once idle), this one takes over as soon as the lock is free.
    /// </summary>
    private static Task<int> RunEngineAsync(string directory, Reel.Pipelines.Execution.IDatumWatcher watcher, CancellationToken cancellationToken) => Task.Run(async () =>
    {
        while (!await Engine.RunAsync(new EngineOptions { DataDirectory = directory, Slots = ReelServer.EngineSlots, Watcher = watcher }, cancellationToken))
        {
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        }
        return ExitCodes.Ok;
    }, CancellationToken.None);

    /// <summary>This server's node of the cluster; when it ends by itself (it could not start, or the cluster declared it dead) the server stops too.</summary>
    private static Task<int> RunNodeAsync(ClusterFile cluster, NodeOptions node, WebApplication app, CancellationToken cancellationToken) => Task.Run(async () =>
    {
        var code = await NodeArguments.RunAsync("serve", cluster, node, cancellationToken);
        app.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();
        return code;
    }, CancellationToken.None);
}
