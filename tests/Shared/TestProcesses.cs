using System.Globalization;

namespace Reel.Testing;

/// <summary>Processes as Linux's /proc shows them: whether one still runs, and what a process started.</summary>
internal static class TestProcesses
{
    /// <summary>Whether <paramref name="pid"/> exists and is not a zombie waiting to be reaped.</summary>
    public static bool IsAlive(int pid) => Stat(pid) is { } stat && stat.State != 'Z';

    /// <summary>Every process below <paramref name="pid"/>: its children, their children, and so on.</summary>
    public static IReadOnlyList<int> Descendants(int pid)
    {
        var parents = new Dictionary<int, int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var id) && Stat(id) is { } stat)
            {
                parents[id] = stat.Parent;
            }
        }
        var found = new List<int>();
        var frontier = new Queue<int>([pid]);
        while (frontier.TryDequeue(out var parent))
        {
            foreach (var (child, _) in parents.Where(p => p.Value == parent))
            {
                found.Add(child);
                frontier.Enqueue(child);
            }
        }
        return found;
    }

    /// <summary>The command line of a process (arguments joined by spaces), or "" when it is gone.</summary>
    public static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim();
        }
        catch (IOException)
        {
            return "";
        }
    }

    private static (char State, int Parent)? Stat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        return (fields[0][0], int.Parse(fields[1], CultureInfo.InvariantCulture));
    }
}
