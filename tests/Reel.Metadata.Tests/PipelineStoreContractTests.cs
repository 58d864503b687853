using Reel.Data;
using Reel.Pipelines.Jobs;
using Reel.Pipelines.Specs;
using static Reel.Metadata.Tests.DataStoreContractTests;

namespace Reel.Metadata.Tests;

/// <summary>Pipelines, jobs, datums and workers, the same on SQLite and PostgreSQL.</summary>
public sealed class PipelineStoreContractTests
{
    private static readonly CancellationToken None = CancellationToken.None;

    private const string SpecText = """
        {"pipeline": {"name": "edges"}, "input": {"pfs": {"repo": "videos", "glob": "/*"}}, "transform": {"cmd": ["true"]}}
        """;

    [Theory]
    [MemberData(nameof(MetadataBackend.Kinds), MemberType = typeof(MetadataBackend))]
    public async Task Pipelines_CreateUpdateListDelete(string kind)
    {
        await using var backend = await MetadataBackend.CreateAsync(kind);
        await using var data = await backend.OpenDataAsync();
        var store = await PipelineStore.OpenAsync(data, None);
        await data.CreateRepoAsync("videos", None);
        var spec = SpecReader.Parse(SpecText, "edges.json", "/specs");

        var created = await store.CreatePipelineAsync(spec, SpecText, "edges.json", "/specs", None);
        Assert.Equal(1, created.Version);
        Assert.Equal(DataErrorKind.Conflict,
            (await Assert.ThrowsAsync<DataException>(() => store.CreatePipelineAsync(spec, SpecText, "edges.json", "/specs", None))).Kind);
        var updated = await store.UpdatePipelineAsync(spec, SpecText, "edges.json", "/other", None);
        Assert.Equal(2, updated.Version);
        Assert.Equal("/other", updated.Directory);
        Assert.Equal(["edges"], (await store.ListPipelinesAsync(None)).Select(p => p.Name));
        Assert.Contains("edges", (await data.ListReposAsync(None)).Select(r => r.Name));

        await store.DeletePipelineAsync("edges", None);
        Assert.Empty(await store.ListPipelinesAsync(None));
        Assert.Null(await store.FindPipelineAsync("edges", None));
        Assert.DoesNotContain("edges", (await data.ListReposAsync(None)).Select(r => r.Name));
    }

    [Theory]
    [MemberData(nameof(MetadataBackend.Kinds), MemberType = typeof(MetadataBackend))]
    public async Task Jobs_DuePlannedRecordedFinished_CommitOutputsWithProvenance_AndCarryOverUnchangedDatums(string kind)
    {
        await using var backend = await MetadataBackend.CreateAsync(kind);
        await using var data = await backend.OpenDataAsync();
        var store = await PipelineStore.OpenAsync(data, None);
        await data.CreateRepoAsync("videos", None);
        var input = await CommitAsync(data, "videos", "master", ("/a.mp4", "a"), ("/b.mp4", "b"));
        await store.CreatePipelineAsync(SpecReader.Parse(SpecText, "edges.json", "/specs"), SpecText, "edges.json", "/specs", None);

        var job = Assert.Single(await store.CreateDueJobsAsync(None));
        Assert.Empty(await store.CreateDueJobsAsync(None));
        Assert.Equal(JobState.Starting, job.State);
        Assert.Equal(input.Id, job.Inputs["videos"]);
        await store.PlanJobAsync(job, None);
        var runnable = await store.ListRunnableDatumsAsync(job.Id, None);
        Assert.Equal(2, runnable.Count);
        Assert.Equal(JobState.Running, (await store.GetJobAsync(job.Id[..6], None)).State);

        var outputs = await Task.WhenAll(runnable.Select(d => data.Objects.PutAsync(Text("out of " + d.Id), None)));
        await store.RecordAsync(job.Id, [.. runnable.Select((d, i) => new DatumOutcome(
            d.Id, true, 1, [new FileEntry($"/{i}.txt", outputs[i].Hash, outputs[i].Size)], DateTimeOffset.UtcNow, 0.5, null))], None);
        var counted = await store.GetJobAsync(job.Id, None);
        Assert.Equal(new DatumCounts(2, 0, 0, 2, 0, 0), counted.Counts);
        Assert.Equal([DatumState.Success, DatumState.Success], (await store.ListDatumsAsync(job.Id, None)).Select(d => d.State));

        var finished = await store.FinishJobAsync(job.Id, JobState.Success, null, None);
        Assert.Equal(JobState.Success, finished.State);
        var output = await data.GetCommitAsync(finished.OutputCommit!, None);
        Assert.Equal(["/0.txt", "/1.txt"], (await data.ListFilesAsync(output.Id, "/", None)).Select(f => f.Path));
        Assert.Equal([input.Id], await data.GetProvenanceAsync(output.Id, None));

        // A new input commit touching one file: one datum runs, the other is carried over.
        await CommitAsync(data, "videos", "master", ("/b.mp4", "b changed"));
        var next = Assert.Single(await store.CreateDueJobsAsync(None));
        await store.PlanJobAsync(next, None);
        var rerun = Assert.Single(await store.ListRunnableDatumsAsync(next.Id, None));
        Assert.Equal(1, (await store.GetJobAsync(next.Id, None)).Counts.Skipped);
        var o = await data.Objects.PutAsync(Text("new"), None);
        await store.RecordAsync(next.Id, [new DatumOutcome(rerun.Id, true, 1, [new FileEntry("/b.txt", o.Hash, o.Size)], DateTimeOffset.UtcNow, 0.1, null)], None);
        var second = await store.FinishJobAsync(next.Id, JobState.Success, null, None);
        Assert.Equal(2, (await data.ListFilesAsync(second.OutputCommit!, "/", None)).Count);
        Assert.Equal([second.Id, job.Id], (await store.ListJobsAsync("edges", None)).Select(j => j.Id));
        Assert.Empty(await store.ListUnfinishedJobsAsync(None));
    }

    [Theory]
    [MemberData(nameof(MetadataBackend.Kinds), MemberType = typeof(MetadataBackend))]
    public async Task SplitDatum_PiecesRecordedWithResults_ListedForANewCoordinator_StaleEpochRefused_GoneWhenTheJobEnds(string kind)
    {
        await using var backend = await MetadataBackend.CreateAsync(kind);
        await using var data = await backend.OpenDataAsync();
        var store = await PipelineStore.OpenAsync(data, None);
        await data.CreateRepoAsync("videos", None);
        await CommitAsync(data, "videos", "master", ("/a.mp4", "a"));
        await store.CreatePipelineAsync(SpecReader.Parse(SpecText, "edges.json", "/specs"), SpecText, "edges.json", "/specs", None);
        var job = Assert.Single(await store.CreateDueJobsAsync(None));
        await store.PlanJobAsync(job, None);
        var datum = Assert.Single(await store.ListRunnableDatumsAsync(job.Id, None));
        var epoch = await store.ClaimJobAsync(job.Id, None);
        var started = new DateTimeOffset(2026, 11, 30, 8, 0, 0, TimeSpan.Zero);
        var frames = await data.Objects.PutAsync(Text("frames 0-9"), None);
        var partial = await data.Objects.PutAsync(Text("descriptions"), None);

        await store.SplitDatumAsync(job.Id, datum.Id, [new(0, 10), new(10, 25), new(25, 40)], started, epoch, None);
        await store.RecordPieceAsync(job.Id, datum.Id, 1, [new FileEntry("/a.mp4/10.jpg", frames.Hash, frames.Size)],
            [new FileEntry("/piece.json", partial.Hash, partial.Size)], epoch, None);
        // A newer coordinator claims the job: the older one's writes are refused.
        var newer = await store.ClaimJobAsync(job.Id, None);
        await Assert.ThrowsAsync<StaleJobException>(() => store.RecordPieceAsync(job.Id, datum.Id, 0, [], [], epoch, None));

        var split = Assert.Single(await store.ListSplitsAsync(job.Id, None));
        Assert.Equal(datum.Id, split.DatumId);
        Assert.Equal(started, split.Started);
        Assert.Equal([new(0, 10), new(10, 25), new(25, 40)], split.Pieces.Select(p => p.Frames));
        Assert.Equal([false, true, false], split.Pieces.Select(p => p.Done is not null));
        Assert.Equal([new FileEntry("/a.mp4/10.jpg", frames.Hash, frames.Size)], split.Pieces[1].Done!.Outputs);
        Assert.Equal([new FileEntry("/piece.json", partial.Hash, partial.Size)], split.Pieces[1].Done!.Partial);

        // Split again (a plan that lapsed and ran anew): the new pieces replace the old, none done.
        await store.SplitDatumAsync(job.Id, datum.Id, [new(0, 20), new(20, 40)], started, newer, None);
        Assert.Equal([false, false], Assert.Single(await store.ListSplitsAsync(job.Id, None)).Pieces.Select(p => p.Done is not null));

        await store.RecordAsync(job.Id, [new DatumOutcome(datum.Id, true, 1, [new FileEntry("/a.mp4/10.jpg", frames.Hash, frames.Size)], started, 1, null)],
            newer, None);
        await store.FinishJobAsync(job.Id, JobState.Success, null, newer, None);
        Assert.Empty(await store.ListSplitsAsync(job.Id, None));
    }

    [Theory]
    [MemberData(nameof(MetadataBackend.Kinds), MemberType = typeof(MetadataBackend))]
    public async Task Jobs_StopRequestAndKill_CommitNothing(string kind)
    {
        await using var backend = await MetadataBackend.CreateAsync(kind);
        await using var data = await backend.OpenDataAsync();
        var store = await PipelineStore.OpenAsync(data, None);
        await data.CreateRepoAsync("videos", None);
        await CommitAsync(data, "videos", "master", ("/a.mp4", "a"));
        var pipeline = await store.CreatePipelineAsync(SpecReader.Parse(SpecText, "edges.json", "/specs"), SpecText, "edges.json", "/specs", None);
        var job = await store.CreateJobAsync(pipeline, new Dictionary<string, string> { ["videos"] = (await data.GetHeadAsync("videos", "master", None)).Id },
            "all", None);

        await store.RequestStopAsync(job.Id, None);
        Assert.Equal(PipelineStore.StopRequested, await store.GetJobErrorAsync(job.Id, None));
        var killed = await store.FinishJobAsync(job.Id, JobState.Killed, PipelineStore.StopRequested, None);

        Assert.Equal(JobState.Killed, killed.State);
        Assert.Null(killed.OutputCommit);
        Assert.Equal(DataErrorKind.Conflict, (await Assert.ThrowsAsync<DataException>(() => store.RequestStopAsync(job.Id, None))).Kind);
        Assert.Equal(DataErrorKind.NotFound, (await Assert.ThrowsAsync<DataException>(() => store.GetJobAsync("ffffffff", None))).Kind);
    }

    [Theory]
    [MemberData(nameof(MetadataBackend.Kinds), MemberType = typeof(MetadataBackend))]
    public async Task DueJobs_FromTwoProcessesAtOnce_CreatedOnce(string kind)
    {
        await using var backend = await MetadataBackend.CreateAsync(kind);
        await using var data = await backend.OpenDataAsync();
        var store = await PipelineStore.OpenAsync(data, None);
        await data.CreateRepoAsync("videos", None);
        await CommitAsync(data, "videos", "master", ("/a.mp4", "a"));
        await store.CreatePipelineAsync(SpecReader.Parse(SpecText, "edges.json", "/specs"), SpecText, "edges.json", "/specs", None);
        var others = Enumerable.Range(0, 4).Select(_ => backend.OpenAnother()).ToList();
        try
        {
            var stores = await Task.WhenAll(others.Select(async d => await PipelineStore.OpenAsync(await backend.OpenDataAsync(d), None)));

            var created = await Task.WhenAll(stores.Select(s => Task.Run(() => s.CreateDueJobsAsync(None))));

            Assert.Single(created.SelectMany(c => c));
            Assert.Single(await store.ListJobsAsync("edges", None));
            foreach (var s in stores)
            {
                await s.Data.DisposeAsync();
            }
        }
        finally
        {
            foreach (var other in others)
            {
                await other.DisposeAsync();
            }
        }
    }

    [Theory]
    [MemberData(nameof(MetadataBackend.Kinds), MemberType = typeof(MetadataBackend))]
    public async Task Workers_ReportReplacesRow_AndListShowsRecentOnes(string kind)
    {
        await using var backend = await MetadataBackend.CreateAsync(kind);
        await using var data = await backend.OpenDataAsync();
        var store = await PipelineStore.OpenAsync(data, None);
        var now = DateTimeOffset.UtcNow;

        await store.ReportWorkerAsync(new WorkerInfo("10.0.0.1:1", "datums", "a", "10.0.0.1", 2, 1, 5, 0, 5, 1.5, now, now)
        {
            WorkingOn = ["frames /a.mp4 piece 1 of 2 (frames 0-599)"],
        }, None);
        await store.ReportWorkerAsync(new WorkerInfo("10.0.0.1:1", "datums", "a", "10.0.0.1", 2, 2, 6_000_000_000, 1, 7, 2.5, now, now)
        {
            WorkingOn = ["frames /a.mp4 piece 2 of 2 (frames 600-1198)", "sums /b.txt"],
        }, None);
        await store.ReportWorkerAsync(new WorkerInfo("10.0.0.2:1", "datums", "b", "10.0.0.2", 4, 0, 0, 0, 0, 0, now, now.AddHours(-2)), None);

        var worker = Assert.Single(await store.ListWorkersAsync(TimeSpan.FromHours(1), None));
        Assert.Equal(6_000_000_000, worker.Done);
        Assert.Equal(2.5, worker.BusySeconds);
        Assert.Equal(["frames /a.mp4 piece 2 of 2 (frames 600-1198)", "sums /b.txt"], worker.WorkingOn);
        var both = await store.ListWorkersAsync(TimeSpan.FromHours(3), None);
        Assert.Equal(2, both.Count);
        Assert.Empty(both[1].WorkingOn);
    }
}
