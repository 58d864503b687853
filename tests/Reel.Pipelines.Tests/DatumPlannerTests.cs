using Reel.Data;
using Reel.Pipelines.Datums;
using Reel.Pipelines.Execution;
using Reel.Pipelines.Specs;

namespace Reel.Pipelines.Tests;

public sealed class DatumPlannerTests
{
    private static readonly IReadOnlyList<FileEntry> Videos =
    [
        new("/a.mp4", "h1", 1), new("/b.mp4", "h2", 2), new("/clips/c.mp4", "h3", 3), new("/clips/d.ogv", "h4", 4),
    ];

    private static IReadOnlyDictionary<string, IReadOnlyList<FileEntry>> Files(params (string Input, IReadOnlyList<FileEntry> Files)[] inputs) =>
        inputs.ToDictionary(i => i.Input, i => i.Files);

    [Fact]
    public void TopLevelGlob_MakesOneDatumPerFileOrDirectory_HoldingEverythingUnderIt()
    {
        var datums = DatumPlanner.Plan(new RepoInput("videos", "videos", "master", "/*"), Files(("videos", Videos)));

        Assert.Equal(
            [["/a.mp4"], ["/b.mp4"], ["/clips/c.mp4", "/clips/d.ogv"]],
            datums.Select(d => d.Files.Select(f => f.Path).ToArray()));
    }

    [Fact]
    public void RootGlob_MakesOneDatum_AndDeepGlobMatchesFilesAtAnyDepth()
    {
        Assert.Single(DatumPlanner.Plan(new RepoInput("v", "videos", "master", "/"), Files(("v", Videos))));
        var mp4 = DatumPlanner.Plan(new RepoInput("v", "videos", "master", "/**.mp4"), Files(("v", Videos)));
        Assert.Equal(["/a.mp4", "/b.mp4", "/clips/c.mp4"], mp4.Select(d => Assert.Single(d.Files).Path));
    }

    [Fact]
    public void Cross_CombinesEveryPair_UnionListsBoth()
    {
        var models = new List<FileEntry> { new("/m1.onnx", "m1", 1), new("/m2.onnx", "m2", 1) };
        var videos = new RepoInput("videos", "videos", "master", "/*.mp4");
        var model = new RepoInput("models", "models", "master", "/*");

        var cross = DatumPlanner.Plan(new CrossInput([videos, model]), Files(("videos", Videos), ("models", models)));
        Assert.Equal(4, cross.Count);
        Assert.All(cross, d => Assert.Equal(["models", "videos"], d.Files.Select(f => f.Input)));

        var union = DatumPlanner.Plan(new UnionInput([videos, model]), Files(("videos", Videos), ("models", models)));
        Assert.Equal(4, union.Count);
    }

    [Fact]
    public void DatumId_DependsOnPathsAndContent_NotOnOtherFiles()
    {
        var input = new RepoInput("videos", "videos", "master", "/*");
        var before = DatumPlanner.Plan(input, Files(("videos", Videos))).ToDictionary(d => d.Files[0].Path, d => d.Id);
        var changed = Videos.Select(f => f.Path == "/b.mp4" ? f with { Hash = "h2-new" } : f).Append(new FileEntry("/e.mp4", "h5", 5)).ToList();
        var after = DatumPlanner.Plan(input, Files(("videos", changed))).ToDictionary(d => d.Files[0].Path, d => d.Id);

        Assert.Equal(before["/a.mp4"], after["/a.mp4"]);
        Assert.Equal(before["/clips/c.mp4"], after["/clips/c.mp4"]);
        Assert.NotEqual(before["/b.mp4"], after["/b.mp4"]);
        Assert.Equal(64, after["/e.mp4"].Length);
    }

    [Theory]
    [InlineData("/pfs/videos", "/scratch/7/pfs/videos")]
    [InlineData("--output-dir=/pfs/out", "--output-dir=/scratch/7/pfs/out")]
    [InlineData("cp /pfs/in/a '/pfs/out/b'", "cp /scratch/7/pfs/in/a '/scratch/7/pfs/out/b'")]
    [InlineData("/pfs", "/scratch/7/pfs")]
    [InlineData("/data/pfs/videos", "/data/pfs/videos")]
    [InlineData("/pfsx", "/pfsx")]
    public void PachydermPaths_MapToTheDatumsDirectories_OnlyWhereTheyStartAPath(string text, string expected) =>
        Assert.Equal(expected, DatumRunner.MapPfs(text, "/scratch/7/pfs"));
}
