namespace Reel.Operators.Filters;

/// <summary>Filters as the command line names them: <c>blur-faces</c>, <c>pixelate-faces</c>, <c>boxes</c>, <c>overlay=A.png[,B.png...]</c>.</summary>
public static class FilterSpec
{
    public static IReadOnlyList<string> Known { get; } = ["blur-faces", "pixelate-faces", "boxes", "overlay=PNG[,PNG...]"];

    /// <exception cref="ArgumentException">The spec names no known filter, or an overlay image is missing or unreadable.</exception>
    public static IFrameFilter Parse(string spec)
    {
        var text = spec.Trim();
        var equals = text.IndexOf('=', StringComparison.Ordinal);
        var name = (equals < 0 ? text : text[..equals]).Trim().ToLowerInvariant();
        var argument = equals < 0 ? null : text[(equals + 1)..].Trim();
        switch (name)
        {
            case "blur-faces" or "pixelate-faces" or "boxes" when argument is not null:
                throw new ArgumentException($"filter '{name}' takes no value: '{spec}'");
            case "blur-faces":
                return new BlurFacesFilter();
            case "pixelate-faces":
                return new BlurFacesFilter(new BlurFacesOptions { Style = BlurStyle.Pixelate });
            case "boxes":
                return new BoxesFilter();
            case "overlay":
                var images = (argument ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (images.Length == 0)
                {
                    throw new ArgumentException("filter 'overlay' needs one or more PNG files: overlay=glasses.png[,other.png...]");
                }
                return new OverlayFilter(new OverlayOptions { Images = images });
            default:
                throw new ArgumentException($"unknown filter '{spec}'; known filters: {string.Join(", ", Known)}");
        }
    }
}
