using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;

namespace Reel.Cluster.Tests;

/// <summary>
/// A private network for cluster tests: a bridge with an address on a subnet that exists only inside the test
/// (10.231.X.0/24), and one network namespace per node joined to it by a veth pair, so every node is its own host with
/// its own IP. PostgreSQL and S3 listen on the bridge address (<see cref="HostAddress"/>). Cuts are routes
/// (<c>ip route add prohibit</c>) inside a node's namespace. Dispose removes every namespace, link and process it made;
/// <see cref="Create"/> first sweeps what crashed earlier runs left (names carry the prefix, and a marker file names the
/// owning process, so a lab of a run still alive is left alone). Needs root and <c>ip</c>.
/// </summary>
internal sealed class NetworkLab : IDisposable
{
    private const string Prefix = "rlt";
    private static readonly string Markers = Path.Combine(Path.GetTempPath(), "reel-netlab");

    private readonly string _id;
    private readonly int _subnet;
    private readonly List<string> _namespaces = [];
    private readonly List<string> _routes = [];

    private NetworkLab(string id, int subnet)
    {
        _id = id;
        _subnet = subnet;
    }

    /// <summary>The bridge's address: what nodes reach PostgreSQL and S3 at.</summary>
    public string HostAddress => Address(1);

    /// <summary>The subnet in CIDR form, for PostgreSQL's allowed clients.</summary>
    public string Subnet => $"10.231.{_subnet.ToString(CultureInfo.InvariantCulture)}.0/24";

    private string Bridge => $"{Prefix}b{_id}";

    private string Address(int host) => $"10.231.{_subnet.ToString(CultureInfo.InvariantCulture)}.{host.ToString(CultureInfo.InvariantCulture)}";

    public static NetworkLab Create()
    {
        Sweep();
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(3)).ToLowerInvariant();
        var lab = new NetworkLab(id, RandomNumberGenerator.GetInt32(1, 255));
        Directory.CreateDirectory(Markers);
        File.WriteAllText(Path.Combine(Markers, id), Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
        try
        {
            Ip("link", "add", lab.Bridge, "type", "bridge");
            Ip("addr", "add", lab.HostAddress + "/24", "dev", lab.Bridge);
            Ip("link", "set", lab.Bridge, "up");
            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Adds a node host: a namespace with address 10.231.X.(10+n) on the bridge; returns (namespace, address).</summary>
    public (string Namespace, string Address) AddHost()
    {
        var n = _namespaces.Count;
        var ns = $"{Prefix}n{_id}{n}";
        var outside = $"{Prefix}v{_id}{n}";
        var inside = $"{Prefix}p{_id}{n}";
        var address = Address(10 + n);
        Ip("netns", "add", ns);
        _namespaces.Add(ns);
        Ip("link", "add", outside, "type", "veth", "peer", "name", inside);
        Ip("link", "set", inside, "netns", ns);
        Ip("link", "set", outside, "master", Bridge);
        Ip("link", "set", outside, "up");
        Ip("netns", "exec", ns, "ip", "addr", "add", address + "/24", "dev", inside);
        Ip("netns", "exec", ns, "ip", "link", "set", inside, "up");
        Ip("netns", "exec", ns, "ip", "link", "set", "lo", "up");
        return (ns, address);
    }

    /// <summary>The namespace of the host with <paramref name="address"/>.</summary>
    public string NamespaceOf(string address) => _namespaces[int.Parse(address.Split('.')[3], CultureInfo.InvariantCulture) - 10];

    /// <summary>Cuts <paramref name="ns"/> off from <paramref name="others"/> (fast-failing routes); the bridge address stays reachable.</summary>
    public void Cut(string ns, IEnumerable<string> others)
    {
        foreach (var other in others)
        {
            Ip("netns", "exec", ns, "ip", "route", "add", "prohibit", other + "/32");
            _routes.Add($"{ns} {other}");
        }
    }

    /// <summary>Undoes every <see cref="Cut"/> of <paramref name="ns"/>.</summary>
    public void Heal(string ns)
    {
        foreach (var route in _routes.Where(r => r.StartsWith(ns + " ", StringComparison.Ordinal)).ToList())
        {
            Ip("netns", "exec", ns, "ip", "route", "del", "prohibit", route.Split(' ')[1] + "/32");
            _routes.Remove(route);
        }
    }

    public void Dispose()
    {
        foreach (var ns in _namespaces)
        {
            KillProcessesIn(ns);
            TryIp("netns", "del", ns);
        }
        // Deleting a namespace deletes the veth end inside it, and with it the outside end.
        TryIp("link", "del", Bridge);
        File.Delete(Path.Combine(Markers, _id));
    }

    /// <summary>Removes namespaces and links of labs whose owning process is gone.</summary>
    private static void Sweep()
    {
        if (!Directory.Exists(Markers))
        {
            return;
        }
        foreach (var marker in Directory.EnumerateFiles(Markers))
        {
            var id = Path.GetFileName(marker);
            if (int.TryParse(File.ReadAllText(marker), CultureInfo.InvariantCulture, out var owner) && Directory.Exists($"/proc/{owner}"))
            {
                continue;
            }
            foreach (var ns in Output("netns", "list").Split('\n').Select(l => l.Split(' ')[0].Trim()).Where(n => n.StartsWith($"{Prefix}n{id}", StringComparison.Ordinal)))
            {
                KillProcessesIn(ns);
                TryIp("netns", "del", ns);
            }
            TryIp("link", "del", $"{Prefix}b{id}");
            File.Delete(marker);
        }
    }

    private static void KillProcessesIn(string ns)
    {
        foreach (var pid in Output("netns", "pids", ns).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            try
            {
                Process.GetProcessById(int.Parse(pid, CultureInfo.InvariantCulture)).Kill(entireProcessTree: true);
            }
            catch (ArgumentException)
            {
                // Gone meanwhile.
            }
        }
    }

    private static void Ip(params string[] arguments)
    {
        var (code, output) = RunIp(arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"ip {string.Join(' ', arguments)} failed ({code}): {output}");
        }
    }

    private static void TryIp(params string[] arguments) => RunIp(arguments);

    private static string Output(params string[] arguments) => RunIp(arguments).Output;

    private static (int Code, string Output) RunIp(string[] arguments)
    {
        var start = new ProcessStartInfo("ip") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(20)))
        {
            process.Kill();
            return (-1, "timed out");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
