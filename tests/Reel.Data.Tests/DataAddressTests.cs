using Reel.Data;

namespace Reel.Data.Tests;

public class DataAddressTests
{
    [Theory]
    [InlineData("videos", "videos", "master", "/", false)]
    [InlineData("videos@dev", "videos", "dev", "/", false)]
    [InlineData("videos@dev:/a/b.mp4", "videos", "dev", "/a/b.mp4", true)]
    [InlineData("videos:a//b/", "videos", "master", "/a/b", true)]
    [InlineData("videos@master:/", "videos", "master", "/", true)]
    [InlineData("my-repo_2.x@feature-1:./x", "my-repo_2.x", "feature-1", "/x", true)]
    public void Parse_ValidAddress_GivesRepoBranchAndNormalizedPath(string text, string repo, string branch, string path, bool hasPath)
    {
        var address = DataAddress.Parse(text);

        Assert.Equal(new DataAddress(repo, branch, path, hasPath), address);
    }

    [Theory]
    [InlineData("")]
    [InlineData("@master")]
    [InlineData("videos@")]
    [InlineData("videos@:/a")]
    [InlineData("vid eos")]
    [InlineData("-videos")]
    [InlineData("videos:")]
    [InlineData("videos:/a/../b")]
    [InlineData("videos@a@b")]
    public void Parse_MalformedAddress_ThrowsInvalid(string text)
    {
        var error = Assert.Throws<DataException>(() => DataAddress.Parse(text));

        Assert.Equal(DataErrorKind.Invalid, error.Kind);
        Assert.False(DataAddress.TryParse(text, out _));
    }
}
