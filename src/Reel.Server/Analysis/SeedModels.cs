namespace Reel.Server.Analysis;

/// <summary>The analysis API's model names (the seed system's) and the Reel models behind them.</summary>
public static class SeedModels
{
    private static readonly Dictionary<string, string> ToReel = new(StringComparer.Ordinal)
    {
        ["color_detection"] = "colors",
        ["emotions_detection"] = "emotions",
        ["objects_detection"] = "objects",
        ["faces_detection"] = "faces",
    };

    public static IReadOnlyCollection<string> Names => ToReel.Keys;

    public static bool TryGetReelModel(string seedName, out string reelModel) => ToReel.TryGetValue(seedName, out reelModel!);

    public static string SeedName(string reelModel) => ToReel.First(p => p.Value == reelModel).Key;
}
