namespace Reel.Media.Tests;

public class RationalTests
{
    [Theory]
    [InlineData("30", 30, 1)]
    [InlineData("2.5", 5, 2)]
    [InlineData("29.97", 2997, 100)]
    [InlineData("30000/1001", 30000, 1001)]
    [InlineData("0.5", 1, 2)]
    [InlineData("-1", -1, 1)]
    public void TryParse_ExactFractions(string text, long numerator, long denominator)
    {
        Assert.True(Rational.TryParse(text, out var value));
        Assert.Equal(new Rational(numerator, denominator), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("1/0")]
    [InlineData("1e3")]
    public void TryParse_Garbage_Fails(string text) => Assert.False(Rational.TryParse(text, out _));
}
