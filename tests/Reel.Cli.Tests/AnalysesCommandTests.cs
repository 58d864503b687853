using Reel.Server.Analysis;
using Reel.Testing;

namespace Reel.Cli.Tests;

/// <summary><c>reel analyses clear --days N</c>: old finished analyses go, rows and files; recent and running ones stay.</summary>
public sealed class AnalysesCommandTests : IDisposable
{
    private readonly string _work = TestMedia.TempDirectory();

    [Fact]
    public async Task Clear_RemovesOldFinishedAnalyses_AndFreesTheirFiles()
    {
        var data = Path.Combine(_work, "data");
        var old = Guid.NewGuid();
        var recent = Guid.NewGuid();
        var running = Guid.NewGuid();
        await using (var store = await AnalysisStore.OpenAsync(data, CancellationToken.None))
        {
            foreach (var (id, age, status) in new[] { (old, 40, AnalysisStatus.Completed), (recent, 2, AnalysisStatus.Failed), (running, 40, AnalysisStatus.Processing) })
            {
                await store.CreateAsync(new AnalysisRecord(id, "upload:a.mp4", "a.mp4", ["color_detection"], 1, status, null, -1, DateTimeOffset.UtcNow.AddDays(-age)), CancellationToken.None);
                await store.SaveResultsAsync(id, [new AnalysisRow(0, "color_detection", 0, "[]", 1)], replace: false, CancellationToken.None);
                Directory.CreateDirectory(AnalysisRetention.DirectoryOf(data, id));
                await File.WriteAllBytesAsync(Path.Combine(AnalysisRetention.DirectoryOf(data, id), "source.mp4"), new byte[1 << 20]);
            }
        }

        var clear = ReelProcess.Run("analyses", "clear", "--days", "30", "--data-dir", data);

        Assert.True(clear.ExitCode == 0, clear.StdErr);
        Assert.Equal("removed 1 analysis, 1 MiB freed", clear.StdOut.Trim());
        Assert.False(Directory.Exists(AnalysisRetention.DirectoryOf(data, old)));
        Assert.True(Directory.Exists(AnalysisRetention.DirectoryOf(data, recent)));
        Assert.True(Directory.Exists(AnalysisRetention.DirectoryOf(data, running)));
        await using (var store = await AnalysisStore.OpenAsync(data, CancellationToken.None))
        {
            Assert.Null(await store.GetAsync(old, CancellationToken.None));
            Assert.Empty(await store.GetResultsAsync(old, null, CancellationToken.None));
            Assert.NotNull(await store.GetAsync(recent, CancellationToken.None));
            Assert.NotNull(await store.GetAsync(running, CancellationToken.None));
        }
        Assert.Equal(2, ReelProcess.Run("analyses", "clear", "--days", "-1", "--data-dir", data).ExitCode);
    }

    public void Dispose() => Directory.Delete(_work, recursive: true);
}
