using System.CommandLine;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace Reel.Cli.Commands;

/// <summary>
/// <c>--server URL</c> (or <c>$REEL_SERVER</c>): the data and pipeline verbs that support it talk to a running
/// <c>reel serve</c> over its REST API instead of opening a data directory; <c>$REEL_SERVER_TOKEN</c> is sent as
/// the bearer token. Server errors come back as the same one-line reasons and exit codes.
/// </summary>
internal sealed class Remote : IDisposable
{
    public static readonly Option<string?> ServerOption = new("--server")
    {
        Description = "Talk to a running 'reel serve' at this URL (default: $REEL_SERVER; none: the local data directory)",
        Recursive = true,
    };

    private readonly HttpClient _http;

    private Remote(Uri server, string? key)
    {
        _http = new HttpClient { BaseAddress = server, Timeout = Timeout.InfiniteTimeSpan };
        if (key is not null)
        {
            _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }
    }

    /// <summary>
    /// The server the command line names, if any, with its key: <c>$REEL_SERVER_TOKEN</c>, else the key a server
    /// generated in this user's data directory (the one <c>--data-dir</c> or <c>$REEL_DATA_DIR</c> names).
    /// </summary>
    public static Remote? For(ParseResult result)
    {
        if ((result.GetValue(ServerOption) ?? Environment.GetEnvironmentVariable("REEL_SERVER")) is not { Length: > 0 } url)
        {
            return null;
        }
        var key = Environment.GetEnvironmentVariable("REEL_SERVER_TOKEN") is { Length: > 0 } token
            ? token
            : Reel.Server.Security.ServerKey.TryRead(Reel.Data.DataStore.ResolveDirectory(DataDirectoryOf(result)));
        return new Remote(new Uri(url.TrimEnd('/') + "/"), key);
    }

    private static string? DataDirectoryOf(ParseResult result)
    {
        for (var command = result.CommandResult; command is not null; command = command.Parent as System.CommandLine.Parsing.CommandResult)
        {
            if (command.Command.Options.FirstOrDefault(o => o.Name == "--data-dir") is Option<string?> option)
            {
                return result.GetValue(option);
            }
        }
        return null;
    }

    /// <summary>Runs a remote verb, turning server and connection errors into one stderr line and an exit code.</summary>
    public async Task<int> RunAsync(string verb, Func<Remote, Task<int>> run)
    {
        try
        {
            return await run(this);
        }
        catch (RemoteException e)
        {
            await Console.Error.WriteLineAsync($"reel {verb}: {e.Message}");
            return e.Status == HttpStatusCode.BadRequest ? ExitCodes.Usage : ExitCodes.InputFailed;
        }
        catch (HttpRequestException e)
        {
            await Console.Error.WriteLineAsync($"reel {verb}: cannot reach {_http.BaseAddress}: {e.Message}");
            return ExitCodes.InputFailed;
        }
        finally
        {
            Dispose();
        }
    }

    public async Task<JsonElement> GetJsonAsync(string path) => await ReadAsync(await _http.GetAsync(Relative(path)));

    /// <summary>A GET whose JSON is the same records the local data directory gives.</summary>
    public async Task<T> GetAsync<T>(string path) => (await GetJsonAsync(path)).Deserialize<T>(Web)!;

    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web) { Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() } };

    public async Task<JsonElement> PostJsonAsync(string path, object body) => await ReadAsync(await _http.PostAsJsonAsync(Relative(path), body));

    public async Task<JsonElement> PostTextAsync(string path, string text) =>
        await ReadAsync(await _http.PostAsync(Relative(path), new StringContent(text, Encoding.UTF8, "application/x-yaml")));

    public async Task<JsonElement> PutFileAsync(string path, string file)
    {
        await using var content = File.OpenRead(file);
        var body = new StreamContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return await ReadAsync(await _http.PutAsync(Relative(path), body));
    }

    /// <summary>Streams a file from the server into <paramref name="target"/>.</summary>
    public async Task DownloadAsync(string path, Stream target)
    {
        using var response = await _http.GetAsync(Relative(path), HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode)
        {
            await ReadAsync(response);
        }
        if (response.Content.Headers.ContentType?.MediaType == "application/json")
        {
            throw new RemoteException(HttpStatusCode.BadRequest, $"{path} is a directory");
        }
        await using var body = await response.Content.ReadAsStreamAsync();
        await body.CopyToAsync(target);
    }

    /// <summary>The REST path of a file: repo, branch and path segments escaped.</summary>
    public static string FilePath(string repo, string branch, string path) =>
        $"api/v1/repos/{Uri.EscapeDataString(repo)}/branches/{Uri.EscapeDataString(branch)}/files"
        + string.Concat(path.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(s => "/" + Uri.EscapeDataString(s)));

    public void Dispose() => _http.Dispose();

    private static string Relative(string path) => path.TrimStart('/');

    private static async Task<JsonElement> ReadAsync(HttpResponseMessage response)
    {
        using (response)
        {
            var text = await response.Content.ReadAsStringAsync();
            JsonElement body = default;
            if (text.Length > 0)
            {
                try
                {
                    body = JsonSerializer.Deserialize<JsonElement>(text);
                }
                catch (JsonException)
                {
                    // Not JSON: the status says what happened.
                }
            }
            if (!response.IsSuccessStatusCode)
            {
                var reason = body.ValueKind == JsonValueKind.Object && body.TryGetProperty("error", out var error)
                    ? error.GetString()
                    : $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}";
                throw new RemoteException(response.StatusCode, reason ?? "");
            }
            return body;
        }
    }

    /// <summary>A request this command cannot make over the server (a usage error).</summary>
    public static Exception Unsupported(string message) => new RemoteException(HttpStatusCode.BadRequest, message);

    private sealed class RemoteException(HttpStatusCode status, string message) : Exception(message)
    {
        public HttpStatusCode Status { get; } = status;
    }
}
