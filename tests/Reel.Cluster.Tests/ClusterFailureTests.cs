namespace Reel.Cluster.Tests;

/// <summary>
/// A 120-datum pipeline on nodes that are separate processes in their own network namespaces, with PostgreSQL and S3
/// on the bridge: what happens to the job when a node is killed, stopped or added mid-job.
/// </summary>
[Collection(nameof(ClusterFailureTests))]
public sealed class ClusterFailureTests
{
    private static readonly TimeSpan JobLimit = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task KillNine_WorkerNodeAtAThird_JobSucceedsEachDatumRecordedOnceOutputAsOneNodeRun()
    {
        await using var lab = await ClusterLab.StartAsync();
        var nodes = Enumerable.Range(0, 3).Select(_ => lab.AddNode(slots: 2)).ToList();
        await lab.WaitForNodesAsync(3);
        var job = await lab.StartJobAsync();
        await Eventually.WaitAsync(() => lab.SucceededAsync(job), n => n >= ClusterLab.Datums / 3, JobLimit, "a third of the datums done");
        // A worker only: not the node holding the job's grain or the scheduler (their loss is the next class's case).
        var victim = nodes.First(n => !n.Log().Contains("datums to run of", StringComparison.Ordinal)
            && !n.Log().Contains("scheduler active", StringComparison.Ordinal));
        victim.Kill9();

        var final = await lab.WaitForJobAsync(job, JobLimit);
        Assert.True(final.GetProperty("state").GetString() == "Success", $"job {final}\n{lab.Logs()}");
        var counts = final.GetProperty("datums");
        Assert.Equal(ClusterLab.Datums, counts.GetProperty("total").GetInt32());
        Assert.Equal(ClusterLab.Datums, counts.GetProperty("success").GetInt32());
        Assert.Equal(ClusterLab.ExpectedOutput(), await lab.OutputAsync());
        Assert.Equal(1, await lab.OutputCommitsAsync());
        var runs = lab.Runs();
        Assert.Equal(ClusterLab.Datums, runs.Count);
        // Only what the killed node was running when it died ran twice: at most its slots.
        var twice = runs.Where(r => r.Value > 1).Select(r => r.Key).Order(StringComparer.Ordinal).ToList();
        Assert.True(twice.Count <= 2, $"{twice.Count} datums ran twice ({string.Join(", ", twice)}); the killed node was {victim.Address}\n{lab.Logs()}");
        Assert.All(runs.Values, n => Assert.InRange(n, 1, 2));

        // Each datum's log reached the object store before the datum was reported: one the killed node ran prints, from
        // a machine that ran none, what its command printed.
        var victimLogs = Path.Combine(lab.NodeDirectory(victim), "logs", job);
        var datumId = Path.GetFileNameWithoutExtension(Directory.EnumerateFiles(victimLogs, "*.log").Order(StringComparer.Ordinal).First());
        var datums = System.Text.Json.JsonDocument.Parse(await lab.OkAsync("datum", "list", job, "--json")).RootElement;
        var input = datums.EnumerateArray().Single(d => d.GetProperty("id").GetString() == datumId).GetProperty("files")[0].GetString()!;
        Assert.Equal($"{datumId[..12]} summed {input.Split('/')[^1]}\n", await lab.LogsFromFreshDirectoryAsync("--datum", datumId));
    }

    [Fact]
    public async Task Sigterm_Node_GivesItsDatumsBackAndJobSucceedsWithoutLeaseLapses()
    {
        await using var lab = await ClusterLab.StartAsync();
        var nodes = Enumerable.Range(0, 3).Select(_ => lab.AddNode(slots: 2)).ToList();
        await lab.WaitForNodesAsync(3);
        var job = await lab.StartJobAsync();
        await Eventually.WaitAsync(() => lab.SucceededAsync(job), n => n >= ClusterLab.Datums / 3, JobLimit, "a third of the datums done");
        var stopped = nodes[1];
        stopped.Terminate();
        Assert.True(await stopped.WaitForExitAsync(TimeSpan.FromSeconds(60)), "the node did not stop on SIGTERM:\n" + stopped.Log());
        Assert.Equal(0, stopped.ExitCode);

        var final = await lab.WaitForJobAsync(job, JobLimit);
        Assert.True(final.GetProperty("state").GetString() == "Success", $"job {final}\n{lab.Logs()}");
        Assert.Equal(ClusterLab.ExpectedOutput(), await lab.OutputAsync());
        // Given back, not left to lapse: no lease held by the stopped node lapsed. (A busy 2-core machine can delay another
        // node's renewals past the test's 6 s lease; those lapses are not what SIGTERM is about.)
        Assert.DoesNotContain(lab.Nodes, n => n.Log().Contains($"lapsed on {stopped.Address}:", StringComparison.Ordinal));
    }

    [Fact]
    public async Task NodeJoin_MidJob_NewNodeTakesWork()
    {
        await using var lab = await ClusterLab.StartAsync();
        lab.AddNode(1, "--metrics-port", "9464");
        lab.AddNode(1, "--metrics-port", "9464");
        await lab.WaitForNodesAsync(2);
        var job = await lab.StartJobAsync();
        await Eventually.WaitAsync(() => lab.SucceededAsync(job), n => n >= 10, JobLimit, "ten datums done");
        var late = lab.AddNode(2, "--metrics-port", "9464");
        await lab.WaitForNodesAsync(3);
        // Mid-job, datums wait for a worker: the node coordinating the job counts them; the cluster's depth is the sum.
        using var http = new HttpClient();
        var depth = await Eventually.WaitAsync(() => QueueDepthAsync(http, lab), d => d > 0, TimeSpan.FromSeconds(30), "datums queued");
        Assert.InRange(depth, 1, ClusterLab.Datums - 10);

        var final = await lab.WaitForJobAsync(job, JobLimit);
        Assert.True(final.GetProperty("state").GetString() == "Success", $"job {final}\n{lab.Logs()}");
        var nodes = System.Text.Json.JsonDocument.Parse(await lab.OkAsync("node", "list", "--json")).RootElement;
        var joined = nodes.EnumerateArray().Single(n => n.GetProperty("address").GetString() == late.Address + ":11111");
        Assert.True(joined.GetProperty("done").GetInt64() > 0, $"the node that joined mid-job ran nothing: {nodes}");

        // Prometheus scrapes the node at its address: Reel's datum counter, with Orleans' meters alongside.
        var metrics = await http.GetStringAsync($"http://{late.Address}:9464/metrics");
        // node list's counts are reported every few seconds, so the meter is at least as far along.
        Assert.InRange(Metric(metrics, "reel_datums_done_total"), joined.GetProperty("done").GetInt64(), ClusterLab.Datums);
        // The datums run a command, whose frames are not known: the frames counter is there, at 0.
        Assert.Equal(0, Metric(metrics, "reel_frames_total"));
        Assert.Contains("\norleans_", metrics, StringComparison.Ordinal);
        // The job is over: nothing waits anywhere.
        Assert.Equal(0, await QueueDepthAsync(http, lab));
    }

    /// <summary>The cluster's queue depth: <c>sum(reel_queue_depth)</c> over every node, each of which reports the series.</summary>
    private static async Task<long> QueueDepthAsync(HttpClient http, ClusterLab lab)
    {
        long sum = 0;
        foreach (var node in lab.Nodes)
        {
            // A node that just joined may not have exported the gauge yet: it coordinates nothing, so it counts 0.
            sum += MetricOrNull(await http.GetStringAsync($"http://{node.Address}:9464/metrics"), "reel_queue_depth") ?? 0;
        }
        return sum;
    }

    /// <summary>The value of a series without labels (or with the exporter's scope labels) in Prometheus' text format.</summary>
    private static long Metric(string scrape, string name) =>
        MetricOrNull(scrape, name) ?? throw new Xunit.Sdk.XunitException($"no {name} in the scrape:\n{scrape}");

    private static long? MetricOrNull(string scrape, string name) =>
        scrape.Split('\n').SingleOrDefault(l => l.StartsWith(name + " ", StringComparison.Ordinal) || l.StartsWith(name + "{", StringComparison.Ordinal)) is { } line
            ? (long)double.Parse(line.Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture)
            : null;
}

/// <summary>Losing the node that holds the job's grain or the scheduler, PostgreSQL going away, and a partition.</summary>
[Collection(nameof(ClusterFailureTests))]
public sealed class ClusterCoordinatorFailureTests
{
    private static readonly TimeSpan JobLimit = TimeSpan.FromMinutes(4);

    [Theory]
    [InlineData("datums to run of", "grain left this node")]
    [InlineData("scheduler active on this node", "scheduler left this node")]
    public async Task KillNine_NodeHoldingCoordinator_JobCompletesWithOneOutputCommit(string activatedLine, string deactivatedLine)
    {
        await using var lab = await ClusterLab.StartAsync();
        Enumerable.Range(0, 3).Select(_ => lab.AddNode(slots: 2)).ToList();
        await lab.WaitForNodesAsync(3);
        var job = await lab.StartJobAsync();
        await Eventually.WaitAsync(() => lab.SucceededAsync(job), n => n >= ClusterLab.Datums / 3, JobLimit, "a third of the datums done");
        var holder = Holder(lab.Nodes, activatedLine, deactivatedLine);
        holder.Kill9();

        var final = await lab.WaitForJobAsync(job, JobLimit);
        Assert.True(final.GetProperty("state").GetString() == "Success", $"job {final}\n{lab.Logs()}");
        Assert.Equal(ClusterLab.Datums, final.GetProperty("datums").GetProperty("success").GetInt32());
        Assert.Equal(ClusterLab.ExpectedOutput(), await lab.OutputAsync());
        Assert.Equal(1, await lab.OutputCommitsAsync());
    }

    /// <summary>
    /// The node the coordinator lives on now: a membership change while nodes join can move it, so a node whose log
    /// says it activated may since have given it up; of those still holding it, the one that activated last.
    /// </summary>
    private static NodeProcess Holder(IReadOnlyList<NodeProcess> nodes, string activatedLine, string deactivatedLine)
    {
        var holding = nodes
            .Select(n => (Node: n, Lines: n.Log().Split('\n')))
            .Select(n => (n.Node, Activated: Array.FindLastIndex(n.Lines, l => l.Contains(activatedLine, StringComparison.Ordinal)),
                Deactivated: Array.FindLastIndex(n.Lines, l => l.Contains(deactivatedLine, StringComparison.Ordinal)), n.Lines))
            .Where(n => n.Activated >= 0 && n.Activated > n.Deactivated)
            .OrderByDescending(n => n.Lines[n.Activated][..Math.Min(19, n.Lines[n.Activated].Length)], StringComparer.Ordinal)
            .ToList();
        Assert.True(holding.Count > 0, $"no node holds '{activatedLine}':\n" + string.Join("\n", nodes.Select(n => n.Log())));
        return holding[0].Node;
    }

    [Fact]
    public async Task PostgresStopped20Seconds_MidJob_JobResumesAndCommitsOnce()
    {
        await using var lab = await ClusterLab.StartAsync();
        Enumerable.Range(0, 3).Select(_ => lab.AddNode(slots: 2)).ToList();
        await lab.WaitForNodesAsync(3);
        var job = await lab.StartJobAsync();
        await Eventually.WaitAsync(() => lab.SucceededAsync(job), n => n >= ClusterLab.Datums / 3, JobLimit, "a third of the datums done");
        await lab.Postgres.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(20));
        await lab.Postgres.RestartAsync();

        var final = await lab.WaitForJobAsync(job, JobLimit);
        Assert.True(final.GetProperty("state").GetString() == "Success", $"job {final}\n{lab.Logs()}");
        Assert.Equal(ClusterLab.Datums, final.GetProperty("datums").GetProperty("success").GetInt32());
        Assert.Equal(ClusterLab.ExpectedOutput(), await lab.OutputAsync());
        Assert.Equal(1, await lab.OutputCommitsAsync());
        Assert.All(lab.Nodes, n => Assert.False(n.HasExited, "a node died with the database away:\n" + n.Log()));
    }

    [Fact]
    public async Task Partition_OneNodeCutFromOthers60Seconds_OneOutputCommitAndCutNodeLeavesByItself()
    {
        await using var lab = await ClusterLab.StartAsync();
        Enumerable.Range(0, 3).Select(_ => lab.AddNode(slots: 2)).ToList();
        await lab.WaitForNodesAsync(3);
        var job = await lab.StartJobAsync();
        await Eventually.WaitAsync(() => lab.SucceededAsync(job), n => n >= ClusterLab.Datums / 3, JobLimit, "a third of the datums done");
        // Prefer cutting off the job's grain: its stale writes must then be refused.
        var cut = lab.Nodes.FirstOrDefault(n => n.Log().Contains("datums to run of", StringComparison.Ordinal)) ?? lab.Nodes[2];
        var cutNamespace = lab.Network.NamespaceOf(cut.Address);
        lab.Network.Cut(cutNamespace, lab.Nodes.Where(n => n != cut).Select(n => n.Address));
        var left = await cut.WaitForExitAsync(TimeSpan.FromSeconds(60));
        lab.Network.Heal(cutNamespace);
        Assert.True(left, "the cut-off node did not leave the cluster by itself within 60 s:\n" + cut.Log());

        var final = await lab.WaitForJobAsync(job, JobLimit);
        Assert.True(final.GetProperty("state").GetString() == "Success", $"job {final}\n{lab.Logs()}");
        Assert.Equal(ClusterLab.Datums, final.GetProperty("datums").GetProperty("success").GetInt32());
        Assert.Equal(ClusterLab.ExpectedOutput(), await lab.OutputAsync());
        Assert.Equal(1, await lab.OutputCommitsAsync());
    }
}

/// <summary>An object damaged in the bucket behind S3's back.</summary>
[Collection(nameof(ClusterFailureTests))]
public sealed class ClusterCorruptionTests
{
    [Fact]
    public async Task CorruptInputObject_InBucket_ReaderRefusesDatumRetriesNothingCorruptCommitted()
    {
        await using var lab = await ClusterLab.StartAsync(seconds: 0.2);
        // The job is created by the commit; no node runs yet, so no cache holds the object before it is damaged.
        var job = await lab.StartJobAsync();
        var damaged = Reel.Testing.S3Server.Shared.ObjectFile(lab.Bucket, ClusterLab.InputHash(7));
        var bytes = await File.ReadAllBytesAsync(damaged);
        Assert.Equal("content 7\n", System.Text.Encoding.UTF8.GetString(bytes));
        await File.WriteAllTextAsync(damaged, "content X\n");
        lab.AddNode(slots: 2);
        lab.AddNode(slots: 2);

        var final = await lab.WaitForJobAsync(job, TimeSpan.FromMinutes(4));
        Assert.Equal("Failure", final.GetProperty("state").GetString());
        Assert.Equal(ClusterLab.Datums - 1, final.GetProperty("datums").GetProperty("success").GetInt32());
        var datums = System.Text.Json.JsonDocument.Parse(await lab.OkAsync("datum", "list", job, "--json")).RootElement;
        var failed = Assert.Single(datums.EnumerateArray(), d => d.GetProperty("state").GetString() == "Failed");
        Assert.Equal(2, failed.GetProperty("tries").GetInt32());
        Assert.Contains("damaged", failed.GetProperty("error").GetString(), StringComparison.Ordinal);
        // The damaged input's datum never ran its command, and nothing it would have written is in the output.
        Assert.False(lab.Runs().ContainsKey("f007"), "the datum ran on damaged content");
        var expected = ClusterLab.ExpectedOutput().Where(e => e.Key != "/f007.sum").ToDictionary();
        Assert.Equal(expected, await lab.OutputAsync());
        Assert.Equal(1, await lab.OutputCommitsAsync());
    }
}
