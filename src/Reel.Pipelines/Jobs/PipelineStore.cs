using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Reel.Data;
using Reel.Media.Decoding;
using Reel.Pipelines.Datums;
using Reel.Pipelines.Specs;

namespace Reel.Pipelines.Jobs;

/// <summary>
/// Pipelines, jobs and datums, in the metadata database beside the repos (<see cref="DataStore.Database"/>). A datum's outputs are staged in
/// the data layer under <c>job/&lt;job&gt;/&lt;datum&gt;</c>, so they survive a crash and a later job can carry
/// them over. Not thread-safe: one caller at a time, as <see cref="DataStore"/>.
/// </summary>
public sealed class PipelineStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS pipelines (
            name TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            spec TEXT NOT NULL,
            source TEXT NOT NULL,
            directory TEXT NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS jobs (
            id TEXT PRIMARY KEY,
            pipeline TEXT NOT NULL,
            version INTEGER NOT NULL,
            state TEXT NOT NULL,
            inputs TEXT NOT NULL,
            output_commit TEXT,
            rerun TEXT,
            created TEXT NOT NULL,
            started TEXT,
            finished TEXT,
            error TEXT);
        CREATE INDEX IF NOT EXISTS jobs_by_pipeline ON jobs(pipeline, created);
        CREATE TABLE IF NOT EXISTS datums (
            job_id TEXT NOT NULL,
            id TEXT NOT NULL,
            ordinal INTEGER NOT NULL,
            state TEXT NOT NULL,
            tries INTEGER NOT NULL DEFAULT 0,
            files TEXT NOT NULL,
            started TEXT,
            finished TEXT,
            seconds REAL,
            error TEXT,
            outputs_from TEXT,
            PRIMARY KEY (job_id, id)) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS workers (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            host TEXT NOT NULL,
            address TEXT NOT NULL,
            slots INTEGER NOT NULL,
            running INTEGER NOT NULL,
            done BIGINT NOT NULL,
            failed BIGINT NOT NULL,
            frames BIGINT NOT NULL,
            busy_seconds REAL NOT NULL,
            started TEXT NOT NULL,
            seen TEXT NOT NULL);
        """;

    /// <summary>The layer's name in <c>schema_versions</c>.</summary>
    public const string SchemaLayer = "pipelines";

    /// <summary>Schema versions of this layer's tables; migration i makes version i+1.</summary>
    internal static readonly IReadOnlyList<string> Migrations = [Schema, EpochsAndSingleJobs, DatumLogs, DatumPieces];

    /// <summary>
    /// Version 2 (clusters): a job's epoch, which each new activation of its grain takes, so a stale activation's writes are
    /// refused; and at most one unfinished job per pipeline, so schedulers on two nodes can never both create one.
    /// </summary>
    private const string EpochsAndSingleJobs = """
        ALTER TABLE jobs ADD COLUMN epoch BIGINT NOT NULL DEFAULT 0;
        CREATE UNIQUE INDEX IF NOT EXISTS jobs_one_unfinished ON jobs(pipeline) WHERE state IN ('Starting', 'Running');
        """;

    /// <summary>Version 3 (clusters): the object a node stored a datum's log in, so a command on any machine reads it.</summary>
    private const string DatumLogs = "ALTER TABLE datums ADD COLUMN log TEXT;";

    /// <summary>
    /// Version 4 (clusters): the pieces a datum was split into and which are done, their outputs staged under
    /// <see cref="PieceOwner"/>, so a job whose coordinator moves to another node reruns only the pieces not done; and
    /// what each worker is working on (one line per running datum or piece).
    /// </summary>
    private const string DatumPieces = """
        CREATE TABLE IF NOT EXISTS datum_pieces (
            job_id TEXT NOT NULL,
            datum_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            pieces INTEGER NOT NULL,
            first_frame INTEGER NOT NULL,
            end_frame INTEGER NOT NULL,
            done INTEGER NOT NULL DEFAULT 0,
            started TEXT NOT NULL,
            PRIMARY KEY (job_id, datum_id, idx)) WITHOUT ROWID;
        ALTER TABLE workers ADD COLUMN working_on TEXT;
        """;

    private readonly DataStore _data;
    private readonly string _jobSelect;

    private PipelineStore(DataStore data)
    {
        _data = data;
        _jobSelect = JobSelect.Replace("{counts}", data.Database.GroupConcat("state || ':' || n"), StringComparison.Ordinal);
    }

    public DataStore Data => _data;

    public string LogDirectory => Path.Combine(_data.DataDirectory, "logs");

    public static async Task<PipelineStore> OpenAsync(DataStore data, CancellationToken cancellationToken)
    {
        await data.Database.MigrateAsync(SchemaLayer, Migrations, cancellationToken);
        return new PipelineStore(data);
    }

    public static string StagingOwner(string jobId, string datumId) => $"job/{jobId}/{datumId}";

    /// <summary>SQL for the staging owner that holds a datum's outputs (of table alias or name <c>d</c>/<c>datums</c>).</summary>
    private const string OutputOwner = "coalesce(outputs_from, 'job/' || job_id || '/' || id)";

    public string LogPath(string jobId, string datumId) => Path.Combine(LogDirectory, jobId, datumId + ".log");

    /// <summary>
    /// A local file holding a datum's log: the object a cluster node stored it in when the datum ended (through this
    /// machine's hash-checked cache), else this machine's log file (the embedded engine's); null when neither exists
    /// (the datum printed nothing, or it runs on another node).
    /// </summary>
    public async Task<string?> LogFileAsync(DatumInfo datum, CancellationToken cancellationToken)
    {
        if (datum.Log is { } hash)
        {
            return await _data.Objects.GetLocalPathAsync(hash, cancellationToken);
        }
        var path = LogPath(datum.JobId, datum.Id);
        return File.Exists(path) ? path : null;
    }

    // ---- pipelines ----

    /// <summary>Stores a new pipeline (version 1) and creates its output repo, named after it.</summary>
    public async Task<PipelineInfo> CreatePipelineAsync(PipelineSpec spec, string text, string source, string directory, CancellationToken cancellationToken)
    {
        if (await FindPipelineAsync(spec.Name, cancellationToken) is not null)
        {
            throw new DataException(DataErrorKind.Conflict, $"pipeline '{spec.Name}' already exists; use 'reel pipeline update'");
        }
        await CheckInputsAsync(spec, cancellationToken);
        if (!(await _data.ListReposAsync(cancellationToken)).Any(r => r.Name == spec.Name))
        {
            await _data.CreateRepoAsync(spec.Name, cancellationToken);
        }
        var now = Now();
        await _data.ExecuteAsync(
            "INSERT INTO pipelines(name, version, spec, source, directory, created, updated) VALUES ($name, 1, $spec, $source, $dir, $now, $now)",
            cancellationToken, ("$name", spec.Name), ("$spec", text), ("$source", source), ("$dir", directory), ("$now", now));
        return await GetPipelineAsync(spec.Name, cancellationToken);
    }

    /// <summary>Replaces a pipeline's spec and bumps its version, so every datum runs again under the new spec.</summary>
    public async Task<PipelineInfo> UpdatePipelineAsync(PipelineSpec spec, string text, string source, string directory, CancellationToken cancellationToken)
    {
        await GetPipelineAsync(spec.Name, cancellationToken);
        await CheckInputsAsync(spec, cancellationToken);
        await _data.ExecuteAsync(
            "UPDATE pipelines SET version = version + 1, spec = $spec, source = $source, directory = $dir, updated = $now WHERE name = $name",
            cancellationToken, ("$name", spec.Name), ("$spec", text), ("$source", source), ("$dir", directory), ("$now", Now()));
        return await GetPipelineAsync(spec.Name, cancellationToken);
    }

    public async Task<PipelineInfo> GetPipelineAsync(string name, CancellationToken cancellationToken) =>
        await FindPipelineAsync(name, cancellationToken) ?? throw new DataException(DataErrorKind.NotFound, $"pipeline '{name}' does not exist");

    public async Task<PipelineInfo?> FindPipelineAsync(string name, CancellationToken cancellationToken) =>
        (await _data.QueryAsync(PipelineSelect + " WHERE name = $name", ReadPipeline, cancellationToken, ("$name", name))).SingleOrDefault();

    public Task<IReadOnlyList<PipelineInfo>> ListPipelinesAsync(CancellationToken cancellationToken) =>
        _data.QueryAsync(PipelineSelect + " ORDER BY name", ReadPipeline, cancellationToken);

    /// <summary>Deletes a pipeline with its jobs, logs and output repo; refused while another pipeline reads its output.</summary>
    public async Task DeletePipelineAsync(string name, CancellationToken cancellationToken)
    {
        await GetPipelineAsync(name, cancellationToken);
        foreach (var other in await ListPipelinesAsync(cancellationToken))
        {
            if (other.Name != name && other.Spec.Input.Repos.Any(r => r.Repo == name))
            {
                throw new DataException(DataErrorKind.Conflict, $"pipeline '{other.Name}' reads the output of '{name}'; delete it first");
            }
        }
        var jobs = await _data.QueryAsync("SELECT id FROM jobs WHERE pipeline = $name", r => r.GetString(0), cancellationToken, ("$name", name));
        await using (var transaction = await _data.BeginTransactionAsync(cancellationToken))
        {
            foreach (var job in jobs)
            {
                await _data.ExecuteAsync("DELETE FROM datums WHERE job_id = $job", cancellationToken, ("$job", job));
                await _data.ExecuteAsync("DELETE FROM datum_pieces WHERE job_id = $job", cancellationToken, ("$job", job));
                await _data.UnstageAsync($"job/{job}/", cancellationToken);
            }
            await _data.ExecuteAsync("DELETE FROM jobs WHERE pipeline = $name", cancellationToken, ("$name", name));
            await _data.ExecuteAsync("DELETE FROM pipelines WHERE name = $name", cancellationToken, ("$name", name));
            await transaction.CommitAsync(cancellationToken);
        }
        foreach (var job in jobs)
        {
            var logs = Path.Combine(LogDirectory, job);
            if (Directory.Exists(logs))
            {
                Directory.Delete(logs, recursive: true);
            }
        }
        if ((await _data.ListReposAsync(cancellationToken)).Any(r => r.Name == name))
        {
            await _data.DeleteRepoAsync(name, force: true, cancellationToken);
        }
    }

    private async Task CheckInputsAsync(PipelineSpec spec, CancellationToken cancellationToken)
    {
        var repos = (await _data.ListReposAsync(cancellationToken)).Select(r => r.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var input in spec.Input.Repos)
        {
            if (!repos.Contains(input.Repo))
            {
                throw new DataException(DataErrorKind.NotFound, $"input repo '{input.Repo}' does not exist; create it with 'reel repo create {input.Repo}'");
            }
        }
        // Pipelines chain through their output repos; a chain must not lead back to this pipeline.
        var readers = (await ListPipelinesAsync(cancellationToken)).Where(p => p.Name != spec.Name)
            .ToDictionary(p => p.Name, p => p.Spec.Input.Repos.Select(r => r.Repo).ToList(), StringComparer.Ordinal);
        readers[spec.Name] = spec.Input.Repos.Select(r => r.Repo).ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>(readers[spec.Name]);
        while (pending.TryPop(out var repo))
        {
            if (repo == spec.Name)
            {
                throw new DataException(DataErrorKind.Invalid, $"pipeline '{spec.Name}' would read its own output through other pipelines");
            }
            if (seen.Add(repo) && readers.TryGetValue(repo, out var upstream))
            {
                upstream.ForEach(pending.Push);
            }
        }
    }

    // ---- jobs ----

    public async Task<JobInfo> CreateJobAsync(PipelineInfo pipeline, IReadOnlyDictionary<string, string> inputs, string? rerun, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid().ToString("N");
        try
        {
            await _data.ExecuteAsync(
                "INSERT INTO jobs(id, pipeline, version, state, inputs, rerun, created) VALUES ($id, $pipeline, $version, $state, $inputs, $rerun, $now)",
                cancellationToken, ("$id", id), ("$pipeline", pipeline.Name), ("$version", pipeline.Version), ("$state", nameof(JobState.Starting)),
                ("$inputs", JsonSerializer.Serialize(inputs)), ("$rerun", rerun), ("$now", Now()));
        }
        catch (Exception e) when (_data.Database.IsUniqueViolation(e))
        {
            // jobs_one_unfinished: another scheduler or command created this pipeline's job first.
            throw new DataException(DataErrorKind.Conflict, $"pipeline '{pipeline.Name}' already has an unfinished job");
        }
        return await GetJobAsync(id, cancellationToken);
    }

    /// <summary>A job by id or unique id prefix (at least 4 characters).</summary>
    public async Task<JobInfo> GetJobAsync(string reference, CancellationToken cancellationToken)
    {
        if (reference.Length < 4 || !reference.All(char.IsAsciiHexDigit))
        {
            throw new DataException(DataErrorKind.Invalid, $"'{reference}' is not a job id (hex, at least 4 characters)");
        }
        var prefix = reference.ToLowerInvariant();
        var jobs = await _data.QueryAsync(_jobSelect + " WHERE j.id >= $from AND j.id < $to ORDER BY j.id LIMIT 2", ReadJob, cancellationToken,
            ("$from", prefix), ("$to", prefix + "g"));
        return jobs.Count switch
        {
            0 => throw new DataException(DataErrorKind.NotFound, $"job '{reference}' does not exist"),
            1 => jobs[0],
            _ => throw new DataException(DataErrorKind.Invalid, $"job prefix '{reference}' is ambiguous; give more characters"),
        };
    }

    /// <summary>Jobs, newest first; of one pipeline when <paramref name="pipeline"/> is given.</summary>
    public Task<IReadOnlyList<JobInfo>> ListJobsAsync(string? pipeline, CancellationToken cancellationToken) => pipeline is null
        ? _data.QueryAsync(_jobSelect + " ORDER BY j.created DESC, j.id", ReadJob, cancellationToken)
        : _data.QueryAsync(_jobSelect + " WHERE j.pipeline = $p ORDER BY j.created DESC, j.id", ReadJob, cancellationToken, ("$p", pipeline));

    public Task<IReadOnlyList<JobInfo>> ListUnfinishedJobsAsync(CancellationToken cancellationToken) =>
        _data.QueryAsync(_jobSelect + " WHERE j.state IN ('Starting', 'Running') ORDER BY j.created, j.id", ReadJob, cancellationToken);

    /// <summary>The ids of the jobs not ended, oldest first, without their datum counts: workers ask for them several times a second.</summary>
    public Task<IReadOnlyList<string>> ListUnfinishedJobIdsAsync(CancellationToken cancellationToken) =>
        _data.QueryAsync("SELECT id FROM jobs WHERE state IN ('Starting', 'Running') ORDER BY created, id", r => r.GetString(0), cancellationToken);

    /// <summary>
    /// Creates a job for every pipeline whose input branches moved (or whose spec changed) since its last job and
    /// that has no job unfinished: a commit to an input branch starts a job by itself, and so pipelines chain.
    /// </summary>
    public async Task<IReadOnlyList<JobInfo>> CreateDueJobsAsync(CancellationToken cancellationToken)
    {
        // Looking needs no write lock; most rounds find nothing due, and they must not hold up other writers.
        if (!await AnyJobDueAsync(create: false, [], cancellationToken))
        {
            return [];
        }
        // An immediate transaction: the engine and a command may both look, and only one may create the job.
        await using var transaction = await _data.BeginTransactionAsync(cancellationToken);
        await _data.LockAsync("due-jobs", cancellationToken);
        var created = new List<JobInfo>();
        await AnyJobDueAsync(create: true, created, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return created;
    }

    /// <summary>Whether some pipeline's inputs moved since its last job; with <paramref name="create"/>, creates those jobs.</summary>
    private async Task<bool> AnyJobDueAsync(bool create, List<JobInfo> created, CancellationToken cancellationToken)
    {
        var due = false;
        var unfinished = (await ListUnfinishedJobsAsync(cancellationToken)).Select(j => j.Pipeline).ToHashSet(StringComparer.Ordinal);
        foreach (var pipeline in await ListPipelinesAsync(cancellationToken))
        {
            if (unfinished.Contains(pipeline.Name))
            {
                continue;
            }
            var heads = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var input in pipeline.Spec.Input.Repos)
            {
                if (await _data.TryGetHeadAsync(input.Repo, input.Branch, cancellationToken) is not { } head)
                {
                    break;
                }
                heads[input.Name] = head;
            }
            if (heads.Count < pipeline.Spec.Input.Repos.Count())
            {
                continue;
            }
            var last = (await _data.QueryAsync(_jobSelect + " WHERE j.pipeline = $p ORDER BY j.created DESC LIMIT 1", ReadJob, cancellationToken,
                ("$p", pipeline.Name))).SingleOrDefault();
            var same = last is not null && last.Version == pipeline.Version && last.Inputs.Count == heads.Count
                && heads.All(h => last.Inputs.TryGetValue(h.Key, out var c) && c == h.Value);
            if (!same)
            {
                due = true;
                if (create)
                {
                    created.Add(await CreateJobAsync(pipeline, heads, rerun: null, cancellationToken));
                }
            }
        }
        return due;
    }

    /// <summary>Cuts a starting job's input commits into datums (see <see cref="DatumPlanner"/>) and records them.</summary>
    public async Task PlanJobAsync(JobInfo job, CancellationToken cancellationToken)
    {
        var spec = (await GetPipelineAsync(job.Pipeline, cancellationToken)).Spec;
        var files = new Dictionary<string, IReadOnlyList<FileEntry>>(StringComparer.Ordinal);
        foreach (var (input, commit) in job.Inputs)
        {
            files[input] = await _data.ListFilesAsync(commit, DataPath.Root, cancellationToken);
        }
        await PlanJobAsync(job, DatumPlanner.Plan(spec.Input, files), cancellationToken);
    }

    /// <summary>
    /// Lists a starting job's datums and marks it running. A datum whose id succeeded (or was carried over) in the
    /// pipeline's previous job of the same version is skipped, unless this job reruns all: it keeps pointing at the
    /// staging that holds its outputs (<c>outputs_from</c>), so carrying it over costs one row, however many files.
    /// </summary>
    public async Task PlanJobAsync(JobInfo job, IReadOnlyList<Datum> datums, CancellationToken cancellationToken)
    {
        var reusable = new Dictionary<string, string>(StringComparer.Ordinal);
        if (job.Rerun != "all")
        {
            var previous = (await _data.QueryAsync(
                "SELECT id FROM jobs WHERE pipeline = $p AND version = $v AND id <> $id AND state IN ('Success', 'Failure') ORDER BY finished DESC LIMIT 1",
                r => r.GetString(0), cancellationToken, ("$p", job.Pipeline), ("$v", job.Version), ("$id", job.Id))).SingleOrDefault();
            if (previous is not null)
            {
                foreach (var (id, owner) in await _data.QueryAsync(
                    "SELECT id, " + OutputOwner + " FROM datums WHERE job_id = $job AND state IN ('Success', 'Skipped')",
                    r => (r.GetString(0), r.GetString(1)), cancellationToken, ("$job", previous)))
                {
                    reusable[id] = owner;
                }
            }
        }
        var now = Now();
        await using var transaction = await _data.BeginTransactionAsync(cancellationToken);
        await _data.ExecuteAsync("DELETE FROM datums WHERE job_id = $job", cancellationToken, ("$job", job.Id));
        await using var insert = _data.Prepare(
            "INSERT INTO datums(job_id, id, ordinal, state, files, started, finished, seconds, outputs_from) VALUES ($job, $id, $n, $state, $files, $t, $t, $s, $from) ON CONFLICT DO NOTHING",
            "$job", "$id", "$n", "$state", "$files", "$t", "$s", "$from");
        var ordinal = 0;
        foreach (var datum in datums)
        {
            var skipped = reusable.TryGetValue(datum.Id, out var from);
            await DataStore.ExecuteAsync(insert, cancellationToken, job.Id, datum.Id, ordinal++,
                skipped ? nameof(DatumState.Skipped) : nameof(DatumState.Pending), JsonSerializer.Serialize(datum.Files),
                skipped ? now : null, skipped ? 0.0 : null, from);
        }
        await _data.ExecuteAsync("UPDATE jobs SET state = 'Running', started = coalesce(started, $now) WHERE id = $job", cancellationToken,
            ("$job", job.Id), ("$now", now));
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Datums of a job still to run (pending, or running when a crash interrupted them), in order.</summary>
    /// <summary>The staging owner of a split datum's piece: its outputs, or with <paramref name="partial"/> what only the merge reads.</summary>
    private static string PieceOwner(string jobId, string datumId, int index, bool partial) =>
        $"{StagingOwner(jobId, datumId)}/{(partial ? "partial" : "piece")}-{index.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>Records that a datum runs as <paramref name="pieces"/> (in frame order), none of them done yet.</summary>
    /// <exception cref="StaleJobException">A newer activation of the job claimed it: nothing was written.</exception>
    public async Task SplitDatumAsync(
        string jobId, string datumId, IReadOnlyList<FramePiece> pieces, DateTimeOffset started, long? epoch, CancellationToken cancellationToken)
    {
        await using var transaction = await _data.BeginTransactionAsync(cancellationToken);
        await CheckEpochAsync(jobId, epoch, cancellationToken);
        await _data.ExecuteAsync("DELETE FROM datum_pieces WHERE job_id = $job AND datum_id = $datum", cancellationToken, ("$job", jobId), ("$datum", datumId));
        for (var i = 0; i < pieces.Count; i++)
        {
            await _data.ExecuteAsync(
                "INSERT INTO datum_pieces(job_id, datum_id, idx, pieces, first_frame, end_frame, started) VALUES ($job, $datum, $idx, $pieces, $first, $end, $started)",
                cancellationToken, ("$job", jobId), ("$datum", datumId), ("$idx", i), ("$pieces", pieces.Count), ("$first", pieces[i].First),
                ("$end", pieces[i].End), ("$started", Format(started)));
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>Records a piece of a split datum done, with its outputs and the results only the merge reads (both already stored).</summary>
    /// <exception cref="StaleJobException">A newer activation of the job claimed it: nothing was written.</exception>
    public async Task RecordPieceAsync(
        string jobId, string datumId, int index, IReadOnlyList<FileEntry> outputs, IReadOnlyList<FileEntry> partial, long? epoch,
        CancellationToken cancellationToken)
    {
        await using var transaction = await _data.BeginTransactionAsync(cancellationToken);
        await CheckEpochAsync(jobId, epoch, cancellationToken);
        await _data.StageManyAsync(
            [(PieceOwner(jobId, datumId, index, partial: false), outputs), (PieceOwner(jobId, datumId, index, partial: true), partial)], cancellationToken);
        await _data.ExecuteAsync("UPDATE datum_pieces SET done = 1 WHERE job_id = $job AND datum_id = $datum AND idx = $idx", cancellationToken,
            ("$job", jobId), ("$datum", datumId), ("$idx", index));
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The job's split datums: each one's pieces in frame order, with the outputs of those done.</summary>
    public async Task<IReadOnlyList<SplitInfo>> ListSplitsAsync(string jobId, CancellationToken cancellationToken)
    {
        var rows = await _data.QueryAsync(
            "SELECT datum_id, idx, pieces, first_frame, end_frame, done, started FROM datum_pieces WHERE job_id = $job ORDER BY datum_id, idx",
            r => (Datum: r.GetString(0), Index: r.GetInt32(1), Count: r.GetInt32(2), Piece: new FramePiece(r.GetInt32(3), r.GetInt32(4)),
                Done: r.GetInt32(5) != 0, Started: Parse(r.GetString(6))),
            cancellationToken, ("$job", jobId));
        var splits = new List<SplitInfo>();
        foreach (var datum in rows.GroupBy(r => r.Datum))
        {
            var pieces = new List<PieceInfo>();
            foreach (var row in datum)
            {
                var done = !row.Done ? null : new PieceResults(
                    await StagedAsync(PieceOwner(jobId, row.Datum, row.Index, partial: false), cancellationToken),
                    await StagedAsync(PieceOwner(jobId, row.Datum, row.Index, partial: true), cancellationToken));
                pieces.Add(new PieceInfo(row.Piece, done));
            }
            // Rows of one datum are written together; a count that disagrees means they are not this plan's: run it whole.
            if (datum.All(r => r.Count == pieces.Count) && datum.Select(r => r.Index).SequenceEqual(Enumerable.Range(0, pieces.Count)))
            {
                splits.Add(new SplitInfo(datum.Key, datum.First().Started, pieces));
            }
        }
        return splits;
    }

    private Task<IReadOnlyList<FileEntry>> StagedAsync(string owner, CancellationToken cancellationToken) =>
        _data.QueryAsync("SELECT path, object, size FROM staged WHERE owner = $owner ORDER BY path", ReadFileEntry, cancellationToken, ("$owner", owner));

    public Task<IReadOnlyList<DatumInfo>> ListRunnableDatumsAsync(string jobId, CancellationToken cancellationToken) =>
        _data.QueryAsync(DatumSelect + " WHERE job_id = $job AND state IN ('Pending', 'Running') ORDER BY ordinal", ReadDatum, cancellationToken, ("$job", jobId));

    public Task<IReadOnlyList<DatumInfo>> ListDatumsAsync(string jobId, CancellationToken cancellationToken) =>
        _data.QueryAsync(DatumSelect + " WHERE job_id = $job ORDER BY ordinal", ReadDatum, cancellationToken, ("$job", jobId));

    /// <summary>Records finished datums in one transaction: each one's state, and the outputs of those that succeeded.</summary>
    public Task RecordAsync(string jobId, IReadOnlyCollection<DatumOutcome> outcomes, CancellationToken cancellationToken) =>
        RecordAsync(jobId, outcomes, epoch: null, cancellationToken);

    /// <param name="epoch">The writer's epoch (see <see cref="ClaimJobAsync"/>); null for writers outside the engine.</param>
    /// <exception cref="StaleJobException">A newer activation of the job claimed it: nothing was written.</exception>
    public async Task RecordAsync(string jobId, IReadOnlyCollection<DatumOutcome> outcomes, long? epoch, CancellationToken cancellationToken)
    {
        await using var transaction = await _data.BeginTransactionAsync(cancellationToken);
        await CheckEpochAsync(jobId, epoch, cancellationToken);
        await _data.StageManyAsync(
            outcomes.Where(o => o.Succeeded).Select(o => (StagingOwner(jobId, o.DatumId), (IReadOnlyCollection<FileEntry>)o.Outputs)), cancellationToken);
        // Prepared once per batch: with many small datums, parsing SQL per row would cost more than running it.
        await using var update = _data.Prepare(
            "UPDATE datums SET state = $state, tries = $tries, started = $started, finished = $finished, seconds = $seconds, error = $error, log = $log "
            + "WHERE job_id = $job AND id = $id",
            "$state", "$tries", "$started", "$finished", "$seconds", "$error", "$log", "$job", "$id");
        var now = Now();
        foreach (var outcome in outcomes)
        {
            await DataStore.ExecuteAsync(update, cancellationToken,
                outcome.Succeeded ? nameof(DatumState.Success) : nameof(DatumState.Failed), outcome.Tries, Format(outcome.Started), now,
                outcome.Seconds, outcome.Error, outcome.Log, jobId, outcome.DatumId);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Ends a job. Unless it was killed, its output commit (on the pipeline's repo, master) holds the staged outputs
    /// of every datum that succeeded or was carried over, with the input commits as provenance; the commit and the
    /// job's final state become visible together. Older jobs' staging of this pipeline is released.
    /// </summary>
    public Task<JobInfo> FinishJobAsync(string jobId, JobState state, string? error, CancellationToken cancellationToken) =>
        FinishJobAsync(jobId, state, error, epoch: null, cancellationToken);

    /// <param name="epoch">The writer's epoch (see <see cref="ClaimJobAsync"/>); null for writers outside the engine.</param>
    /// <exception cref="StaleJobException">A newer activation of the job claimed it: nothing was committed.</exception>
    public async Task<JobInfo> FinishJobAsync(string jobId, JobState state, string? error, long? epoch, CancellationToken cancellationToken)
    {
        var job = await GetJobAsync(jobId, cancellationToken);
        if (job.IsFinished)
        {
            return job;
        }
        string? output = null;
        // Held until the job's row says it finished: whoever gets the output branch next sees the job finished (or a newer
        // epoch) and commits nothing, so two activations of one job never both commit.
        await using var writer = state == JobState.Killed
            ? null
            : await _data.BeginCommitAsync(job.Pipeline, "master", $"job {jobId[..12]} of pipeline {job.Pipeline}", cancellationToken);
        if (writer is not null && await GetJobAsync(jobId, cancellationToken) is { IsFinished: true } done)
        {
            return done;
        }
        await using (var check = await _data.BeginTransactionAsync(cancellationToken))
        {
            await CheckEpochAsync(jobId, epoch, cancellationToken);
        }
        if (writer is not null)
        {
            try
            {
                await WriteOutputAsync(writer, jobId, cancellationToken);
                foreach (var input in job.Inputs.Values.Distinct())
                {
                    await writer.AddProvenanceAsync(input, cancellationToken);
                }
                output = (await writer.FinishAsync(cancellationToken)).Id;
            }
            catch (DataException e) when (e.Kind == DataErrorKind.Conflict)
            {
                state = JobState.Failure;
                error = $"two datums wrote the same path: {e.Message}";
            }
        }
        await using (var transaction = await _data.BeginTransactionAsync(cancellationToken))
        {
            await CheckEpochAsync(jobId, epoch, cancellationToken);
            await _data.ExecuteAsync(
                "UPDATE jobs SET state = $state, error = $error, output_commit = $output, finished = $now WHERE id = $job", cancellationToken,
                ("$job", jobId), ("$state", state.ToString()), ("$error", error), ("$output", output), ("$now", Now()));
            await _data.ExecuteAsync("DELETE FROM datum_pieces WHERE job_id = $job", cancellationToken, ("$job", jobId));
            if (state != JobState.Killed)
            {
                // Older jobs' staging goes, except what this job's datums carry over.
                var carried = (await _data.QueryAsync("SELECT " + OutputOwner + " FROM datums WHERE job_id = $job", r => r.GetString(0), cancellationToken,
                    ("$job", jobId))).ToHashSet(StringComparer.Ordinal);
                foreach (var older in await _data.QueryAsync(
                    "SELECT id FROM jobs WHERE pipeline = $p AND id <> $job", r => r.GetString(0), cancellationToken, ("$p", job.Pipeline), ("$job", jobId)))
                {
                    await _data.UnstageAsync($"job/{older}/", carried, cancellationToken);
                }
            }
            else
            {
                await _data.UnstageAsync($"job/{jobId}/", cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
        }
        return await GetJobAsync(jobId, cancellationToken);
    }

    /// <summary>
    /// Takes the job for a new activation of its grain: bumps and returns its epoch. Writes carrying an older epoch are
    /// refused from then on (<see cref="StaleJobException"/>).
    /// </summary>
    public async Task<long> ClaimJobAsync(string jobId, CancellationToken cancellationToken)
    {
        await using var transaction = await _data.BeginTransactionAsync(cancellationToken);
        await _data.ExecuteAsync("UPDATE jobs SET epoch = epoch + 1 WHERE id = $job", cancellationToken, ("$job", jobId));
        var epoch = (await _data.QueryAsync("SELECT epoch FROM jobs WHERE id = $job", r => r.GetInt64(0), cancellationToken, ("$job", jobId))).Single();
        await transaction.CommitAsync(cancellationToken);
        return epoch;
    }

    /// <summary>
    /// Inside the caller's transaction: refuses a writer whose epoch is not the job's. The no-op update locks the job's
    /// row until the transaction ends, so a newer claim cannot slip in between this check and the writes after it.
    /// </summary>
    private async Task CheckEpochAsync(string jobId, long? epoch, CancellationToken cancellationToken)
    {
        if (epoch is { } mine && await _data.ExecuteAsync(
            "UPDATE jobs SET epoch = epoch WHERE id = $job AND epoch = $epoch", cancellationToken, ("$job", jobId), ("$epoch", mine)) == 0)
        {
            throw new StaleJobException($"job {jobId[..12]}: epoch {mine} was superseded by a newer activation; its writes are refused");
        }
    }

    /// <summary>
    /// Fills a job's output commit, which starts as the branch head. When that head is the previous job's output, only
    /// the difference is written: the files of datums no longer carried (changed or deleted) go, those of datums that
    /// ran come in. Otherwise (the first job, or a head written by hand) the commit is set to exactly the outputs.
    /// </summary>
    private async Task WriteOutputAsync(CommitWriter writer, string jobId, CancellationToken cancellationToken)
    {
        var head = writer.Parent;
        var previous = head is null ? null : (await _data.QueryAsync(
            "SELECT id FROM jobs WHERE output_commit = $head", r => r.GetString(0), cancellationToken, ("$head", head))).FirstOrDefault();
        if (previous is null)
        {
            var all = await _data.QueryAsync(
                "SELECT s.path, s.object, s.size FROM datums d JOIN staged s ON s.owner = " + OutputOwner
                + " WHERE d.job_id = $job AND d.state IN ('Success', 'Skipped')",
                ReadFileEntry, cancellationToken, ("$job", jobId));
            await writer.ReplaceAllAsync(all, cancellationToken);
            return;
        }
        var gone = await _data.QueryAsync(
            "SELECT s.path FROM datums d JOIN staged s ON s.owner = " + OutputOwner
            + " WHERE d.job_id = $previous AND d.state IN ('Success', 'Skipped') AND " + OutputOwner
            + " NOT IN (SELECT " + OutputOwner + " FROM datums WHERE job_id = $job AND state IN ('Success', 'Skipped'))",
            r => r.GetString(0), cancellationToken, ("$previous", previous), ("$job", jobId));
        var ran = await _data.QueryAsync(
            "SELECT s.path, s.object, s.size FROM datums d JOIN staged s ON s.owner = 'job/' || d.job_id || '/' || d.id WHERE d.job_id = $job AND d.state = 'Success'",
            ReadFileEntry, cancellationToken, ("$job", jobId));
        await writer.ApplyAsync(gone, ran, cancellationToken);
    }

    private static FileEntry ReadFileEntry(DbDataReader r) => new(r.GetString(0), r.GetString(1), r.GetInt64(2));

    /// <summary>Asks for a job to stop; the engine kills its running datums and ends it as killed.</summary>
    public async Task RequestStopAsync(string jobId, CancellationToken cancellationToken)
    {
        var job = await GetJobAsync(jobId, cancellationToken);
        if (job.IsFinished)
        {
            throw new DataException(DataErrorKind.Conflict, $"job {job.Id[..12]} already finished ({job.State})");
        }
        await _data.ExecuteAsync("UPDATE jobs SET error = $why WHERE id = $job AND error IS NULL", cancellationToken,
            ("$job", job.Id), ("$why", StopRequested));
    }

    /// <summary>A job's error, without counting its datums: how a running job learns it was asked to stop.</summary>
    public async Task<string?> GetJobErrorAsync(string jobId, CancellationToken cancellationToken) =>
        (await _data.QueryAsync("SELECT error FROM jobs WHERE id = $job", NullableErrorColumn, cancellationToken, ("$job", jobId))).SingleOrDefault();

    private static string? NullableErrorColumn(DbDataReader r) => NullableString(r, 0);

    /// <summary>The error text that marks a running job a user asked to stop.</summary>
    public const string StopRequested = "stopped by user";

    // ---- workers ----

    /// <summary>Records how a worker pool stands now (its row is replaced).</summary>
    public Task ReportWorkerAsync(WorkerInfo worker, CancellationToken cancellationToken) => _data.ExecuteAsync(
        """
        INSERT INTO workers(id, kind, host, address, slots, running, done, failed, frames, busy_seconds, started, seen, working_on)
        VALUES ($id, $kind, $host, $address, $slots, $running, $done, $failed, $frames, $busy, $started, $seen, $working)
        ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, host = excluded.host, address = excluded.address, slots = excluded.slots,
            running = excluded.running, done = excluded.done, failed = excluded.failed, frames = excluded.frames,
            busy_seconds = excluded.busy_seconds, started = excluded.started, seen = excluded.seen, working_on = excluded.working_on
        """, cancellationToken, ("$id", worker.Id), ("$kind", worker.Kind), ("$host", worker.Host), ("$address", worker.Address),
        ("$slots", worker.Slots), ("$running", worker.Running), ("$done", worker.Done), ("$failed", worker.Failed), ("$frames", worker.Frames),
        ("$busy", worker.BusySeconds), ("$started", Format(worker.Started)), ("$seen", Format(worker.Seen)),
        ("$working", worker.WorkingOn.Count == 0 ? null : string.Join('\n', worker.WorkingOn)));

    /// <summary>Workers seen within <paramref name="within"/>, most recently seen first.</summary>
    public Task<IReadOnlyList<WorkerInfo>> ListWorkersAsync(TimeSpan within, CancellationToken cancellationToken) => _data.QueryAsync(
        "SELECT id, kind, host, address, slots, running, done, failed, frames, busy_seconds, started, seen, working_on FROM workers "
        + "WHERE seen >= $since ORDER BY seen DESC",
        r => new WorkerInfo(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt32(4), r.GetInt32(5), r.GetInt64(6), r.GetInt64(7),
            r.GetInt64(8), r.GetDouble(9), Parse(r.GetString(10)), Parse(r.GetString(11)))
        {
            WorkingOn = r.IsDBNull(12) ? [] : r.GetString(12).Split('\n'),
        },
        cancellationToken, ("$since", Format(_data.Time.GetUtcNow() - within)));

    /// <summary>This machine's name and first non-loopback IPv4 address, as workers report themselves.</summary>
    public static (string Host, string Address) ThisMachine()
    {
        var address = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .Where(i => i.OperationalStatus == System.Net.NetworkInformation.OperationalStatus.Up)
            .SelectMany(i => i.GetIPProperties().UnicastAddresses)
            .Select(a => a.Address)
            .FirstOrDefault(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && !System.Net.IPAddress.IsLoopback(a));
        return (Environment.MachineName, address?.ToString() ?? "127.0.0.1");
    }

    // ---- reading rows ----

    private const string PipelineSelect = "SELECT name, version, spec, source, directory, created, updated FROM pipelines";

    private static PipelineInfo ReadPipeline(DbDataReader r) => new(
        r.GetString(0), r.GetInt32(1), r.GetString(2), r.GetString(3), r.GetString(4), Parse(r.GetString(5)), Parse(r.GetString(6)));

    private const string JobSelect = """
        SELECT j.id, j.pipeline, j.version, j.state, j.inputs, j.output_commit, j.rerun, j.created, j.started, j.finished, j.error,
               (SELECT {counts} FROM (SELECT state, count(*) AS n FROM datums d WHERE d.job_id = j.id GROUP BY state) AS counts)
        FROM jobs j
        """;

    private static JobInfo ReadJob(DbDataReader r) => new(
        r.GetString(0), r.GetString(1), r.GetInt32(2), Enum.Parse<JobState>(r.GetString(3)),
        JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(4))!, NullableString(r, 5), NullableString(r, 6), Parse(r.GetString(7)),
        NullableTime(r, 8), NullableTime(r, 9), NullableString(r, 10), ReadCounts(NullableString(r, 11)));

    /// <summary>"Pending:5,Success:9995" (one scan of the job's datums) → counts.</summary>
    private static DatumCounts ReadCounts(string? packed)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var part in (packed ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = part.IndexOf(':', StringComparison.Ordinal);
            counts[part[..colon]] = int.Parse(part.AsSpan(colon + 1), CultureInfo.InvariantCulture);
        }
        int Count(DatumState state) => counts.GetValueOrDefault(state.ToString());
        return new DatumCounts(counts.Values.Sum(), Count(DatumState.Pending), Count(DatumState.Running), Count(DatumState.Success),
            Count(DatumState.Skipped), Count(DatumState.Failed));
    }

    private const string DatumSelect = "SELECT job_id, id, state, tries, files, started, finished, seconds, error, log FROM datums";

    private static DatumInfo ReadDatum(DbDataReader r) => new(
        r.GetString(0), r.GetString(1), Enum.Parse<DatumState>(r.GetString(2)), r.GetInt32(3),
        JsonSerializer.Deserialize<List<DatumFile>>(r.GetString(4))!, NullableTime(r, 5), NullableTime(r, 6),
        r.IsDBNull(7) ? null : r.GetDouble(7), NullableString(r, 8))
    {
        Log = NullableString(r, 9),
    };

    private static string? NullableString(DbDataReader r, int i) => r.IsDBNull(i) ? null : r.GetString(i);

    private static DateTimeOffset? NullableTime(DbDataReader r, int i) => r.IsDBNull(i) ? null : Parse(r.GetString(i));

    private string Now() => Format(_data.Time.GetUtcNow());

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset Parse(string time) =>
        DateTimeOffset.Parse(time, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
