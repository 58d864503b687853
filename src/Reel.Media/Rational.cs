using System.Globalization;

namespace Reel.Media;

/// <summary>An exact fraction, as FFmpeg uses for time bases and frame rates.</summary>
public readonly record struct Rational(long Numerator, long Denominator)
{
    public double Value => Denominator == 0 ? double.NaN : (double)Numerator / Denominator;

    public override string ToString() => Denominator == 1 ? Numerator.ToString(CultureInfo.InvariantCulture) : $"{Numerator}/{Denominator}";

    /// <summary>Parses "30", "2.5" or "30000/1001" exactly; returns false for anything else.</summary>
    public static bool TryParse(string text, out Rational value)
    {
        value = default;
        text = text.Trim();
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            if (!long.TryParse(text.AsSpan(0, slash), NumberStyles.Integer, CultureInfo.InvariantCulture, out var num)
                || !long.TryParse(text.AsSpan(slash + 1), NumberStyles.Integer, CultureInfo.InvariantCulture, out var den) || den == 0)
            {
                return false;
            }
            value = Reduce(num, den);
            return true;
        }
        if (!decimal.TryParse(text, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var d))
        {
            return false;
        }
        long scale = 1;
        while (d != decimal.Truncate(d) && scale < 1_000_000_000)
        {
            d *= 10;
            scale *= 10;
        }
        value = Reduce((long)d, scale);
        return true;
    }

    private static Rational Reduce(long num, long den)
    {
        if (den < 0)
        {
            num = -num;
            den = -den;
        }
        var g = (long)System.Numerics.BigInteger.GreatestCommonDivisor(num, den);
        return g > 1 ? new Rational(num / g, den / g) : new Rational(num, den);
    }
}
