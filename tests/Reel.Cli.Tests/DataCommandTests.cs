using System.Security.Cryptography;
using System.Text.Json;
using Reel.Testing;

namespace Reel.Cli.Tests;

public sealed class DataCommandTests : IDisposable
{
    private readonly string _work = TestMedia.TempDirectory();

    private string DataDir => Path.Combine(_work, "data");

    [Fact]
    public void Data_PutLsGetGlobLogDiff_RoundTripsFilesAndHistory()
    {
        var one = WriteRandom("one.bin", 300_000);
        var tree = Path.Combine(_work, "tree");
        var a = WriteRandom("tree/a.jpg", 1000);
        var b = WriteRandom("tree/sub/b.jpg", 2000);
        WriteRandom("tree/sub/c.txt", 10);

        Ok("repo", "create", "videos");
        var first = Ok("put", "videos@master:/clips/one.bin", "-f", one).Trim();
        var second = Ok("put", "videos:/frames/", "-f", tree, "-r").Trim();

        using (var ls = JsonDocument.Parse(Ok("ls", "videos", "--json")))
        {
            Assert.Equal(
                [("/clips/", "dir"), ("/frames/", "dir")],
                ls.RootElement.EnumerateArray().Select(e => (e.GetProperty("path").GetString(), e.GetProperty("type").GetString())));
        }
        using (var ls = JsonDocument.Parse(Ok("ls", "videos@master:/frames/sub", "--json")))
        {
            Assert.Equal(["/frames/sub/b.jpg", "/frames/sub/c.txt"], ls.RootElement.EnumerateArray().Select(e => e.GetProperty("path").GetString()));
        }

        var got = Path.Combine(_work, "got.bin");
        Ok("get", "videos@master:/clips/one.bin", "-o", got);
        Assert.Equal(File.ReadAllBytes(one), File.ReadAllBytes(got));
        var gotTree = Path.Combine(_work, "got-tree");
        Ok("get", "videos:/frames", "-o", gotTree, "-r");
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(Path.Combine(gotTree, "a.jpg")));
        Assert.Equal(File.ReadAllBytes(b), File.ReadAllBytes(Path.Combine(gotTree, "sub", "b.jpg")));

        using (var glob = JsonDocument.Parse(Ok("glob", "videos:/**/*.jpg", "--json")))
        {
            Assert.Equal(["/frames/a.jpg", "/frames/sub/b.jpg"], glob.RootElement.EnumerateArray().Select(e => e.GetProperty("path").GetString()));
        }
        using (var log = JsonDocument.Parse(Ok("log", "videos@master", "--json")))
        {
            Assert.Equal([second, first], log.RootElement.EnumerateArray().Select(e => e.GetProperty("id").GetString()));
        }

        WriteRandom("tree/a.jpg", 1000);
        File.Delete(b);
        var third = Ok("put", "videos:/frames/", "-f", tree, "-r", "-m", "re-put").Trim();
        Assert.Equal(["+ /frames/a.jpg", "+ /frames/sub/b.jpg", "+ /frames/sub/c.txt"], ReelProcess.Lines(Ok("diff", first, second)));
        // A put adds and replaces; it does not delete what the directory no longer has.
        Assert.Equal(["M /frames/a.jpg"], ReelProcess.Lines(Ok("diff", second[..8], third)));
        Assert.Contains("re-put", Ok("log", "videos"), StringComparison.Ordinal);
    }

    [Fact]
    public void Repo_CreateListInspectDelete_RefusesToDropCommitsWithoutForce()
    {
        Ok("repo", "create", "videos");
        Ok("repo", "create", "empty");
        Ok("put", "videos", "-f", WriteRandom("a.bin", 100));

        using (var list = JsonDocument.Parse(Ok("repo", "list", "--json")))
        {
            Assert.Equal(
                [("empty", 0), ("videos", 1)],
                list.RootElement.EnumerateArray().Select(r => (r.GetProperty("name").GetString(), r.GetProperty("commits").GetInt32())));
        }
        Assert.Contains("Branch master:", Ok("repo", "inspect", "videos"), StringComparison.Ordinal);

        var (exit, _, stderr) = Reel("repo", "delete", "videos");
        Assert.Equal(1, exit);
        Assert.Single(ReelProcess.Lines(stderr), l => l.Contains("--force", StringComparison.Ordinal));
        Ok("repo", "delete", "empty");
        Ok("repo", "delete", "videos", "--force");
        Assert.Equal("[]", Ok("repo", "list", "--json").Trim());
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(DataDir, "objects"), "*", SearchOption.AllDirectories));
    }

    [Theory]
    [InlineData(1, "does not exist", "ls", "nope")]
    [InlineData(1, "branch 'dev'", "ls", "videos@dev")]
    [InlineData(1, "does not exist", "get", "videos:/missing.bin", "-o", "x")]
    [InlineData(1, "does not exist", "diff", "videos@master", "abcdef12")]
    [InlineData(1, "no such file", "put", "videos:/x", "-f", "missing-file")]
    [InlineData(1, "does not exist", "put", "nope:/x", "-f", "a.bin")]
    [InlineData(1, "already exists", "repo", "create", "videos")]
    [InlineData(2, "invalid address", "ls", "vid eos")]
    [InlineData(2, "invalid address", "put", "videos:/../x", "-f", "a.bin")]
    [InlineData(2, "add -r", "put", "videos:/d", "-f", ".")]
    [InlineData(2, "is a directory", "get", "videos:/", "-o", "x")]
    [InlineData(2, "not a commit id", "diff", "zz", "videos")]
    [InlineData(2, "has no pattern", "glob", "videos")]
    public void Data_BadRequest_OneLineExitCodeAndNothingChanges(int expectedExit, string reason, params string[] arguments)
    {
        Ok("repo", "create", "videos");
        var committed = Ok("put", "videos", "-f", WriteRandom("a.bin", 100)).Trim();
        var before = Ok("log", "videos", "--json");

        var (exit, stdout, stderr) = Reel(arguments);

        Assert.Equal(expectedExit, exit);
        var line = Assert.Single(ReelProcess.Lines(stderr));
        Assert.Contains(reason, line, StringComparison.Ordinal);
        Assert.StartsWith("reel ", line, StringComparison.Ordinal);
        Assert.Equal("", stdout);
        Assert.Equal(before, Ok("log", "videos", "--json"));
        Assert.Contains(committed, before, StringComparison.Ordinal);
    }

    [Fact]
    public void Get_DamagedObject_RefusedNamingThePathAndNothingWritten()
    {
        var file = WriteRandom("a.bin", 5000);
        Ok("repo", "create", "videos");
        Ok("put", "videos:/a.bin", "-f", file);
        var hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(file)));
        var stored = Path.Combine(DataDir, "objects", hash[..2], hash[2..]);
        var damaged = File.ReadAllBytes(file);
        damaged[100] ^= 1;
        File.WriteAllBytes(stored, damaged);

        var got = Path.Combine(_work, "got.bin");
        var (exit, _, stderr) = Reel("get", "videos:/a.bin", "-o", got);

        Assert.Equal(1, exit);
        var line = Assert.Single(ReelProcess.Lines(stderr));
        Assert.Contains($"/a.bin: object {hash}", line, StringComparison.Ordinal);
        Assert.Contains("is damaged", line, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFiles(_work, "got*"));
    }

    [Fact]
    public void DataDir_FromEnvironment_UsedWhenNoOption()
    {
        var start = ReelProcess.StartInfo("repo", "create", "videos");
        start.Environment["REEL_DATA_DIR"] = DataDir;
        using (var process = System.Diagnostics.Process.Start(start)!)
        {
            process.WaitForExit();
            Assert.Equal(0, process.ExitCode);
        }

        Assert.Contains("videos", Ok("repo", "list"), StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_work, recursive: true);

    private (int ExitCode, string StdOut, string StdErr) Reel(params string[] arguments)
    {
        var start = ReelProcess.StartInfo([.. arguments, "--data-dir", DataDir]);
        start.WorkingDirectory = _work;
        using var process = System.Diagnostics.Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(3)), "reel did not finish in 3 minutes");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private string Ok(params string[] arguments)
    {
        var (exit, stdout, stderr) = Reel(arguments);
        Assert.True(exit == 0, $"reel {string.Join(' ', arguments)} exited {exit}: {stderr}");
        Assert.Equal("", stderr);
        return stdout;
    }

    private string WriteRandom(string relative, int size)
    {
        var path = Path.Combine(_work, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, RandomNumberGenerator.GetBytes(size));
        return path;
    }
}
