using Reel.Media.Sampling;
using Reel.Pipelines.Specs;
using Reel.Testing;

namespace Reel.Pipelines.Tests;

public sealed class SpecReaderTests
{
    [Fact]
    public void PachydermDemoSpec_ReadsAsIs_AndReportsTheImageAsIgnored()
    {
        var spec = SpecReader.ReadFile(TestMedia.Fixture("pachyderm-frames.json"));

        Assert.Equal("frames", spec.Name);
        var input = Assert.IsType<RepoInput>(spec.Input);
        Assert.Equal(new RepoInput("videos", "videos", "master", "/*"), input);
        Assert.Equal(["python", "extract_frames.py", "--input", "/pfs/videos", "--output-dir", "/pfs/out", "--threaded"], spec.Transform.Cmd);
        Assert.Equal(Path.GetDirectoryName(TestMedia.Fixture("pachyderm-frames.json")), spec.Transform.WorkingDirectory);
        Assert.Equal(["transform.image"], spec.Ignored);
        Assert.Equal(3, spec.DatumTries);
    }

    [Fact]
    public void YamlSpec_WithStepsCrossAndLimits_ReadsEveryField()
    {
        var spec = SpecReader.Parse("""
            pipeline:
              name: faces
            description: faces in frames
            input:
              cross:
                - pfs: {repo: videos, branch: dev, glob: "/*.mp4"}
                - pfs: {repo: models, glob: "/", name: m}
            transform:
              steps:
                - extract: {fps: 30000/1001, width: 640}
            parallelism_spec: {constant: 4}
            datumTries: 5
            datum_timeout: 1m30s
            job_timeout: 2h
            """, "faces.yaml", "/specs");

        Assert.Equal("faces", spec.Name);
        var cross = Assert.IsType<CrossInput>(spec.Input);
        Assert.Equal(new RepoInput("videos", "videos", "dev", "/*.mp4"), cross.Inputs[0]);
        Assert.Equal(new RepoInput("m", "models", "master", "/"), cross.Inputs[1]);
        var extract = Assert.IsType<ExtractStep>(Assert.Single(spec.Transform.Steps));
        Assert.Equal(SamplingMode.Fps, extract.Sampling.Mode);
        Assert.Equal(new Reel.Media.Rational(30000, 1001), extract.Sampling.Fps);
        Assert.Equal(640, extract.Width);
        Assert.Equal(4, spec.Parallelism);
        Assert.Equal(5, spec.DatumTries);
        Assert.Equal(TimeSpan.FromSeconds(90), spec.DatumTimeout);
        Assert.Equal(TimeSpan.FromHours(2), spec.JobTimeout);
        Assert.Empty(spec.Ignored);
    }

    [Theory]
    [InlineData("""{"input": {"pfs": {"repo": "v", "glob": "/*"}}, "transform": {"cmd": ["true"]}}""", "s.json: pipeline.name is required")]
    [InlineData("""{"pipeline": {"name": "p"}, "transform": {"cmd": ["true"]}}""", "s.json: input is required")]
    [InlineData("""{"pipeline": {"name": "p"}, "input": {"pfs": {"glob": "/*"}}, "transform": {"cmd": ["true"]}}""", "s.json: input.pfs.repo is required")]
    [InlineData("""{"pipeline": {"name": "p"}, "input": {"pfs": {"repo": "v", "glob": "/*"}}, "transform": {}}""", "s.json: transform.cmd or transform.steps is required (one of them, not both)")]
    [InlineData("""{"pipeline": {"name": "p"}, "input": {"pfs": {"repo": "p", "glob": "/*"}}, "transform": {"cmd": ["true"]}}""", "s.json: input reads repo 'p', the pipeline's own output")]
    [InlineData("""{"pipeline": {"name": "p"}, "input": {"pfs": {"repo": "v", "glob": "/*"}}, "transform": {"cmd": ["true"]}, "datum_tries": 0}""", "s.json: datum_tries must be a whole number of at least 1, not '0'")]
    [InlineData("""{"pipeline": {"name": "p"}, "input": {"pfs": {"repo": "v", "glob": "/*"}}, "transform": {"cmd": ["true"]}, "job_timeout": "soon"}""", "s.json: job_timeout must be a duration such as 30s, 10m or 1h30m, not 'soon'")]
    [InlineData("""{"pipeline": {"name": "p"}, "input": {"pfs": {"repo": "v", "glob": "/*"}}, "transform": {"steps": [{"blur": {}}]}}""", "s.json: transform.steps[0].blur is not a step; the steps are extract, analyze and render")]
    [InlineData("""{"pipeline": {"name": "p"}, "input": {"pfs": {"repo": "v", "glob": "/*"}}, "transform": {"steps": [{"extract": {"fps": "fast"}}]}}""", "s.json: transform.steps[0].extract.fps must be a positive rate such as 1, 0.5 or 30000/1001, not 'fast'")]
    [InlineData("""{"pipeline": {"name": "p"}, "input": {"pfs": {"repo": "v", "glob": "/*"}}, "transform": {"steps": [{"analyze": {"models": ["hats"]}}]}}""", "s.json: transform.steps[0].analyze: unknown model 'hats'; the models are faces, objects, emotions, colors, motion, scenes")]
    [InlineData("""{"pipeline": {"name": "p"}, "input": {"pfs": {"repo": "v", "glob": "/*"}}, "transform": {"steps": [{"extract": {"fsp": 1}}]}}""", "unknown step option transform.steps[0].extract.fsp")]
    [InlineData("""{"pipeline": {"name": "p",""", "s.json: not valid JSON")]
    public void BadSpec_IsRefusedWithAReasonNamingTheField(string text, string expected)
    {
        var error = Assert.Throws<SpecException>(() => SpecReader.Parse(text, "s.json", "/"));
        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
    }
    [Fact]
    public async Task AnalyzeStep_ColorsAndTimings_GiveThatManyColorsAndEachModelsTime_OnlyWhenAskedFor()
    {
        var work = TestMedia.TempDirectory();
        try
        {
            async Task<List<Operators.FrameResult>> RunAsync(string options, string output)
            {
                var spec = SpecReader.Parse(
                    $$$"""{"pipeline": {"name": "p"}, "input": {"pfs": {"repo": "v", "glob": "/*"}}, "transform": {"steps": [{"analyze": {{{options}}}}]}}""", "s.json", ".");
                var step = Assert.IsType<AnalyzeStep>(Assert.Single(spec.Transform.Steps));
                await step.RunAsync([TestMedia.Fixture("small.ogv")], output, 2, (Action<string>?)null, CancellationToken.None);
                return File.ReadLines(Path.Combine(output, "small.ogv", "results.jsonl"))
                    .Select(l => System.Text.Json.JsonSerializer.Deserialize<Operators.FrameResult>(l)!).ToList();
            }

            var seed = await RunAsync("""{"models": ["colors"], "every": 30, "colors": 3, "timings": true}""", Path.Combine(work, "seed"));
            Assert.Equal(3, seed.Count);
            Assert.All(seed, r => Assert.Equal(3, r.Colors!.Count));
            Assert.All(seed, r => Assert.True(r.InferenceMs > 0));

            var plain = await RunAsync("""{"models": ["colors"], "every": 30}""", Path.Combine(work, "plain"));
            Assert.All(plain, r => Assert.Equal(5, r.Colors!.Count));
            // Outputs are stored by content: without timings: true, two runs give the same bytes.
            Assert.All(plain, r => Assert.Null(r.InferenceMs));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
