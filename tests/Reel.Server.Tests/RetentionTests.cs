using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Reel.Server.Analysis;

namespace Reel.Server.Tests;

/// <summary>Removing analyses: DELETE with the key, and --retain-days; rows, results and files all go.</summary>
public sealed class RetentionTests
{
    [Fact]
    public async Task DeleteAnalysis_NeedsTheKey_ThenRemovesRowsResultsVideoAndFrames()
    {
        await using var server = await TestServer.StartAsync(o => o with { AllowPrivateUrls = true });
        using var start = await server.StartAnalysisAsync($$"""{"videoURL": "{{server.FilesUrl}}/videos/small.ogv", "modelsToRun": ["color_detection"], "frameStep": 30}""");
        var status = await server.WaitAsync((await start.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status_url").GetString()!);
        var id = status.GetProperty("video_id").GetString()!;
        var directory = Path.Combine(server.DataDirectory, "analyses", id);
        Assert.NotEmpty(Directory.EnumerateFiles(directory, "source.*"));
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync($"/analysis/{id}/frame/30")).StatusCode);

        Assert.Equal(HttpStatusCode.Unauthorized, (await server.Anonymous.DeleteAsync($"/analysis/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync($"/analysis/{id}/results")).StatusCode);
        Assert.True(Directory.Exists(directory));

        Assert.Equal(HttpStatusCode.NoContent, (await server.Client.DeleteAsync($"/analysis/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync($"/analysis/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync($"/analysis/{id}/results")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync($"/analysis/{id}/frame/30")).StatusCode);
        Assert.False(Directory.Exists(directory));
        var store = (AnalysisStore)server.Services.GetService(typeof(AnalysisStore))!;
        Assert.Empty(await store.GetResultsAsync(Guid.Parse(id), null, CancellationToken.None));
        Assert.Equal(HttpStatusCode.NotFound, (await server.Client.DeleteAsync($"/analysis/{id}")).StatusCode);
    }

    [Fact]
    public async Task RetainDays_RemovesFinishedAnalysesOlderThanThat_AtStart()
    {
        var old = Guid.NewGuid();
        var recent = Guid.NewGuid();
        var failedLongAgo = Guid.NewGuid();
        await using var server = await TestServer.StartAsync(o => o with { RetainDays = 7 }, async data =>
        {
            await using var store = await AnalysisStore.OpenAsync(data, CancellationToken.None);
            foreach (var (id, age, status) in new[] { (old, 30, AnalysisStatus.Completed), (recent, 1, AnalysisStatus.Completed), (failedLongAgo, 30, AnalysisStatus.Failed) })
            {
                await store.CreateAsync(new AnalysisRecord(id, "upload:a.mp4", "a.mp4", ["color_detection"], 1, status, null, -1, DateTimeOffset.UtcNow.AddDays(-age)), CancellationToken.None);
                await store.SaveResultsAsync(id, [new AnalysisRow(0, "color_detection", 0, "[]", 1)], replace: false, CancellationToken.None);
                Directory.CreateDirectory(Path.Combine(data, "analyses", id.ToString()));
                await File.WriteAllBytesAsync(Path.Combine(data, "analyses", id.ToString(), "source.mp4"), new byte[4096]);
            }
        });

        // The first sweep runs as the server starts; wait for it (bounded).
        for (var i = 0; i < 100 && (await server.Client.GetAsync($"/analysis/{old}")).StatusCode != HttpStatusCode.NotFound; i++)
        {
            await Task.Delay(100);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync($"/analysis/{old}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync($"/analysis/{failedLongAgo}")).StatusCode);
        Assert.False(Directory.Exists(Path.Combine(server.DataDirectory, "analyses", old.ToString())));
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync($"/analysis/{recent}/results")).StatusCode);
        Assert.True(File.Exists(Path.Combine(server.DataDirectory, "analyses", recent.ToString(), "source.mp4")));
    }
}
