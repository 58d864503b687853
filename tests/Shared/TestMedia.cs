using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Reel.Testing;

/// <summary>The repository's fixtures, media the tests generate with ffmpeg, and ffmpeg/ffprobe themselves.</summary>
internal static class TestMedia
{
    private static readonly Lazy<string> Root = new(FindRoot);
    private static readonly string Generated = Directory.CreateTempSubdirectory("reel-test-media-").FullName;

    /// <summary>Holds every <see cref="TempDirectory"/> of this test process, so that they all go when it ends.</summary>
    private static readonly string Scratch = Directory.CreateTempSubdirectory("reel-test-").FullName;
    private static readonly Dictionary<string, Lazy<string>> Made = [];
    private static int _directories;

    static TestMedia() => AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        foreach (var directory in new[] { Generated, Scratch })
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Best effort: a file still open somewhere keeps its directory; the rest is gone.
            }
        }
    };

    public static string RepositoryRoot => Root.Value;

    /// <summary>A file of the repository's <c>fixtures/</c> folder.</summary>
    public static string Fixture(string name)
    {
        var path = Path.GetFullPath(Path.Combine(RepositoryRoot, "fixtures", name));
        Assert.True(File.Exists(path), $"fixture {path} is missing");
        return path;
    }

    /// <summary>A video made once per test run by <c>ffmpeg -y ARGS OUT</c>, e.g. from lavfi testsrc2.</summary>
    public static string Generate(string name, string ffmpegArguments)
    {
        Lazy<string> made;
        lock (Made)
        {
            if (!Made.TryGetValue(name, out made!))
            {
                made = new Lazy<string>(() =>
                {
                    var path = Path.Combine(Generated, name);
                    Ffmpeg($"-v error -y {ffmpegArguments} \"{path}\"");
                    return path;
                });
                Made[name] = made;
            }
        }
        return made.Value;
    }

    /// <summary>A fresh empty directory, removed at the end of the test run.</summary>
    public static string TempDirectory() =>
        Directory.CreateDirectory(Path.Combine(Scratch, Interlocked.Increment(ref _directories).ToString(CultureInfo.InvariantCulture))).FullName;

    public static string Ffmpeg(string arguments) => Run("ffmpeg", arguments).StdOut;

    public static string Ffprobe(string arguments) => Run("ffprobe", arguments).StdOut;

    /// <summary>Frame count as <c>ffprobe -count_frames</c> reports it.</summary>
    public static int CountFrames(string video) => int.Parse(
        FirstField(Ffprobe($"-v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames -of csv=p=0 \"{video}\"")),
        CultureInfo.InvariantCulture);

    /// <summary>MD5 of every decoded frame as ffmpeg outputs it, optionally through a filter.</summary>
    public static IReadOnlyList<string> FrameHashes(string video, string? filter = null)
    {
        var vf = filter is null ? "" : $"-vf {filter}";
        return Ffmpeg($"-v error -i \"{video}\" -an {vf} -pix_fmt yuv420p -f framemd5 -")
            .Split('\n')
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.Split(',')[^1].Trim())
            .ToList();
    }

    /// <summary>PSNR (dB, average over R, G, B) between two images or videos, both read through ffmpeg as rgb24.</summary>
    public static double Psnr(string a, string b, string? bFilter = null)
    {
        // Frames pair up by position, whatever their timestamps.
        const string Renumber = "settb=1/25,setpts=N,format=rgb24";
        var second = bFilter is null ? $"[1:v]{Renumber}[b]" : $"[1:v]{bFilter},{Renumber}[b]";
        var output = Run("ffmpeg", $"-v info -nostats -i \"{a}\" -i \"{b}\" -lavfi \"[0:v]{Renumber}[a];{second};[a][b]psnr\" -f null -").StdErr;
        var line = output.Split('\n').Last(l => l.Contains("PSNR", StringComparison.Ordinal));
        var average = line[(line.IndexOf("average:", StringComparison.Ordinal) + 8)..].Split(' ')[0];
        return average == "inf" ? double.PositiveInfinity : double.Parse(average, CultureInfo.InvariantCulture);
    }

    /// <summary>Width and height of an image or video's first video stream.</summary>
    public static (int Width, int Height) Dimensions(string file)
    {
        var parts = Ffprobe($"-v error -select_streams v:0 -show_entries stream=width,height -of csv=p=0 \"{file}\"").Split('\n')[0].Trim().Split(',');
        return (int.Parse(parts[0], CultureInfo.InvariantCulture), int.Parse(parts[1], CultureInfo.InvariantCulture));
    }

    /// <summary>One value per line of ffprobe's csv output: the first field of each line (side data may follow it).</summary>
    public static IReadOnlyList<string> Lines(string csv) =>
        csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(l => l.Split(',')[0]).ToList();

    private static string FirstField(string csv) => Lines(csv)[0];

    /// <param name="limit">How long the program may run before it is killed (default 5 minutes): a bound, not a speed check.</param>
    public static (int ExitCode, string StdOut, string StdErr) Run(string program, string arguments, bool check = true, TimeSpan? limit = null)
    {
        var bound = limit ?? TimeSpan.FromMinutes(5);
        var start = new ProcessStartInfo(program, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
        };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(bound))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} {arguments} did not finish in {bound.TotalMinutes:0} minutes");
        }
        var result = (process.ExitCode, stdout.Result, stderr.Result);
        if (check && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {arguments} failed ({process.ExitCode}): {result.Item3}");
        }
        return result;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Reel.slnx")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("cannot find the repository root (Reel.slnx) above " + AppContext.BaseDirectory);
    }
}
