using Reel.Testing;

namespace Reel.Cli.Tests;

/// <summary>
/// Damaged copies of real media, made from a seed so any case can be made again: bytes flipped at random offsets,
/// the file cut short, or a piece of one file spliced into another.
/// </summary>
internal static class FuzzedMedia
{
    /// <summary>Small real files of every kind Reel reads: H.264/AAC in MP4, Theora/Vorbis in Ogg, a JPEG photo.</summary>
    public static IReadOnlyList<string> Bases() =>
    [
        TestMedia.Generate("fuzz-base.mp4", $"-i \"{TestMedia.Fixture("samsungfun.mp4")}\" -t 2 -vf scale=320:-2 -c:v libx264 -g 15 -bf 2 -c:a aac -b:a 64k"),
        TestMedia.Fixture("small.ogv"),
        TestMedia.Generate("fuzz-base.jpg", $"-i \"{TestMedia.Fixture("team.jpg")}\" -vf scale=480:-2 -q:v 4"),
    ];

    /// <summary>Writes cases <paramref name="first"/> to <paramref name="first"/> + count - 1 of the seed's sequence into a folder.</summary>
    public static IReadOnlyList<string> Write(string folder, int seed, int first, int count, IReadOnlyList<string> bases)
    {
        var originals = bases.Select(File.ReadAllBytes).ToList();
        var written = new List<string>();
        for (var n = first; n < first + count; n++)
        {
            var (bytes, how) = Make(seed, n, originals);
            var extension = Path.GetExtension(bases[n % bases.Count]);
            var path = Path.Combine(folder, $"case{n:D5}-{how}{extension}");
            File.WriteAllBytes(path, bytes);
            written.Add(path);
        }
        return written;
    }

    private static (byte[] Bytes, string How) Make(int seed, int n, IReadOnlyList<byte[]> originals)
    {
        // One generator per case: case n is the same whatever range it is made in.
        var random = new Random(HashCode.Combine(seed, n));
        var original = originals[n % originals.Count];
        switch (random.Next(3))
        {
            case 0:
            {
                var bytes = (byte[])original.Clone();
                var flips = 1 + random.Next(32);
                for (var i = 0; i < flips; i++)
                {
                    bytes[random.Next(bytes.Length)] ^= (byte)(1 + random.Next(255));
                }
                return (bytes, $"flip{flips}");
            }
            case 1:
            {
                var length = random.Next(original.Length);
                return (original[..length], $"cut{length}");
            }
            default:
            {
                // A piece of any base (itself included) pasted over a random place, or inserted there.
                var donor = originals[random.Next(originals.Count)];
                var start = random.Next(donor.Length);
                var piece = donor.AsSpan(start, Math.Min(donor.Length - start, 1 + random.Next(64 * 1024)));
                var at = random.Next(original.Length);
                var insert = random.Next(2) == 0;
                byte[] bytes = insert
                    ? [.. original.AsSpan(0, at), .. piece, .. original.AsSpan(at)]
                    : original.ToArray();
                if (!insert)
                {
                    piece[..Math.Min(piece.Length, bytes.Length - at)].CopyTo(bytes.AsSpan(at));
                }
                return (bytes, $"splice{at}");
            }
        }
    }
}
