using Reel.Data;

namespace Reel.Data.Tests;

public class GlobTests
{
    [Theory]
    [InlineData("/*", "/a.mp4", true)]
    [InlineData("/*", "/dir/a.mp4", false)]
    [InlineData("*.mp4", "/a.mp4", true)]
    [InlineData("/*.mp4", "/a.mkv", false)]
    [InlineData("/clip?.mp4", "/clip1.mp4", true)]
    [InlineData("/clip?.mp4", "/clip10.mp4", false)]
    [InlineData("/clip?.mp4", "/clip/.mp4", false)]
    [InlineData("/**", "/a/b/c.jpg", true)]
    [InlineData("/**/*.jpg", "/c.jpg", true)]
    [InlineData("/**/*.jpg", "/a/b/c.jpg", true)]
    [InlineData("/**/*.jpg", "/a/b/c.png", false)]
    [InlineData("/a/**/x", "/a/x", true)]
    [InlineData("/a/**/x", "/a/1/2/x", true)]
    [InlineData("/a/**/x", "/b/1/x", false)]
    [InlineData("/a/*/x", "/a/1/2/x", false)]
    [InlineData("/f[1].txt", "/f[1].txt", true)]
    [InlineData("/f.txt", "/fxtxt", false)]
    public void IsMatch_Pattern_MatchesAsPachydermGlobsDo(string pattern, string path, bool expected)
    {
        Assert.Equal(expected, Glob.Parse(pattern).IsMatch(path));
    }
}
