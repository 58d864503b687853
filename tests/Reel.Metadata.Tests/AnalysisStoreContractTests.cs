using Reel.Server.Analysis;

namespace Reel.Metadata.Tests;

/// <summary>Analyses and their results, the same on SQLite and PostgreSQL.</summary>
public sealed class AnalysisStoreContractTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory]
    [MemberData(nameof(MetadataBackend.Kinds), MemberType = typeof(MetadataBackend))]
    public async Task Analyses_LifecycleResultsAndRemoval(string kind)
    {
        await using var backend = await MetadataBackend.CreateAsync(kind);
        await using var store = await AnalysisStore.OpenAsync(backend.Database, None);
        var id = Guid.NewGuid();
        var created = new DateTimeOffset(2026, 3, 4, 5, 6, 7, TimeSpan.Zero);
        await store.CreateAsync(new AnalysisRecord(id, "http://x/v.mp4", "v.mp4", ["faces", "colors"], 5, AnalysisStatus.Pending, null, -1, created), None);
        var other = Guid.NewGuid();
        await store.CreateAsync(new AnalysisRecord(other, "http://x/w.mp4", "w.mp4", ["faces"], 1, AnalysisStatus.Pending, null, -1, created.AddSeconds(1)), None);

        await store.SetStatusAsync(id, AnalysisStatus.Processing, null, None);
        await store.SetVideoUrlAsync(id, "file:///v.mp4", None);
        await store.SetProgressAsync(id, 40, None);
        await store.SetProgressAsync(id, 20, None);
        await store.SetCountsAsync(id, 100, 41, None);
        await store.SaveResultsAsync(id, [new AnalysisRow(0, "faces", 0, "[]", 1.5), new AnalysisRow(5, "faces", 0.2, "[1]", 2)], replace: false, None);
        await store.SaveResultsAsync(id, [new AnalysisRow(5, "faces", 0.2, "[2]", 3), new AnalysisRow(5, "colors", 0.2, "[3]", 4)], replace: false, None);

        var analysis = await store.GetAsync(id, None);
        Assert.NotNull(analysis);
        Assert.Equal((AnalysisStatus.Processing, "file:///v.mp4", 40, 100, 41), (analysis.Status, analysis.VideoUrl, analysis.GreatestFrame, analysis.FramesPlanned, analysis.FramesDone));
        Assert.Equal(["faces", "colors"], analysis.Models);
        Assert.Equal(created, analysis.Created);
        Assert.Equal([(0, "faces", "[]"), (5, "colors", "[3]"), (5, "faces", "[2]")],
            (await store.GetResultsAsync(id, null, None)).Select(r => (r.Frame, r.Model, r.Results)));
        Assert.Equal(["colors", "faces"], (await store.GetResultsAsync(id, 5, None)).Select(r => r.Model));
        Assert.Equal([id], (await store.ListAsync(AnalysisStatus.Processing, None)).Select(a => a.Id));
        Assert.Equal([id, other], (await store.ListAsync(null, None)).Select(a => a.Id));

        await store.SaveResultsAsync(id, [new AnalysisRow(9, "faces", 0.3, "[9]", 1)], replace: true, None);
        Assert.Equal([9], (await store.GetResultsAsync(id, null, None)).Select(r => r.Frame));
        await store.SetStatusAsync(id, AnalysisStatus.Failed, "boom", None);
        Assert.Equal("boom", (await store.GetAsync(id, None))!.Error);

        await store.RemoveAsync(id, None);
        await store.DeleteAsync(other, None);
        Assert.Null(await store.GetAsync(id, None));
        Assert.Empty(await store.GetResultsAsync(id, null, None));
        Assert.Empty(await store.ListAsync(null, None));
    }
}
