using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using Reel.Testing;

namespace Reel.Cli.Tests;

/// <summary>A <c>reel put</c> killed with SIGKILL mid-commit: nothing half-done is ever visible, and the next command cleans up.</summary>
public sealed class DataCrashTests : IDisposable
{
    private const int SigKill = 9;

    private readonly string _work = TestMedia.TempDirectory();

    [Fact]
    public async Task Put_KilledMidCommit_EarlierCommitIntactAndNextCommandRecovers()
    {
        var work = _work;
        var data = Path.Combine(work, "data");
        var first = Path.Combine(work, "first.bin");
        await File.WriteAllBytesAsync(first, RandomNumberGenerator.GetBytes(2_000_000));
        var many = Path.Combine(work, "many");
        Directory.CreateDirectory(many);
        for (var i = 0; i < 3000; i++)
        {
            await File.WriteAllBytesAsync(Path.Combine(many, $"{i:D5}.bin"), RandomNumberGenerator.GetBytes(16_384));
        }
        Ok(data, "repo", "create", "videos");
        var committed = Ok(data, "put", "videos:/first.bin", "-f", first).Trim();

        using (var put = Process.Start(ReelProcess.StartInfo("put", "videos:/many/", "-f", many, "-r", "--data-dir", data))!)
        {
            // Kill once the open commit holds some of the new files: the commit is half built.
            var deadline = Stopwatch.StartNew();
            long seen;
            while ((seen = await UnfinishedFilesAsync(data)) < 50)
            {
                if (put.HasExited)
                {
                    Assert.Fail($"the put finished (exit {put.ExitCode}, {seen} files seen) before it could be killed: "
                        + await put.StandardError.ReadToEndAsync());
                }
                Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(2), "the put never started writing files");
                await Task.Delay(10);
            }
            Assert.Equal(0, Signals.Send(put.Id, SigKill));
            await put.WaitForExitAsync();
            Assert.Equal(137, put.ExitCode);
        }
        Assert.True(await CountAsync(data, "SELECT count(*) FROM commits WHERE finished IS NULL") > 0, "the kill left no unfinished commit to recover");

        using (var log = JsonDocument.Parse(Ok(data, "log", "videos", "--json")))
        {
            Assert.Equal([committed], log.RootElement.EnumerateArray().Select(c => c.GetProperty("id").GetString()));
        }
        Assert.Equal(0, await CountAsync(data, "SELECT count(*) FROM commits WHERE finished IS NULL"));
        Assert.Equal(0, await CountAsync(data, "SELECT count(*) FROM files WHERE commit_id NOT IN (SELECT id FROM commits)"));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(data, "objects", "tmp")));
        AssertEveryObjectMatchesItsName(data);
        Assert.Single(Directory.EnumerateFiles(Path.Combine(data, "objects"), "*", SearchOption.AllDirectories));
        var got = Path.Combine(work, "got.bin");
        Ok(data, "get", "videos:/first.bin", "-o", got);
        Assert.Equal(await File.ReadAllBytesAsync(first), await File.ReadAllBytesAsync(got));
        Assert.Equal(1, ReelProcess.Run("ls", "videos:/many", "--data-dir", data).ExitCode);

        // The store still takes commits.
        var next = Ok(data, "put", "videos:/many/", "-f", many, "-r").Trim();
        Assert.Equal(3000, Directory.EnumerateFiles(Path.Combine(data, "objects"), "*", SearchOption.AllDirectories).Count() - 1);
        using (var log = JsonDocument.Parse(Ok(data, "log", "videos", "--json")))
        {
            Assert.Equal([next, committed], log.RootElement.EnumerateArray().Select(c => c.GetProperty("id").GetString()));
        }
    }

    [Fact]
    public async Task Put_KilledWhileStreamingALargeFile_NoHalfObjectAndEarlierContentIntact()
    {
        var work = _work;
        var data = Path.Combine(work, "data");
        var small = Path.Combine(work, "small.bin");
        await File.WriteAllBytesAsync(small, RandomNumberGenerator.GetBytes(100_000));
        var large = Path.Combine(work, "large.bin");
        await using (var file = File.Create(large))
        {
            var block = RandomNumberGenerator.GetBytes(1 << 20);
            for (var i = 0; i < 400; i++)
            {
                block[0] = (byte)i;
                await file.WriteAsync(block);
            }
        }
        Ok(data, "repo", "create", "videos");
        var committed = Ok(data, "put", "videos", "-f", small).Trim();
        var temp = Path.Combine(data, "objects", "tmp");

        using (var put = Process.Start(ReelProcess.StartInfo("put", "videos", "-f", large, "--data-dir", data))!)
        {
            // Kill while the object is being streamed into its temporary file.
            var deadline = Stopwatch.StartNew();
            while (!Directory.EnumerateFiles(temp).Any(f => new FileInfo(f).Length > 8 << 20))
            {
                if (put.HasExited)
                {
                    Assert.Fail($"the put finished (exit {put.ExitCode}) before it could be killed: " + await put.StandardError.ReadToEndAsync());
                }
                Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(2), "the put never started writing the object");
                await Task.Delay(5);
            }
            Assert.Equal(0, Signals.Send(put.Id, SigKill));
            await put.WaitForExitAsync();
        }
        AssertEveryObjectMatchesItsName(data);

        using (var log = JsonDocument.Parse(Ok(data, "log", "videos", "--json")))
        {
            Assert.Equal([committed], log.RootElement.EnumerateArray().Select(c => c.GetProperty("id").GetString()));
        }
        Assert.Empty(Directory.EnumerateFiles(temp));
        Assert.Equal(0, await CountAsync(data, "SELECT count(*) FROM commits WHERE finished IS NULL"));
        var got = Path.Combine(work, "got.bin");
        Ok(data, "get", "videos:/small.bin", "-o", got);
        Assert.Equal(await File.ReadAllBytesAsync(small), await File.ReadAllBytesAsync(got));
        Assert.Equal(1, ReelProcess.Run("get", "videos:/large.bin", "-o", got, "--data-dir", data).ExitCode);
    }

    [Fact]
    public async Task Put_Interrupted_ExitsWith130AndRemovesItsCommitAtOnce()
    {
        var work = _work;
        var data = Path.Combine(work, "data");
        var many = Path.Combine(work, "many");
        Directory.CreateDirectory(many);
        for (var i = 0; i < 3000; i++)
        {
            await File.WriteAllBytesAsync(Path.Combine(many, $"{i:D5}.bin"), RandomNumberGenerator.GetBytes(4096));
        }
        Ok(data, "repo", "create", "videos");

        using (var put = Process.Start(ReelProcess.StartInfo("put", "videos", "-f", many, "-r", "--data-dir", data))!)
        {
            var stderr = put.StandardError.ReadToEndAsync();
            var deadline = Stopwatch.StartNew();
            while (await UnfinishedFilesAsync(data) < 50)
            {
                if (put.HasExited)
                {
                    Assert.Fail($"the put finished (exit {put.ExitCode}) before it could be interrupted: {await stderr}");
                }
                Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(2), "the put never started writing files");
                await Task.Delay(10);
            }
            Assert.Equal(0, Signals.Send(put.Id, Signals.Interrupt));
            await put.WaitForExitAsync();
            Assert.Equal(130, put.ExitCode);
            Assert.Contains("interrupted", await stderr, StringComparison.Ordinal);
        }

        Assert.Equal(0, await CountAsync(data, "SELECT count(*) FROM commits"));
        Assert.Equal(0, await CountAsync(data, "SELECT count(*) FROM files"));
        Assert.Equal(1, ReelProcess.Run("log", "videos", "--data-dir", data).ExitCode);
    }

    public void Dispose() => Directory.Delete(_work, recursive: true);

    /// <summary>No object sits under a final name with content that is not exactly what the name promises.</summary>
    private static void AssertEveryObjectMatchesItsName(string data)
    {
        foreach (var shard in Directory.EnumerateDirectories(Path.Combine(data, "objects")).Where(d => Path.GetFileName(d).Length == 2))
        {
            foreach (var file in Directory.EnumerateFiles(shard))
            {
                using var content = File.OpenRead(file);
                Assert.Equal(Path.GetFileName(shard) + Path.GetFileName(file), Convert.ToHexStringLower(SHA256.HashData(content)));
            }
        }
    }

    private static string Ok(string data, params string[] arguments)
    {
        var (exit, stdout, stderr) = ReelProcess.Run([.. arguments, "--data-dir", data]);
        Assert.True(exit == 0, $"reel {string.Join(' ', arguments)} exited {exit}: {stderr}");
        return stdout;
    }

    private static async Task<long> UnfinishedFilesAsync(string data) =>
        File.Exists(Path.Combine(data, "reel.db"))
            ? await CountAsync(data, "SELECT count(*) FROM files f JOIN commits c ON c.id = f.commit_id WHERE c.finished IS NULL")
            : 0;

    private static async Task<long> CountAsync(string data, string sql)
    {
        await using var db = new SqliteConnection($"Data Source={Path.Combine(data, "reel.db")};Pooling=False");
        await db.OpenAsync();
        await using var command = db.CreateCommand();
        command.CommandText = sql;
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
