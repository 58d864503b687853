using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Reel.Media.Imaging;

/// <summary>
/// Expands limited-range video samples (luma 16-235, chroma 16-240) to the full 0-255 range JPEG expects.
/// SIMD and scalar paths compute the same rounding, so output never depends on the machine.
/// </summary>
internal static class VideoRange
{
    // 255/219 - 1 and 255/224 - 1 in Q15, applied as a + round(a * k / 2^15).
    private const short LumaGain = 5387;
    private const short ChromaGain = 4535;

    public static void ExpandLuma(ReadOnlySpan<byte> source, Span<byte> destination) => Expand(source, destination, 16, LumaGain, 0);

    public static void ExpandChroma(ReadOnlySpan<byte> source, Span<byte> destination) => Expand(source, destination, 128, ChromaGain, 128);

    private static void Expand(ReadOnlySpan<byte> source, Span<byte> destination, short offset, short gain, short bias)
    {
        var i = 0;
        if (Avx2.IsSupported && source.Length >= 32)
        {
            var off = Vector256.Create(offset);
            var k = Vector256.Create(gain);
            var b = Vector256.Create(bias);
            for (; i + 32 <= source.Length; i += 32)
            {
                var v = Vector256.Create(source.Slice(i, 32));
                var lo = Avx2.ConvertToVector256Int16(v.GetLower()) - off;
                var hi = Avx2.ConvertToVector256Int16(v.GetUpper()) - off;
                lo = lo + Avx2.MultiplyHighRoundScale(lo, k) + b;
                hi = hi + Avx2.MultiplyHighRoundScale(hi, k) + b;
                var packed = Avx2.PackUnsignedSaturate(lo, hi);
                Avx2.Permute4x64(packed.AsInt64(), 0b11_01_10_00).AsByte().CopyTo(destination.Slice(i, 32));
            }
        }
        for (; i < source.Length; i++)
        {
            var a = source[i] - offset;
            var value = a + (((a * gain) + 16384) >> 15) + bias;
            destination[i] = (byte)Math.Clamp(value, 0, 255);
        }
    }
}
